import Engine
import Foundation

/// Feeds the events of HTTP requests into the sharded engine and answers
/// only once they are committed: each request asks the engine to call back
/// when what it sent is durable (``ShardedEngine/afterCommit(_:)``), and
/// requests arriving together share commits (group commit). When more than
/// `maxInFlight` events are accepted but not committed, new work is refused
/// (``IngestError/saturated``) instead of queueing without bound.
public final class IngestGateway: @unchecked Sendable {
    public let engine: ShardedEngine
    private let maxInFlight: Int
    private let condition = NSCondition()
    private var inFlight = 0
    /// Requests waiting while acknowledgements are held back.
    private var heldWaiters: [CheckedContinuation<Void, any Error>] = []
    private var stopping = false
    private var held = false

    public init(engine: ShardedEngine, maxInFlight: Int) {
        self.engine = engine
        self.maxInFlight = maxInFlight
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
            let heldBack: Bool = condition.withLock {
                if held { heldWaiters.append(continuation) }
                return held
            }
            if !heldBack { resume(afterCommit: [continuation]) }
        }
    }

    private func resume(afterCommit waiters: [CheckedContinuation<Void, any Error>]) {
        guard !waiters.isEmpty else { return }
        engine.afterCommit { error in
            for waiter in waiters {
                if let error { waiter.resume(throwing: error) } else { waiter.resume() }
            }
        }
    }

    /// Holds acknowledgements back (nothing is committed for the requests
    /// waiting) until released: maintenance, and tests of back-pressure.
    func holdCommits(_ hold: Bool) {
        let released: [CheckedContinuation<Void, any Error>] = condition.withLock {
            held = hold
            defer { if !hold { heldWaiters.removeAll() } }
            return hold ? [] : heldWaiters
        }
        resume(afterCommit: released)
    }

    /// Refuses new work, commits everything accepted, and answers every waiting request.
    public func shutdown() throws {
        let released: [CheckedContinuation<Void, any Error>] = condition.withLock {
            stopping = true
            held = false
            defer { heldWaiters.removeAll() }
            return heldWaiters
        }
        try engine.flush()
        for waiter in released { waiter.resume() }
    }
}

/// Why an ingest was refused.
public enum IngestError: Error {
    /// Too many events wait for their commit: retry later.
    case saturated
    /// The server is shutting down.
    case stopping
}
