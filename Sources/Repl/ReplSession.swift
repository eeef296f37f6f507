import Engine
import Foundation
import LuaKit
import Store

/// The REPL's evaluator: one sandboxed Lua state whose globals persist
/// between inputs, the engine's helpers (`send`, `customer`, `advance`,
/// `reload`, `rules`, `journey`, `sent`, `help`, `print`), multi-line input
/// (an incomplete chunk waits for the next line) and pretty-printed results.
public final class ReplSession {
    public let driver: EngineDriver
    public let reloader: RuleReloader
    private let engine: Engine
    private let state: LuaState
    private let session: LuaChunk
    private let output: (String) -> Void
    private let errorOutput: (String) -> Void
    private var pending: [String] = []
    private var inputs = 0
    /// Inputs that failed (a syntax or runtime error).
    public private(set) var errors = 0

    /// The prompt for the next line: `crescent>`, or `...>` inside a multi-line chunk.
    public var prompt: String { pending.isEmpty ? "crescent> " : "      ...> " }

    /// A session over an engine (on this thread) whose clock starts at `clock`.
    public init(engine: Engine, rulesDirectory: String, pluginsDirectory: String?, clock: Int64,
                output: @escaping (String) -> Void, errorOutput: @escaping (String) -> Void) throws {
        self.engine = engine
        self.output = output
        self.errorOutput = errorOutput
        driver = EngineDriver(engine: engine, clock: clock, messagePrefix: "repl-\(clock)")
        driver.bound = ClockBound(start: clock, span: ScenarioRunner.span, subject: "the REPL")
        reloader = RuleReloader(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory,
                                runningVersion: { engine.rules.version }) { _ in
            try engine.reload(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory)
        }
        state = try LuaState(limits: LuaLimits(instructions: 50_000_000, timeout: 10, memoryBytes: 256 << 20),
                             pluginDirectory: pluginsDirectory)
        session = try state.load("-- the REPL's globals", name: "repl")
        _ = try state.call(session.function, [])
        registerHelpers()
    }

    /// Evaluates one line; a chunk that is not complete yet waits for more.
    public func feed(_ line: String) {
        pending.append(line)
        let source = pending.joined(separator: "\n")
        if source.trimmingCharacters(in: .whitespaces).isEmpty {
            pending = []
            return
        }
        inputs += 1
        let name = "stdin:\(inputs)"
        let chunk: LuaChunk
        if let expression = try? state.load("return " + source, name: name, sharing: session) {
            chunk = expression
        } else {
            do {
                chunk = try state.load(source, name: name, sharing: session)
            } catch {
                if error.message.hasSuffix("<eof>") { return } // more to come
                pending = []
                fail(error.description)
                return
            }
        }
        pending = []
        do {
            let results = try state.call(chunk.function, [])
            // Strings print as they are (as in lua.c); everything else as Lua would read it back.
            if !results.isEmpty { output(results.map { $0.stringValue ?? ValuePrinter.show($0) }.joined(separator: "\t") + "\n") }
        } catch {
            fail(error.description)
        }
    }

    /// True while a multi-line chunk is open (end of input then is an error).
    public var isIncomplete: Bool { !pending.isEmpty }

    private func fail(_ message: String) {
        errors += 1
        errorOutput("error: \(message)\n")
    }

    private func registerHelpers() {
        let box = Unowned(self)
        state.register("print", in: session) { args in
            box.value.output(args.map { $0.stringValue ?? ValuePrinter.show($0) }.joined(separator: "\t") + "\n")
            return []
        }
        state.register("help", in: session) { _ in
            box.value.output(Self.helpText)
            return []
        }
        state.register("send", in: session) { args in [try box.value.send(args.first ?? .nil)] }
        state.register("customer", in: session) { args in
            guard let id = args.first?.stringValue else { throw LuaHostError("customer(id): give the customer's id") }
            return [try box.value.driver.customer(id)]
        }
        state.register("journey", in: session) { args in
            [try box.value.driver.journey(args.first?.stringValue ?? "", args.dropFirst().first?.stringValue ?? "")]
        }
        state.register("sent", in: session) { args in [try box.value.driver.sent(args.first?.stringValue)] }
        state.register("advance", in: session) { args in [try box.value.advance(args.first)] }
        state.register("reload", in: session) { _ in
            let attempt = box.value.reloader.reload()
            box.value.output(attempt.report + "\n")
            return [.string(LuaString(attempt.result.rawValue))]
        }
        state.register("rule_eval", in: session) { args in
            guard let code = args.first?.stringValue else {
                throw LuaHostError("rule_eval(code, customer): give the Lua a rule would run, as a string: rule_eval(\"c:spent{ within = '365d' }\", \"ana\")")
            }
            do {
                return try box.value.engine.evaluateAsRule(code, customer: args.dropFirst().first?.stringValue)
            } catch let error as RuleInspectionError {
                throw LuaHostError(error.description)
            } catch let error as LuaError {
                throw LuaHostError(error.description)
            }
        }
        state.register("rules", in: session) { _ in
            box.value.output(box.value.rulesReport())
            return []
        }
    }

    /// `send{...}`: the message through the pipeline (type `track` when it
    /// has an `event`, else `identify`); prints the explanation, returns the outcome.
    private func send(_ message: LuaValue) throws -> LuaValue {
        guard case .table(var fields) = message else {
            throw LuaHostError("send{...} needs a table: send{ userId = \"ana\", event = \"Order Completed\", properties = {...} }")
        }
        if fields["type"] == nil { fields["type"] = .string(LuaString(fields["event"] == nil ? "identify" : "track")) }
        let outcome = try driver.send(.table(fields))
        output(driver.lastExplanation.joined(separator: "\n") + "\n")
        guard case .table(var compact) = outcome else { return outcome }
        compact["results"] = nil
        return .table(compact)
    }

    private func advance(_ argument: LuaValue?) throws -> LuaValue {
        guard let text = argument?.stringValue, let ms = DurationText.milliseconds(text) else {
            throw LuaHostError("advance(duration): use forms like \"90s\", \"2h\", \"7d\", \"1h30m\"")
        }
        let before = engine.clockWork
        try driver.advance(ms)
        let work = engine.clockWork
        return .string(LuaString("now \(Timestamps.iso(driver.clock)): \(work.timersFired - before.timersFired) timers fired, "
                                 + "\(work.schedulesRun - before.schedulesRun) schedules run"))
    }

    func rulesReport() -> String {
        var lines = ["rule set \(engine.rules.version)"]
        for d in engine.declarations {
            let s = engine.stats[d.ruleId] ?? RuleStats.none
            var line = "  \(d.ruleId)\(d.isShadow ? " [shadow]" : "")  hits \(s.hits)"
            if d.isShadow || s.shadowHits > 0 { line += ", would have hit \(s.shadowHits)" }
            if s.latency.count > 0 {
                let each = Double(s.latency.totalMicros) / Double(s.latency.count)
                line += ", \(s.latency.count) run\(s.latency.count == 1 ? "" : "s") (\(String(format: "%.1f", each)) µs each)"
            }
            if s.errors > 0 { line += ", errors \(s.errors)" }
            if s.disabled { line += ", DISABLED after repeated errors" }
            lines.append(line + "  (\(d.file):\(d.line))")
        }
        for problem in engine.problems { lines.append("  \(problem)") }
        if let failure = reloader.failure {
            lines.append("the files hold a version that was not loaded:")
            lines.append(failure.report)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let helpText = """
        Lua with the engine loaded. Globals persist; an unfinished chunk continues on the next line.
          send{ userId = "ana", event = "Order Completed", properties = { order_id = "o1", total = 80 } }
                               run one event through the pipeline; prints every rule that did not miss
          customer("ana")      the customer as stored: traits, consent, segments, orders_count, total_spent, seen, touches
          advance("2h")        move the clock on: due journey timers and schedules fire
          journey("ana", "abandoned_cart")   a customer's place in a journey, and why a message waits
          sent("promotion:welcome")          actions in the outbox (all pending ones without a rule)
          rule_eval("c:spent{ within = '365d' }", "ana")
                               Lua run as a rule runs: c the customer, ctx, and every rule helper
                               (catalog, competitor_prices, trending, lists, sentiment, duration, require)
          reload()             check, test and load the rule files again (the old version stays on failure)
          rules()              the rule set: hits, shadow hits, errors, disabled rules, reload problems
          help()               this text
        Ctrl-D quits.

        """
}

/// A reference that does not keep its object alive (the session owns the state that holds the closures).
final class Unowned<T: AnyObject> {
    unowned let value: T
    init(_ value: T) { self.value = value }
}
