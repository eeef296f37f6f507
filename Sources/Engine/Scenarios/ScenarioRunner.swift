import Foundation
import LuaKit
import Store
import Synchronization

/// One scenario's result.
public struct ScenarioResult: Sendable {
    public var file: String
    public var line: Int
    public var name: String
    /// nil when it passed; else what failed (`file:line: expected ..., got ...`).
    public var failure: String?
    /// The last event's explanation (every rule's result), to read beside a failure.
    public var lastEvent: [String]
    /// The latest lines of the scenario's log (``logLinesShown``): what rules
    /// wrote with `log(...)`, rules disabled after repeated errors.
    public var log: [String] = []
    public var seconds: Double

    /// How many of a scenario's last log lines a result keeps.
    public static let logLinesShown = 20
}

/// Runs scenario files (`*_test.lua`) against a rule set: each scenario gets
/// a fresh engine over an in-memory store and a virtual clock starting at
/// 2026-01-01T00:00:00Z. Scenario files run in the sandbox like rules,
/// several at a time (one per core): each has its own Lua state and store.
public struct ScenarioRunner: Sendable {
    public var rulesDirectory: String
    public var pluginsDirectory: String?
    public static let start: Int64 = 1_767_225_600_000
    /// How far a scenario (or the REPL) may move the clock: ten years (about 88,000 hourly schedule runs).
    public static let span: Int64 = 10 * 365 * 86_400_000

    public init(rulesDirectory: String, pluginsDirectory: String?) {
        self.rulesDirectory = rulesDirectory
        self.pluginsDirectory = pluginsDirectory
    }

    /// The scenario files under a path (a file, or every `*_test.lua` below a folder).
    public static func files(at path: String) -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return [] }
        if !isFolder.boolValue { return [path] }
        return RuleRuntime.ruleFiles(in: path, includeTests: true).filter { $0.hasSuffix("_test.lua") }
    }

    /// Runs every scenario of the files, the files side by side (a hot
    /// reload waits for them all: 8 shipped files took 626–672 ms one after
    /// another); results in the files' order. A file that does not load is
    /// one failed result.
    public func run(files: [String]) throws -> [ScenarioResult] {
        let outcomes = Mutex<[Int: Result<[ScenarioResult], any Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: files.count) { index in
            let outcome = Result { try run(file: files[index]) }
            outcomes.withLock { $0[index] = outcome }
        }
        var results: [ScenarioResult] = []
        for index in files.indices {
            results += try outcomes.withLock { $0[index] }?.get() ?? []
        }
        return results
    }

    private func run(file: String) throws -> [ScenarioResult] {
        let session = try ScenarioSession(rules: rulesDirectory, plugins: pluginsDirectory)
        let state = session.state
        do {
            let chunk = try state.load(bytes: Array(FileManager.default.contents(atPath: file) ?? Data()), name: file)
            _ = try state.call(chunk.function, [])
        } catch {
            return [ScenarioResult(file: file, line: error.line ?? 0, name: "(loading the file)", failure: error.description,
                                   lastEvent: [], seconds: 0)]
        }
        guard case .array(let list)? = try state.call(session.list, []).first else { return [] }
        var results: [ScenarioResult] = []
        for (index, item) in list.enumerated() {
            guard case .table(let t) = item else { continue }
            let started = ContinuousClock.now
            try session.reset()
            let outcome = try state.call(session.runOne, [.integer(Int64(index + 1))])
            let elapsed = ContinuousClock.now - started
            let failure = outcome.first == .boolean(true)
                ? Self.ruleErrors(session.driver.engine?.stats ?? [:])
                : (outcome.dropFirst().first?.stringValue ?? "failed")
            var line = 0
            if case .integer(let l)? = t["line"] { line = Int(l) }
            results.append(ScenarioResult(file: file, line: line, name: t["name"]?.stringValue ?? "?", failure: failure,
                                          lastEvent: session.lastExplanation,
                                          log: Array((session.driver.engine?.log ?? []).suffix(ScenarioResult.logLinesShown)),
                                          seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
        }
        return results
    }
}

extension ScenarioRunner {
    /// A scenario whose expectations held still fails when a rule raised an
    /// error on its events: the rule set has a rule that breaks on the
    /// traffic the scenario describes (and a reload must not put it live).
    static func ruleErrors(_ stats: [String: RuleStats]) -> String? {
        let failing = stats.filter { $0.value.errors > 0 }.sorted { $0.key < $1.key }
        guard !failing.isEmpty else { return nil }
        return "rules raised errors during the scenario: " + failing.map { rule, s in
            "\(rule) (\(s.errors) \(s.errors == 1 ? "time" : "times"); last: \(s.lastError ?? "?"))"
        }.joined(separator: "; ")
    }
}

/// The Lua state a scenario file runs in, and the engine its scenario drives.
final class ScenarioSession {
    let state: LuaState
    private(set) var list: LuaReference!
    private(set) var runOne: LuaReference!
    private let rules: String
    private let plugins: String?
    /// The engine the scenario drives, on a virtual clock.
    let driver = EngineDriver(clock: ScenarioRunner.start)
    var lastExplanation: [String] { driver.lastExplanation }

    init(rules: String, plugins: String?) throws {
        self.rules = rules
        self.plugins = plugins
        state = try LuaState(limits: .default, pluginDirectory: plugins)
        guard let url = Bundle.module.url(forResource: "Scenario", withExtension: "lua") else {
            throw LuaError(kind: .syntax, chunk: "crescent/scenario.lua", message: "Scenario.lua is missing from the bundle")
        }
        let prelude = try state.load(try String(contentsOf: url, encoding: .utf8), name: "crescent/scenario.lua")
        state.registerLocationFunction("where", in: prelude)
        let box = Unowned(self)
        state.register("duration", in: nil) { args in
            guard let text = args.first?.stringValue, let ms = DurationText.milliseconds(text) else {
                throw LuaHostError("invalid duration \(args.first?.display ?? "nil") (use forms like \"90s\", \"1h\", \"7d\", \"1h30m\")")
            }
            return [.integer(ms)]
        }
        state.register("host_send", in: prelude) { args in [try box.value.driver.send(args.first ?? .nil)] }
        state.register("host_advance", in: prelude) { args in
            if case .integer(let ms)? = args.first { try box.value.driver.advance(ms) }
            return []
        }
        state.register("host_customer", in: prelude) { args in [try box.value.driver.customer(args.first?.stringValue ?? "")] }
        state.register("host_journey", in: prelude) { args in
            [try box.value.driver.journey(args.first?.stringValue ?? "", args.dropFirst().first?.stringValue ?? "")]
        }
        state.register("host_sent", in: prelude) { args in [try box.value.driver.sent(args.first?.stringValue)] }
        state.register("host_rule_problem", in: prelude) { args in
            [box.value.driver.ruleProblem(args.first?.stringValue ?? "").map { .string(LuaString($0)) } ?? .nil]
        }
        _ = try state.call(prelude.function, [])
        for name in ["scenario", "identify", "track", "page", "order", "advance", "customer", "journey", "sent", "expect"] {
            state.shareGlobal(name, from: prelude)
        }
        guard let list = state.function("host_scenarios", in: prelude), let runOne = state.function("host_run_scenario", in: prelude) else {
            throw LuaError(kind: .runtime, chunk: "crescent/scenario.lua", message: "missing entry points")
        }
        self.list = list
        self.runOne = runOne
    }

    /// A fresh engine and clock for the next scenario.
    func reset() throws {
        // `crescent check` (and a reload's check) reads the rule text once; every scenario need not.
        var options = EngineOptions()
        options.checksRuleText = false
        driver.engine = try Engine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins, options: options)
        driver.clock = ScenarioRunner.start
        driver.bound = ClockBound(start: ScenarioRunner.start, span: ScenarioRunner.span, subject: "a scenario")
        driver.lastExplanation = []
    }

}

/// A reference that does not keep its object alive (the session owns the state that holds the closures).
final class Unowned<T: AnyObject> {
    unowned let value: T
    init(_ value: T) { self.value = value }
}
