import Engine
import Foundation

/// Feeds the events of HTTP requests into the sharded engine and answers
/// only once they are committed: each event completes from the commit that
/// makes it durable, and a shard commits as soon as it has nothing left to
/// process, so the requests that arrive together share one commit (group
/// commit) without a thread of their own. When more than `maxInFlight`
/// events are accepted but not committed, new work is refused
/// (``IngestError/saturated``) instead of queueing without bound.
public final class IngestGateway: @unchecked Sendable {
    public let engine: ShardedEngine
    private let maxInFlight: Int
    private let lock = NSLock()
    private var inFlight = 0
    private var stopping = false
    /// While held, acknowledgements wait here (see ``holdCommits(_:)``).
    private var held: [@Sendable () -> Void]?

    public init(engine: ShardedEngine, maxInFlight: Int) {
        self.engine = engine
        self.maxInFlight = maxInFlight
    }

    /// Events accepted and not yet committed.
    public var pending: Int { lock.withLock { inFlight } }

    /// Processes the events and returns their outcomes once they are committed.
    public func ingest(_ events: [Event]) async throws -> [EventOutcome] {
        try await ingestTimed(events).outcomes
    }

    /// ``ingest(_:)`` with where the time went: until the engine had
    /// evaluated the last event (`evaluated`), then until they were committed.
    /// `urgent` events (a decision) go before the events queued on their shard.
    public func ingestTimed(_ events: [Event], urgent: Bool = false) async throws
        -> (outcomes: [EventOutcome], evaluated: Duration, committed: Duration) {
        try reserve(events.count)
        defer { release(events.count) }
        let start = ContinuousClock.now
        let outcomes = try await process(events, urgent: urgent)
        let evaluated = outcomes.map(\.evaluatedAt).max().map { max(start, $0) } ?? start
        let end = ContinuousClock.now
        return (outcomes, evaluated - start, end - evaluated)
    }

    private func reserve(_ count: Int) throws {
        try lock.withLock {
            if stopping { throw IngestError.stopping }
            if inFlight > 0 && inFlight + count > maxInFlight { throw IngestError.saturated }
            inFlight += count
        }
    }

    private func release(_ count: Int) {
        lock.withLock { inFlight -= count }
    }

    /// Submits every event and resumes once the last of them is committed
    /// (or with the first error).
    private func process(_ events: [Event], urgent: Bool = false) async throws -> [EventOutcome] {
        if events.isEmpty { return [] }
        final class Collector: @unchecked Sendable {
            let lock = NSLock()
            var results: [Result<EventOutcome, any Error>?]
            var remaining: Int
            init(_ count: Int) {
                results = Array(repeating: nil, count: count)
                remaining = count
            }
        }
        let collector = Collector(events.count)
        if events.count > 1 { engine.checkStored(messageIds: events.map(\.messageId)) }
        return try await withCheckedThrowingContinuation { continuation in
            let finish: @Sendable () -> Void = {
                do {
                    continuation.resume(returning: try collector.results.map { try $0!.get() })
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            for (index, event) in events.enumerated() {
                engine.submitCommitted(event, urgent: urgent) { [self] result in
                    let done: Bool = collector.lock.withLock {
                        collector.results[index] = result
                        collector.remaining -= 1
                        return collector.remaining == 0
                    }
                    guard done else { return }
                    let deferred: Bool = lock.withLock {
                        guard held != nil else { return false }
                        held!.append(finish)
                        return true
                    }
                    if !deferred { finish() }
                }
            }
            engine.dispatchAllPending()
        }
    }

    /// Holds acknowledgements back (the requests' events stay in flight)
    /// until released: maintenance, and tests of back-pressure.
    func holdCommits(_ hold: Bool) {
        let release: [@Sendable () -> Void] = lock.withLock {
            defer { held = hold ? (held ?? []) : nil }
            return hold ? [] : (held ?? [])
        }
        for acknowledge in release { acknowledge() }
    }

    /// Refuses new work and commits everything accepted (answering its requests).
    public func shutdown() throws {
        lock.withLock { stopping = true }
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
