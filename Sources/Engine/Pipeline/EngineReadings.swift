import Foundation

/// The shards' figures that monitoring reads (`/metrics`): the rule set
/// running, each rule's statistics and the clock's work, added up over the
/// shards, and when they were taken.
public struct EngineReadings: Sendable {
    /// The running rule set's rule ids (`kind:name`).
    public var ruleIds: [String]
    /// The running rule set's version.
    public var version: String
    public var stats: [String: RuleStats]
    public var clockWork: ClockWork
    /// When the last shard answered.
    public var takenAt: ContinuousClock.Instant
}

extension ShardedEngine {
    /// Takes readings on every shard's thread, after the work queued there,
    /// and hands them to `deliver` (on a shard's thread) once the last shard
    /// has answered; they also become ``lastReadings``.
    public func takeReadings(_ deliver: @escaping @Sendable (EngineReadings) -> Void = { _ in }) {
        final class Parts: @unchecked Sendable {
            let lock = NSLock()
            var stats: [[String: RuleStats]?]
            var clockWork = ClockWork()
            var rules: (ids: [String], version: String) = ([], "")
            var left: Int
            init(_ count: Int) {
                stats = Array(repeating: nil, count: count)
                left = count
            }
        }
        let parts = Parts(shardCount)
        onEveryShardAsync { [self] index, engine in
            let stats = engine.stats, clockWork = engine.clockWork
            let rules = index == 0 ? (engine.declarations.map(\.ruleId), engine.rules.version) : nil
            let done: Bool = parts.lock.withLock {
                parts.stats[index] = stats
                parts.clockWork = parts.clockWork + clockWork
                if let rules { parts.rules = rules }
                parts.left -= 1
                return parts.left == 0
            }
            guard done else { return }
            let readings = EngineReadings(ruleIds: parts.rules.ids, version: parts.rules.version,
                                          stats: RuleStats.sum(parts.stats.compactMap { $0 }), clockWork: parts.clockWork,
                                          takenAt: .now)
            readingsBox.withLock { $0 = readings }
            deliver(readings)
        }
    }

    /// Fresh readings, or nil when the shards have not answered within
    /// `timeout` (busy catching up after a start, or behind a long queue;
    /// their answer still becomes ``lastReadings`` when it comes).
    public func readings(within timeout: Duration) async -> EngineReadings? {
        final class Once: @unchecked Sendable {
            let lock = NSLock()
            var continuation: CheckedContinuation<EngineReadings?, Never>?
            func resume(_ value: EngineReadings?) {
                lock.withLock {
                    continuation?.resume(returning: value)
                    continuation = nil
                }
            }
        }
        let once = Once()
        return await withCheckedContinuation { continuation in
            once.continuation = continuation
            takeReadings { once.resume($0) }
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { once.resume(nil) }
        }
    }

    /// The latest readings taken, however old; nil before the first.
    public var lastReadings: EngineReadings? { readingsBox.withLock { $0 } }
}
