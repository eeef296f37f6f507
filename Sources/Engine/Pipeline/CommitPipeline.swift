import Dispatch
import Foundation
import Store

/// Commits batches on a background queue while the engine goes on, with at
/// most `depth` batches in flight (back-pressure, not an unbounded queue).
///
/// A batch is durable once ``drain()`` returns; the first commit error is
/// rethrown by the next ``submit(_:)`` or ``drain()``, and nothing after a
/// failed batch is committed.
final class CommitPipeline: @unchecked Sendable {
    private let store: CrescentStore
    private let queue = DispatchQueue(label: "crescent.commit")
    private let slots: DispatchSemaphore
    private let lock = NSLock()
    private var failure: (any Error)?
    /// Committed batches, handed back so the thread that built them frees
    /// them: a free on another thread locks the builder's malloc arena, and
    /// two threads fighting over it cost more than the commit itself.
    private var retired: [BatchBox] = []
    /// Told how long each commit took (seconds), on the commit thread.
    private var observer: (@Sendable (Double) -> Void)?

    final class BatchBox: @unchecked Sendable {
        var batch: WriteBatch
        init(_ batch: WriteBatch) { self.batch = batch }
    }

    init(store: CrescentStore, depth: Int = 2) {
        self.store = store
        self.slots = DispatchSemaphore(value: depth)
    }

    /// Queues a batch for commit; blocks while `depth` batches are in flight.
    func submit(_ batch: WriteBatch) throws {
        try rethrowFailure()
        slots.wait()
        let done = lock.withLock { () -> [BatchBox] in
            defer { retired.removeAll(keepingCapacity: true) }
            return retired
        }
        _ = done // freed here, on the submitting thread
        let box = BatchBox(batch)
        queue.async { [self] in
            defer { slots.signal() }
            if lock.withLock({ failure != nil }) { return }
            do {
                let started = DispatchTime.now().uptimeNanoseconds
                try store.commit(box.batch)
                if let observer = lock.withLock({ observer }) {
                    observer(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                }
            } catch {
                lock.withLock { failure = error }
            }
            lock.withLock { retired.append(box) }
        }
    }

    /// Reports every later commit's duration in seconds (one observer; the last set wins).
    func observe(_ body: @escaping @Sendable (Double) -> Void) {
        lock.withLock { observer = body }
    }

    /// Waits until every queued batch is committed.
    func drain() throws {
        queue.sync {}
        try rethrowFailure()
    }

    private func rethrowFailure() throws {
        if let error = lock.withLock({ failure }) { throw error }
    }
}
