import Foundation
import LuaKit

/// What the engine gives the rules: time, logging and its state.
public struct RuleHost {
    public var now: () -> Int64
    /// Where the engine keeps `now`, when it does: rules then read the clock
    /// straight from it (no Swift call). Must outlive the runtime's calls.
    public var nowCell: UnsafePointer<Int64>?
    /// Pushes one field of the customer being evaluated (`traits`, `orders`,
    /// ...) the first time a rule reads it; nil pushes an empty table.
    public var customerField: ((String, LuaStack) -> Void)?
    /// Pushes one structured field of the event being evaluated
    /// (`properties`, `traits`, `context`, `order`) the first time a rule reads it.
    public var eventField: ((String, LuaStack) -> Void)?
    public var log: (String) -> Void
    public var listContains: (String, String) -> Bool
    /// (counter, key, window in ms or -1 for all) → occurrences
    public var count: (String, String, Int64) -> Int
    /// (counter, key, window in ms or -1) → distinct values
    public var distinct: (String, String, Int64) -> Int
    /// (customer id, event name, window in ms or -1) → events of that name,
    /// until when (ms) that count holds if the window can shrink it, and the
    /// input bit a segment reading it depends on
    public var customerCount: (String, String, Int64) -> (count: Int, holdsUntil: Int64?, input: UInt32)
    /// (customer id, n) → most recently viewed product ids
    public var recentlyViewed: (String, Int) -> [String]
    /// n → trending products, best first
    public var trending: (Int) -> [(sku: String, score: Double, views: Double, units: Double)] = { _ in [] }
    /// sku → the latest price of each competitor, cheapest first
    public var competitorPrices: (String) -> [(competitor: String, price: Double, at: Int64)] = { _ in [] }
    /// sku → what the shop's catalog says of the product, nil when unknown
    public var catalogProduct: (String) -> (name: String?, category: String?, brand: String?, price: Double?)? = { _ in nil }
    /// category → how many products the shop sells in it and their prices, nil when none
    public var catalogCategory: (String) -> (products: Int, averagePrice: Double?, minPrice: Double?, maxPrice: Double?)? = { _ in nil }
    /// (customer id, n) → recommended SKUs, best first
    public var recommend: (String, Int) -> [String] = { _, _ in [] }
    /// (from, to) → revenue and number of completed orders in that span
    public var sales: (Int64, Int64) -> (revenue: Double, orders: Int) = { _, _ in (0, 0) }

    public init(now: @escaping () -> Int64, log: @escaping (String) -> Void = { _ in },
                listContains: @escaping (String, String) -> Bool = { _, _ in false },
                count: @escaping (String, String, Int64) -> Int = { _, _, _ in 0 },
                distinct: @escaping (String, String, Int64) -> Int = { _, _, _ in 0 },
                customerCount: @escaping (String, String, Int64) -> (count: Int, holdsUntil: Int64?, input: UInt32) = { _, _, _ in (0, nil, 0) },
                recentlyViewed: @escaping (String, Int) -> [String] = { _, _ in [] }) {
        self.now = now
        self.log = log
        self.listContains = listContains
        self.count = count
        self.distinct = distinct
        self.customerCount = customerCount
        self.recentlyViewed = recentlyViewed
    }
}

/// A rule set loaded into one sandboxed Lua state: the prelude (the rule
/// language), every rule file's declarations, and the problems found.
///
/// A file that fails to compile or run contributes no declaration; the
/// others load. Like ``LuaState``, a runtime stays on the thread that made it.
public final class RuleRuntime {
    public let state: LuaState
    public private(set) var declarations: [RuleDeclaration] = []
    public private(set) var problems: [RuleProblem] = []
    /// Content hash of the rule and plugin sources.
    public let version: String
    /// The rule files loaded (path → source).
    public let sources: [String: String]

    let begin: LuaReference
    let setSegments: LuaReference
    let segmentCall: LuaReference
    let whenCall: LuaReference
    let keyCall: LuaReference
    let fraudCall: LuaReference
    let runCall: LuaReference
    let segmentsBatch: LuaReference
    let fraudBatch: LuaReference
    let branchCall: LuaReference
    let stepDataCall: LuaReference
    let inspectCall: LuaReference
    let scheduleCall: LuaReference

    /// Loads the prelude and every `*.lua` file under `rulesDirectory`
    /// (except `*_test.lua` scenario files), in path order. With
    /// `checksText` it also reads the files' text for `crescent check`'s
    /// warnings (``RuleSignatures``, counter, list and segment reads);
    /// declarations are validated either way.
    public init(rulesDirectory: String, pluginsDirectory: String?, limits: LuaLimits = .default, host: RuleHost,
                checksText: Bool = true) throws {
        let state = try LuaState(limits: limits, pluginDirectory: pluginsDirectory)
        self.state = state
        let prelude = try state.load(try RuleRuntime.preludeSource(), name: "crescent/prelude.lua")
        state.registerLocationFunction("where", in: prelude)
        state.registerClockFunction("host_clock", in: prelude)
        RuleRuntime.registerHost(host, in: prelude, state: state)
        _ = try state.call(prelude.function, [])
        for name in ["segment", "promotion", "fraud", "fraud_policy", "counter", "distinct_counter", "list",
                     "duration", "now", "log", "lists", "sentiment", "trending", "competitor_prices", "catalog",
                     "journey", "schedule", "messaging", "channel", "wait", "wait_until", "send", "notify", "coupon", "set_trait",
                     "tag", "untag", "exit", "branch"] {
            state.shareGlobal(name, from: prelude)
        }
        let entry = { (name: String) throws -> LuaReference in
            guard let function = state.function(name, in: prelude) else {
                throw LuaError(kind: .runtime, chunk: "crescent/prelude.lua", message: "missing \(name)")
            }
            return function
        }
        begin = try entry("host_begin")
        setSegments = try entry("host_set_segments")
        segmentCall = try entry("host_segment")
        whenCall = try entry("host_when")
        keyCall = try entry("host_key")
        fraudCall = try entry("host_fraud")
        runCall = try entry("host_run")
        segmentsBatch = try entry("host_segments")
        fraudBatch = try entry("host_fraud_all")
        branchCall = try entry("host_branch")
        stepDataCall = try entry("host_step_data")
        inspectCall = try entry("host_inspect")
        scheduleCall = try entry("host_schedule")
        let declarationsCall = try entry("host_declarations")
        let functionCall = try entry("host_function")
        let knownFieldsCall = try entry("host_known_fields")

        let files = RuleRuntime.ruleFiles(in: rulesDirectory)
        var sources: [String: String] = [:]
        var loadedCount = 0
        var accepted: [RuleDeclaration] = []
        for path in files {
            // Chunks are named from the rule folder down (`rules/fraud/velocity.lua`):
            // short enough for Lua's 60-character source names, and what authors see.
            let file = RuleRuntime.name(path, from: rulesDirectory)
            guard let data = FileManager.default.contents(atPath: path) else {
                problems.append(RuleProblem(.error, file: file, line: nil, "cannot read the file"))
                continue
            }
            sources[file] = String(decoding: data, as: UTF8.self)
            do {
                let chunk = try state.load(bytes: Array(data), name: file)
                _ = try state.call(chunk.function, [])
            } catch {
                problems.append(RuleProblem(.error, file: error.chunk ?? file, line: error.line, error.message))
            }
            let answer = try state.call(declarationsCall, [.integer(Int64(loadedCount))])
            if answer.count == 2, case .integer(let total) = answer[1] { loadedCount = Int(total) }
            // An empty Lua table reads back as an empty object, not an array.
            guard case .array(let fresh)? = answer.first else { continue }
            // A file that failed contributes nothing.
            if problems.last?.file == file && problems.last?.severity == .error { continue }
            for item in fresh {
                if let declaration = RuleRuntime.declaration(from: item) { accepted.append(declaration) }
            }
        }
        self.sources = sources
        var pluginSources: [String: String] = [:]
        if let pluginsDirectory {
            // Named from the plugin folder down, as rule files are: the version is the same
            // whether the server was started with `--plugins plugins` or with its absolute path.
            for path in RuleRuntime.ruleFiles(in: pluginsDirectory, includeTests: true) {
                pluginSources[RuleRuntime.name(path, from: pluginsDirectory)] = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            }
        }
        version = RuleRuntime.hash(sources.merging(pluginSources) { a, _ in a })
        declarations = RuleChecks.validate(accepted, problems: &problems)
        guard checksText else { return }
        let fields = (try? state.call(knownFieldsCall, [])) ?? []
        let known = fields.count == 2 ? RuleSignatures.KnownFields(customer: Self.strings(fields[0]), event: Self.strings(fields[1])) : nil
        RuleSignatures.check(declarations, sources: sources, known: known, problems: &problems) { handle in
            (try? state.call(functionCall, arguments: 1, results: 1, push: { $0.push(handle) },
                             read: { $0.signature(ofFunctionAt: -1) })) ?? nil
        }
        // The files' code without comments, read once for the three checks of names read by literal.
        let code = sources.mapValues { RuleChecks.codeLines($0) }
        RuleChecks.checkListReads(code: code, declarations: declarations, problems: &problems)
        RuleChecks.checkCounterReads(code: code, declarations: declarations, problems: &problems)
        RuleChecks.checkSegmentReads(code: code, declarations: declarations, problems: &problems)
    }

    /// The strings of a Lua list.
    private static func strings(_ value: LuaValue) -> Set<String> {
        guard case .array(let items) = value else { return [] }
        return Set(items.compactMap(\.stringValue))
    }

    /// The rule language: Prelude.lua, PreludeCustomer.lua, PreludeHost.lua,
    /// PreludeJourneys.lua and PreludeSentiment.lua, one chunk.
    static func preludeSource() throws -> String {
        var source = ""
        for name in ["Prelude", "PreludeCustomer", "PreludeHost", "PreludeJourneys", "PreludeSentiment"] {
            guard let url = Bundle.module.url(forResource: name, withExtension: "lua") else {
                throw LuaError(kind: .syntax, chunk: "crescent/prelude.lua", message: "\(name).lua is missing from the bundle")
            }
            source += try String(contentsOf: url, encoding: .utf8) + "\n"
        }
        return source
    }

    /// `*.lua` files under a folder, sorted, without `*_test.lua` unless asked.
    public static func ruleFiles(in directory: String, includeTests: Bool = false) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            guard relative.hasSuffix(".lua") else { continue }
            if !includeTests && relative.hasSuffix("_test.lua") { continue }
            files.append(directory == "." ? relative : (directory as NSString).appendingPathComponent(relative))
        }
        return files.sorted()
    }

    /// A file's name from its folder down (`rules/fraud/velocity.lua`),
    /// however the folder's path was spelled; the path itself when outside it.
    static func name(_ path: String, from directory: String) -> String {
        let base = (directory as NSString).standardizingPath
        let standardized = (path as NSString).standardizingPath
        guard standardized.hasPrefix(base + "/") else { return path }
        return (base as NSString).lastPathComponent + "/" + standardized.dropFirst(base.count + 1)
    }

    static func hash(_ sources: [String: String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (path, text) in sources.sorted(by: { $0.key < $1.key }) {
            for byte in path.utf8 + [0] + text.utf8 + [0] {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func declaration(from value: LuaValue) -> RuleDeclaration? {
        guard case .table(let t) = value,
              let kindText = t["kind"]?.stringValue, let kind = RuleKind(rawValue: kindText),
              let name = t["name"]?.stringValue else { return nil }
        var fields: [String: LuaValue] = [:]
        var functions: [String: Int64] = [:]
        if case .table(let raw)? = t["fields"] {
            for (key, item) in raw {
                guard let field = key.stringValue else { continue }
                if case .table(let inner) = item, case .integer(let handle)? = inner["__function"] {
                    functions[field] = handle
                } else {
                    fields[field] = item
                }
            }
        }
        let line: Int
        if case .integer(let l)? = t["line"] { line = Int(l) } else { line = 0 }
        return RuleDeclaration(kind: kind, name: name, file: t["file"]?.stringValue ?? "?", line: line,
                               fields: fields, functions: functions)
    }

    private static func registerHost(_ host: RuleHost, in prelude: LuaChunk, state: LuaState) {
        func text(_ value: LuaValue?) -> String { value?.stringValue ?? value?.display ?? "" }
        func integer(_ value: LuaValue?) -> Int64 {
            switch value {
            case .integer(let i)?: i
            case .number(let d)?: Int64(finite: d) ?? -1
            default: -1
            }
        }
        let eventField = host.eventField
        state.registerStackFunction("host_event_field", in: prelude) { stack in
            let name = stack.string(at: 1) ?? ""
            if let eventField { eventField(name, stack) } else { stack.pushNil() }
            return 1
        }
        let customerField = host.customerField
        state.registerStackFunction("host_customer_field", in: prelude) { stack in
            let name = stack.string(at: 1) ?? ""
            if let customerField { customerField(name, stack) } else { stack.pushTable() }
            return 1
        }
        if let cell = host.nowCell {
            state.registerCellReader("host_now", in: prelude, cell: cell)
            state.registerCellReader("host_now_exact", in: prelude, cell: cell, counted: false)
        } else {
            state.register("host_now", in: prelude) { _ in [.integer(host.now())] }
            state.register("host_now_exact", in: prelude) { _ in [.integer(host.now())] }
        }
        state.registerVolatileCounter("host_volatile_reads", in: prelude)
        state.register("host_log", in: prelude) { args in
            host.log(text(args.first))
            return []
        }
        // The lookups rules make on most events work on the stack (no LuaValue arrays).
        func text(_ stack: LuaStack, _ index: Int32) -> String {
            stack.string(at: index) ?? text(try? stack.value(at: index))
        }
        state.registerStackFunction("host_list_contains", in: prelude) { stack in
            stack.push(host.listContains(text(stack, 1), text(stack, 2)))
            return 1
        }
        state.registerStackFunction("host_count", in: prelude) { stack in
            stack.push(host.count(text(stack, 1), text(stack, 2), stack.integer(at: 3) ?? -1))
            return 1
        }
        state.registerStackFunction("host_distinct", in: prelude) { stack in
            stack.push(host.distinct(text(stack, 1), text(stack, 2), stack.integer(at: 3) ?? -1))
            return 1
        }
        state.registerStackFunction("host_customer_count", in: prelude) { stack in
            let counted = host.customerCount(text(stack, 1), text(stack, 2), stack.integer(at: 3) ?? -1)
            stack.push(counted.count)
            if let holds = counted.holdsUntil { stack.push(holds) } else { stack.pushNil() }
            stack.push(Int64(counted.input))
            return 3
        }
        state.register("host_sales", in: prelude) { args in
            let totals = host.sales(integer(args.first), integer(args.dropFirst().first))
            return [.number(totals.revenue), .integer(Int64(totals.orders))]
        }
        state.register("host_trending", in: prelude) { args in
            let n = max(0, min(100, Int(integer(args.first))))
            return [.array(host.trending(n).map { item in
                .table(["sku": .string(LuaString(item.sku)), "score": .number(item.score), "views": .number(item.views),
                        "units": .number(item.units)])
            })]
        }
        state.register("host_competitor_prices", in: prelude) { args in
            [.array(host.competitorPrices(text(args.first)).map { item in
                .table(["competitor": .string(LuaString(item.competitor)), "price": .number(item.price), "at": .integer(item.at)])
            })]
        }
        state.register("host_catalog_product", in: prelude) { args in
            let sku = text(args.first)
            guard let product = host.catalogProduct(sku) else { return [.nil] }
            var table: [LuaValue: LuaValue] = ["sku": .string(LuaString(sku))]
            if let name = product.name { table["name"] = .string(LuaString(name)) }
            if let category = product.category { table["category"] = .string(LuaString(category)) }
            if let brand = product.brand { table["brand"] = .string(LuaString(brand)) }
            if let price = product.price { table["price"] = .number(price) }
            return [.table(table)]
        }
        state.register("host_catalog_category", in: prelude) { args in
            guard let summary = host.catalogCategory(text(args.first)) else { return [.nil] }
            var table: [LuaValue: LuaValue] = ["products": .integer(Int64(summary.products))]
            if let average = summary.averagePrice { table["average_price"] = .number((average * 100).rounded() / 100) }
            if let low = summary.minPrice { table["min_price"] = .number(low) }
            if let high = summary.maxPrice { table["max_price"] = .number(high) }
            return [.table(table)]
        }
        state.register("host_recommend", in: prelude) { args in
            let n = max(0, min(100, Int(integer(args.dropFirst().first))))
            return [.array(host.recommend(text(args.first), n).map { .string(LuaString($0)) })]
        }
        state.registerStackFunction("host_recently_viewed", in: prelude) { stack in
            let viewed = host.recentlyViewed(text(stack, 1), max(0, Int(stack.integer(at: 2) ?? 0)))
            stack.pushTable(array: viewed.count)
            for (index, sku) in viewed.enumerated() {
                stack.push(sku)
                stack.setIndex(index + 1)
            }
            return 1
        }
    }
}
