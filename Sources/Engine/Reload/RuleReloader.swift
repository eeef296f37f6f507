import Foundation

/// One attempt to bring the rule files into a running engine.
public struct ReloadAttempt: Sendable {
    /// What came of it.
    public enum Result: String, Sendable {
        /// The new version is running.
        case loaded
        /// The files hold the running version: nothing to do.
        case unchanged
        /// Not loaded (errors, failing scenarios, or files changing under it); the previous version keeps running.
        case rejected
    }

    public var result: Result
    /// Wall-clock time of the attempt (ms since 1970).
    public var at: Int64
    /// The version the files hold (nil when they could not be read at all).
    public var version: String?
    /// The version running after the attempt.
    public var running: String
    /// Errors (when rejected) or warnings.
    public var problems: [RuleProblem]
    /// Scenarios that failed against the new version, with the reason.
    public var failedScenarios: [ScenarioResult]
    /// What happened to journey instances in flight (when loaded).
    public var migrations: [JourneyMigration]
    /// Check, scenarios and swap together.
    public var milliseconds: Double

    /// One line for the log, then one per problem and failed scenario.
    public var report: String {
        let short = { (v: String?) in String((v ?? "?").prefix(12)) }
        var lines: [String]
        switch result {
        case .loaded:
            lines = ["rules reloaded: version \(short(version)) is live (\(Int(milliseconds)) ms: check, scenarios, swap)"]
            lines += migrations.map(\.description)
        case .unchanged:
            lines = ["rules unchanged: the files hold the running version \(short(running))"]
        case .rejected:
            lines = ["rules NOT reloaded: version \(short(version)) was rejected; \(short(running)) keeps running"]
        }
        lines += problems.map { "  \($0)" }
        for scenario in failedScenarios {
            lines.append("  \(scenario.file):\(scenario.line): scenario \"\(scenario.name)\" failed: \(scenario.failure ?? "")")
        }
        return lines.joined(separator: "\n")
    }
}

/// Guards a reload with the author's own checks: the rule files are
/// compiled and validated (`crescent check`), then every scenario file
/// under the rules folder runs against them (`crescent test`), and only if
/// everything passes is the new version swapped in. The last attempt and
/// counts by result are kept for `GET /v1/rules`, `/metrics` and the REPL.
/// Attempts run one at a time.
public final class RuleReloader: @unchecked Sendable {
    public let rulesDirectory: String
    public let pluginsDirectory: String?
    /// Run the scenario files before swapping (on by default).
    public var runScenarios = true
    private let runningVersion: () -> String
    private let swap: (String) throws -> RuleSwap
    private let lock = NSLock()
    private var lastAttempt: ReloadAttempt?
    private var lastFailure: ReloadAttempt?
    private var counts: [ReloadAttempt.Result: Int] = [:]

    /// A reloader for a sharded engine (the server).
    public convenience init(engine: ShardedEngine, rulesDirectory: String, pluginsDirectory: String?) {
        self.init(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory, runningVersion: { engine.rulesVersion }) {
            try engine.reload(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory, expectedVersion: $0)
        }
    }

    /// A reloader over any engine: `runningVersion` reads the version in use,
    /// `swap` loads the files, which must hold the given (checked) version.
    public init(rulesDirectory: String, pluginsDirectory: String?, runningVersion: @escaping () -> String,
                swap: @escaping (String) throws -> RuleSwap) {
        self.rulesDirectory = rulesDirectory
        self.pluginsDirectory = pluginsDirectory
        self.runningVersion = runningVersion
        self.swap = swap
    }

    /// The last attempt, if any.
    public var last: ReloadAttempt? { lock.withLock { lastAttempt } }

    /// The last rejected attempt, while the files still hold that version
    /// (cleared once a version loads or the files go back to the running one).
    public var failure: ReloadAttempt? { lock.withLock { lastFailure } }

    /// The last attempt and the last rejected one, read together (a reload
    /// may finish between two separate reads).
    public var status: (last: ReloadAttempt?, failure: ReloadAttempt?) { lock.withLock { (lastAttempt, lastFailure) } }

    /// Attempts so far, by result.
    public var attempts: [ReloadAttempt.Result: Int] { lock.withLock { counts } }

    /// Checks, tests and (if everything passes) swaps in the files' rule set.
    @discardableResult
    public func reload(scenarios: Bool? = nil) -> ReloadAttempt {
        lock.lock()
        defer { lock.unlock() }
        let started = ContinuousClock.now
        var attempt = ReloadAttempt(result: .rejected, at: Int64(Date().timeIntervalSince1970 * 1000), version: nil,
                                    running: runningVersion(), problems: [], failedScenarios: [], migrations: [], milliseconds: 0)
        perform(&attempt, scenarios: scenarios ?? runScenarios)
        let elapsed = ContinuousClock.now - started
        attempt.milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        lastAttempt = attempt
        lastFailure = attempt.result == .rejected ? attempt : nil
        counts[attempt.result, default: 0] += 1
        return attempt
    }

    private func perform(_ attempt: inout ReloadAttempt, scenarios: Bool) {
        let running = attempt.running
        let check: RuleSetCheck
        do {
            check = try RuleSetCheck.run(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory)
        } catch {
            attempt.problems = [RuleProblem(.error, file: rulesDirectory, line: nil, "cannot read the rule set: \(error)")]
            return
        }
        attempt.version = check.version
        if check.version == running {
            attempt.result = .unchanged
            attempt.problems = check.warnings
            return
        }
        guard check.errors.isEmpty else {
            attempt.problems = check.errors
            return
        }
        if scenarios {
            let runner = ScenarioRunner(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory)
            do {
                attempt.failedScenarios = try runner.run(files: ScenarioRunner.files(at: rulesDirectory)).filter { $0.failure != nil }
            } catch {
                attempt.problems = [RuleProblem(.error, file: rulesDirectory, line: nil, "the scenarios could not run: \(error)")]
                return
            }
            guard attempt.failedScenarios.isEmpty else { return }
        }
        do {
            let swapped = try swap(check.version)
            attempt.result = .loaded
            attempt.running = swapped.to
            attempt.migrations = swapped.migrations
            attempt.problems = check.warnings
        } catch RuleSwapError.problems(let problems) {
            attempt.problems = problems
        } catch {
            attempt.problems = [RuleProblem(.error, file: rulesDirectory, line: nil, "\(error)")]
        }
    }
}
