import Foundation

/// The shards' figures that monitoring reads (`/metrics`, the dashboard,
/// `GET /v1/rules`): the rule set running and its problems, each rule's
/// statistics and the clock's work, added up over the shards, and when they
/// were taken.
public struct EngineReadings: Sendable {
    /// One rule of the running set, as monitoring lists it.
    public struct Rule: Sendable {
        /// `kind:name`.
        public var id: String
        public var name: String
        public var kind: RuleKind
        public var file: String
        public var line: Int
        public var isShadow: Bool
    }

    /// The running rule set's rules, in declaration order.
    public var rules: [Rule]
    /// The running rule set's version.
    public var version: String
    /// The running rule set's load problems.
    public var problems: [RuleProblem]
    public var stats: [String: RuleStats]
    public var clockWork: ClockWork
    /// Customers that segment sweeps going on in slices have yet to evaluate.
    public var sweepWaiting: Int
    /// Journey timers that fell due while stopped and have yet to fire (in slices).
    public var timersOverdue: Int
    /// The engine's clock (ms) when they were taken.
    public var clock: Int64
    /// When the last shard answered.
    public var takenAt: ContinuousClock.Instant

    /// The running rule set's rule ids.
    public var ruleIds: [String] { rules.map(\.id) }
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
            var sweepWaiting = 0
            var timersOverdue = 0
            var rules: (list: [EngineReadings.Rule], version: String, problems: [RuleProblem], clock: Int64) = ([], "", [], 0)
            var left: Int
            init(_ count: Int) {
                stats = Array(repeating: nil, count: count)
                left = count
            }
        }
        let parts = Parts(shardCount)
        onEveryShardAsync { [self] index, engine in
            let stats = engine.stats, clockWork = engine.clockWork, sweepWaiting = engine.sweepWaiting
            let timersOverdue = engine.timersOverdue
            let rules = index == 0 ? (engine.declarations.map { d in
                EngineReadings.Rule(id: d.ruleId, name: d.name, kind: d.kind, file: d.file, line: d.line, isShadow: d.isShadow)
            }, engine.rules.version, engine.problems, engine.clockHint) : nil
            let done: Bool = parts.lock.withLock {
                parts.stats[index] = stats
                parts.clockWork = parts.clockWork + clockWork
                parts.sweepWaiting += sweepWaiting
                parts.timersOverdue += timersOverdue
                if let rules { parts.rules = rules }
                parts.left -= 1
                return parts.left == 0
            }
            guard done else { return }
            let readings = EngineReadings(rules: parts.rules.list, version: parts.rules.version, problems: parts.rules.problems,
                                          stats: RuleStats.sum(parts.stats.compactMap { $0 }), clockWork: parts.clockWork,
                                          sweepWaiting: parts.sweepWaiting, timersOverdue: parts.timersOverdue,
                                          clock: parts.rules.clock, takenAt: .now)
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
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.dispatchInterval) { once.resume(nil) }
        }
    }

    /// Takes readings and waits for them, however long the shards take.
    public func readingsNow() -> EngineReadings {
        let box = SyncBox<EngineReadings>()
        let done = DispatchSemaphore(value: 0)
        takeReadings { readings in
            box.value = .success(readings)
            done.signal()
        }
        done.wait()
        return try! box.value!.get()
    }

    /// The latest readings taken, however old; nil before the first.
    public var lastReadings: EngineReadings? { readingsBox.withLock { $0 } }
}

extension Duration {
    /// The same span for Dispatch's timers (nanoseconds).
    public var dispatchInterval: DispatchTimeInterval {
        .nanoseconds(Int(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000))
    }
}
