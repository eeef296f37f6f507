import Foundation
import Store

/// Keeps the messages the ingest API refused (`GET /v1/rejected`), off the
/// request's path: a serial queue stores them in small batches. At most
/// `bound` wait to be stored; beyond that they are counted as
/// ``dropped``, never queued without bound.
final class RejectedMessageLog: @unchecked Sendable {
    private let store: CrescentStore
    private let bound: Int
    private let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "crescent.rejected-messages")
    private let lock = NSLock()
    private var waiting: [RejectedMessage] = []
    private var drainScheduled = false
    private var droppedCount = 0

    init(store: CrescentStore, bound: Int = 10_000, log: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.bound = bound
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
    }
}
