import Foundation
import LuaKit
import Store

/// Swapping a new rule set into running engines, between events: each
/// shard builds the new version in a fresh Lua state on its own thread
/// (staging), and only when every shard built the same version without
/// errors does each one commit what ran on the old version and switch.
extension Engine {
    /// Builds the rule set in the folders in a fresh Lua state; it waits
    /// (unused) until ``activateStaged()`` or ``discardStaged()``.
    func stage(rulesDirectory: String, pluginsDirectory: String?) throws -> StagedRuleSet {
        let runtime = try RuleRuntime(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory,
                                      limits: options.limits, host: host, checksText: options.checksRuleText && shard == 0)
        stagedRules = runtime
        return StagedRuleSet(version: runtime.version,
                             problems: runtime.problems + Self.automationProblems(runtime.declarations))
    }

    /// Drops a staged rule set (on this thread, which owns its Lua state).
    func discardStaged() { stagedRules = nil }

    /// Makes the staged rule set the running one: what the old version
    /// did is committed first; journey instances in flight are mapped onto
    /// the new definitions by step name; rules disabled for repeated errors
    /// get another chance under the new version. Returns what happened to
    /// journey instances.
    func activateStaged() throws -> [JourneyMigration] {
        guard let runtime = stagedRules else { return [] }
        stagedRules = nil
        try flush()
        install(runtime)
        for name in stats.keys {
            stats[name]?.disabled = false
            stats[name]?.consecutiveErrors = 0
        }
        erroring.removeAll()
        try adopt(state.journeys.takeAll())
        // Timers still set aside by a catch-up stay there, under their instances' new definitions.
        if let until = state.overdueTimers?.until { deferOverdueTimers(upTo: until) }
        rescheduleAfterReload()
        return journeyMigrations
    }

    /// Loads the rule set in the folders in place of the running one (a
    /// single engine, as in the REPL). Nothing changes when it has errors.
    public func reload(rulesDirectory: String, pluginsDirectory: String?) throws -> RuleSwap {
        let staged = try stage(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory)
        let errors = staged.problems.filter { $0.severity == .error }
        guard errors.isEmpty else {
            discardStaged()
            throw RuleSwapError.problems(errors)
        }
        let previous = rules.version
        return RuleSwap(from: previous, to: staged.version, migrations: try activateStaged())
    }
}

/// A rule set built by one shard for a reload, not running yet.
struct StagedRuleSet {
    var version: String
    var problems: [RuleProblem]
}

/// What a reload did: the versions before and after, and the journey
/// instances it mapped onto the new definitions.
public struct RuleSwap: Sendable {
    public var from: String
    public var to: String
    public var migrations: [JourneyMigration]
}

/// Why a rule set was not swapped in.
public enum RuleSwapError: Error, CustomStringConvertible {
    /// The rule set has errors (each as `file:line: message`).
    case problems([RuleProblem])
    /// The files changed while the shards were building them.
    case changedDuringReload(expected: String, found: String)

    public var description: String {
        switch self {
        case .problems(let problems): return problems.map(\.description).joined(separator: "\n")
        case .changedDuringReload(let expected, let found):
            return "the rule files changed during the reload (checked \(expected), found \(found)); the next change is picked up"
        }
    }
}

extension ShardedEngine {
    /// Swaps the rule set in the folders in on every shard, between events:
    /// events submitted before the call finish on the old version, events
    /// submitted after it wait and run on the new one; none is dropped or run
    /// twice. With `expectedVersion`, the folders must still hold that
    /// version (the one that was checked). On any error nothing changes.
    public func reload(rulesDirectory: String, pluginsDirectory: String?, expectedVersion: String? = nil) throws -> RuleSwap {
        try withRoutingHeld {
            let previous = rulesVersion
            let results = stageEverywhere(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory)
            do {
                var version: String?
                for result in results {
                    let staged = try result.get()
                    let errors = staged.problems.filter { $0.severity == .error }
                    if !errors.isEmpty { throw RuleSwapError.problems(errors) }
                    if let expected = expectedVersion ?? version, expected != staged.version {
                        throw RuleSwapError.changedDuringReload(expected: expected, found: staged.version)
                    }
                    version = staged.version
                }
            } catch {
                forEachShard { $0.discardStaged() }
                throw error
            }
            var migrations: [JourneyMigration] = []
            for index in 0..<shardCount {
                migrations += try onShard(index) { try $0.activateStaged() }
            }
            return RuleSwap(from: previous, to: rulesVersion, migrations: JourneyMigration.merged(migrations))
        }
    }

    /// Every shard builds the rule set at once, each on its own thread.
    private func stageEverywhere(rulesDirectory: String, pluginsDirectory: String?) -> [Result<StagedRuleSet, any Error>] {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var items: [Result<StagedRuleSet, any Error>?]
            init(_ n: Int) { items = Array(repeating: nil, count: n) }
        }
        let results = Results(shardCount)
        let group = DispatchGroup()
        for index in 0..<shardCount {
            group.enter()
            onShardAsync(index) { engine in
                let result = Result { try engine.stage(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory) }
                results.lock.withLock { results.items[index] = result }
                group.leave()
            }
        }
        group.wait()
        return results.items.map { $0! }
    }
}
