import Engine
import Foundation

/// Feeds the events of HTTP requests into the sharded engine and answers
/// only once they are committed: requests wait together for one flush
/// (group commit) on a committer thread. When more than `maxInFlight`
/// events are accepted but not committed, new work is refused
/// (``IngestError/saturated``) instead of queueing without bound.
public final class IngestGateway: @unchecked Sendable {
    public let engine: ShardedEngine
    private let maxInFlight: Int
    private let condition = NSCondition()
    private var inFlight = 0
    private var waiters: [CheckedContinuation<Void, any Error>] = []
    private var stopping = false
    private var held = false
    private var committer: Thread?

    public init(engine: ShardedEngine, maxInFlight: Int) {
        self.engine = engine
        self.maxInFlight = maxInFlight
        let thread = Thread { [weak self] in self?.commitLoop() }
        thread.name = "crescent-group-commit"
        committer = thread
        thread.start()
    }

    /// Events accepted and not yet committed.
    public var pending: Int { condition.withLock { inFlight } }

    /// Processes the events and returns their outcomes once they are committed.
    public func ingest(_ events: [Event]) async throws -> [EventOutcome] {
        try await ingestTimed(events).outcomes
    }

    /// ``ingest(_:)`` with where the time went: until the engine had
    /// evaluated every event (`evaluated`), then until they were committed.
    public func ingestTimed(_ events: [Event]) async throws
        -> (outcomes: [EventOutcome], evaluated: Duration, committed: Duration) {
        try reserve(events.count)
        defer { release(events.count) }
        let start = ContinuousClock.now
        let outcomes = try await process(events)
        let evaluated = ContinuousClock.now
        try await committed()
        return (outcomes, evaluated - start, ContinuousClock.now - evaluated)
    }

    private func reserve(_ count: Int) throws {
        try condition.withLock {
            if stopping { throw IngestError.stopping }
            if inFlight > 0 && inFlight + count > maxInFlight { throw IngestError.saturated }
            inFlight += count
        }
    }

    private func release(_ count: Int) {
        condition.withLock { inFlight -= count }
    }

    private func process(_ events: [Event]) async throws -> [EventOutcome] {
        if events.isEmpty { return [] }
        final class Collector: @unchecked Sendable {
            let lock = NSLock()
            var results: [Result<EventOutcome, any Error>?]
            var remaining: Int
            var continuation: CheckedContinuation<[EventOutcome], any Error>?
            init(_ count: Int) {
                results = Array(repeating: nil, count: count)
                remaining = count
            }
        }
        let collector = Collector(events.count)
        return try await withCheckedThrowingContinuation { continuation in
            collector.continuation = continuation
            for (index, event) in events.enumerated() {
                engine.submit(event) { result in
                    let done: Bool = collector.lock.withLock {
                        collector.results[index] = result
                        collector.remaining -= 1
                        return collector.remaining == 0
                    }
                    guard done else { return }
                    do {
                        continuation.resume(returning: try collector.results.map { try $0!.get() })
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
            engine.dispatchAllPending()
        }
    }

    /// Returns once everything processed before the call is committed.
    public func committed() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            condition.withLock {
                waiters.append(continuation)
                condition.broadcast()
            }
        }
    }

    private func commitLoop() {
        while true {
            condition.lock()
            while (waiters.isEmpty || held) && !stopping { condition.wait() }
            if waiters.isEmpty && stopping {
                condition.unlock()
                return
            }
            let batch = waiters
            waiters.removeAll()
            condition.unlock()
            do {
                // The waiters' events are processed already: commit them
                // without waiting for the requests queued behind them.
                try engine.commitProcessed()
                for waiter in batch { waiter.resume() }
            } catch {
                for waiter in batch { waiter.resume(throwing: error) }
            }
        }
    }

    /// Holds acknowledgements back (nothing is committed for the requests
    /// waiting) until released: maintenance, and tests of back-pressure.
    func holdCommits(_ hold: Bool) {
        condition.withLock {
            held = hold
            condition.broadcast()
        }
    }

    /// Refuses new work, commits everything accepted, and ends the committer.
    public func shutdown() throws {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        try engine.flush()
    }
}

/// Why an ingest was refused.
public enum IngestError: Error {
    /// Too many events wait for their commit: retry later.
    case saturated
    /// The server is shutting down.
    case stopping
}
