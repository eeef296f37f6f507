import Dispatch
import Foundation
import Store

/// Commits batches on a background queue while the engine goes on, with at
/// most `depth` batches in flight (back-pressure, not an unbounded queue).
///
/// A batch is durable once ``drain()`` returns, or when the notifications
/// handed with it run (on the commit thread, right after its commit); the
/// first commit error is rethrown by the next ``submit(_:notifying:)`` or
/// ``drain()`` and handed to the notifications of every batch not committed,
/// and nothing after a failed batch is committed.
final class CommitPipeline: @unchecked Sendable {
    private let store: CrescentStore
    /// The commit thread (named `commit`).
    private let queue = SerialThread(name: "commit")
    private let slots: DispatchSemaphore
    private let depth: Int
    private let lock = NSLock()
    private var failure: (any Error)?
    /// Committed batches, handed back so the thread that built them frees
    /// them: a free on another thread locks the builder's malloc arena, and
    /// two threads fighting over it cost more than the commit itself.
    private var retired: [BatchBox] = []
    /// Told how long each commit took (seconds), on the commit thread.
    private var observer: (@Sendable (Double) -> Void)?
    /// Batches submitted and not yet committed.
    private var inFlight = 0
    /// Told once nothing is in flight (see ``commitNowOrWhenIdle(_:)``).
    private var idleWaiters: [@Sendable () -> Void] = []

    /// Told once a batch is committed (or could not be).
    typealias Notification = @Sendable (Result<Void, any Error>) -> Void

    final class BatchBox: @unchecked Sendable {
        var batch: WriteBatch
        init(_ batch: WriteBatch) { self.batch = batch }
    }

    init(store: CrescentStore, depth: Int = 2) {
        self.store = store
        self.slots = DispatchSemaphore(value: depth)
        self.depth = depth
    }

    deinit { queue.finish() }

    /// Whether a batch handed over now would queue without waiting for a slot.
    var hasFreeSlot: Bool { lock.withLock { inFlight < depth } }

    /// Queues a batch for commit; blocks while `depth` batches are in flight.
    /// `notifying` runs on the commit thread once the batch is committed.
    func submit(_ batch: WriteBatch, notifying waiters: [Notification] = []) throws {
        if let error = lock.withLock({ failure }) {
            for waiter in waiters { waiter(.failure(error)) }
            throw error
        }
        slots.wait()
        let done = lock.withLock { () -> [BatchBox] in
            inFlight += 1
            defer { retired.removeAll(keepingCapacity: true) }
            return retired
        }
        _ = done // freed here, on the submitting thread
        let box = BatchBox(batch)
        queue.async { [self] in
            defer {
                // Done with this batch, committed or not: shards waiting for the pipeline to go idle go on.
                let idle: [@Sendable () -> Void] = lock.withLock {
                    retired.append(box)
                    inFlight -= 1
                    guard inFlight == 0 else { return [] }
                    defer { idleWaiters.removeAll() }
                    return idleWaiters
                }
                slots.signal()
                for wake in idle { wake() }
            }
            if let error = lock.withLock({ failure }) {
                for waiter in waiters { waiter(.failure(error)) }
                return
            }
            do {
                let started = DispatchTime.now().uptimeNanoseconds
                try store.commit(box.batch)
                if let observer = lock.withLock({ observer }) {
                    observer(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                }
                for waiter in waiters { waiter(.success(())) }
                // A server's log starts over now and then (BackgroundCheckpoints); after the answers, not before.
                _ = try? store.restartLogIfLong()
            } catch {
                lock.withLock { failure = error }
                for waiter in waiters { waiter(.failure(error)) }
            }
        }
    }

    /// True when nothing is being committed, so a batch handed over now
    /// commits at once; otherwise `wake` (if any) runs when the commits in
    /// flight are done. A shard waiting for its batch's commit hands it over then: the
    /// events it processes meanwhile join it, and one commit serves them all.
    func commitNowOrWhenIdle(_ wake: (@Sendable () -> Void)?) -> Bool {
        lock.withLock {
            if inFlight == 0 { return true }
            if let wake { idleWaiters.append(wake) }
            return false
        }
    }

    /// Reports every later commit's duration in seconds (one observer; the last set wins).
    func observe(_ body: @escaping @Sendable (Double) -> Void) {
        lock.withLock { observer = body }
    }

    /// Waits until every queued batch is committed.
    func drain() throws {
        queue.sync()
        try rethrowFailure()
    }

    private func rethrowFailure() throws {
        if let error = lock.withLock({ failure }) { throw error }
    }
}
