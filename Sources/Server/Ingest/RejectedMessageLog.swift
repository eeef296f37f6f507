import Engine
import Foundation
import Store

/// Keeps the messages the ingest API refused (`GET /v1/rejected`), off the
/// request's path: a serial queue stores them in small batches. At most
/// `bound` wait to be stored; beyond that they are counted as
/// ``dropped``, never queued without bound. The log gets one line per
/// `logEvery` at most, saying how many were refused and the latest reason.
final class RejectedMessageLog: @unchecked Sendable {
    private let store: CrescentStore
    private let bound: Int
    private let logEvery: Duration
    private let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "crescent.rejected-messages")
    private let lock = NSLock()
    private var waiting: [RejectedMessage] = []
    private var drainScheduled = false
    private var droppedCount = 0
    /// On the queue: refused messages not yet in the log, the latest, and when the log last spoke.
    private var unlogged = 0
    private var latest: RejectedMessage?
    private var loggedAt: ContinuousClock.Instant?
    private var logScheduled = false

    init(store: CrescentStore, bound: Int = 10_000, logEvery: Duration = .seconds(10), log: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.bound = bound
        self.logEvery = logEvery
        self.log = log
    }

    /// Refused messages not stored because too many were waiting.
    var dropped: Int { lock.withLock { droppedCount } }

    /// Queues refused messages to be stored.
    func record(_ messages: [RejectedMessage]) {
        guard !messages.isEmpty else { return }
        let schedule: Bool = lock.withLock {
            let room = max(0, bound - waiting.count)
            waiting += messages.prefix(room)
            droppedCount += max(0, messages.count - room)
            defer { drainScheduled = true }
            return !drainScheduled
        }
        if schedule { queue.async { self.drain() } }
    }

    /// Returns once every message recorded before the call is stored.
    func flush() {
        queue.sync {}
    }

    private func drain() {
        let batch: [RejectedMessage] = lock.withLock {
            defer {
                waiting = []
                drainScheduled = false
            }
            return waiting
        }
        do {
            try store.recordRejected(batch)
        } catch {
            log("could not keep \(batch.count) refused messages: \(error)")
        }
        unlogged += batch.count
        latest = batch.last ?? latest
        logIfDue()
    }

    /// Writes the summary line when the last one is `logEvery` old, else
    /// schedules it for then (on the queue).
    private func logIfDue() {
        guard unlogged > 0, let latest else { return }
        let now = ContinuousClock.now
        if let loggedAt, now - loggedAt < logEvery {
            guard !logScheduled else { return }
            logScheduled = true
            let wait = logEvery - (now - loggedAt)
            queue.asyncAfter(deadline: .now() + wait.dispatchInterval) {
                self.logScheduled = false
                self.logIfDue()
            }
            return
        }
        log("refused \(unlogged) message\(unlogged == 1 ? "" : "s") (latest: \(latest.source): \(latest.reason));"
            + " GET /v1/rejected lists them")
        unlogged = 0
        loggedAt = now
    }
}
