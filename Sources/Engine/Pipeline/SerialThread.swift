import Foundation
import Store

/// A thread of its own that runs the closures handed to it one at a time, in
/// order: a serial queue whose work always runs on the same, named thread
/// (a dispatch queue borrows whichever pooled thread is free, so `top -H`
/// and `perf` cannot tell its work apart, and frees land in other arenas).
///
/// The thread ends once ``finish()`` is called and the closures queued
/// before it have run.
final class SerialThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [() -> Void] = []
    private var finishing = false

    /// Starts the thread; `name` is cut to the 15 characters Linux keeps.
    init(name: String) {
        let thread = Thread { [self] in
            ThreadName.set(name) // (not Foundation's `name`, which can miss a thread just started)
            while let next = take() { next() }
        }
        thread.start()
    }

    private func take() -> (() -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while work.isEmpty && !finishing { condition.wait() }
        return work.isEmpty ? nil : work.removeFirst()
    }

    /// Queues `body` to run after everything queued before it.
    func async(_ body: @escaping () -> Void) {
        condition.lock()
        work.append(body)
        condition.signal()
        condition.unlock()
    }

    /// Waits until everything queued before this call has run.
    func sync() {
        let done = DispatchSemaphore(value: 0)
        async { done.signal() }
        done.wait()
    }

    /// Lets the thread end once its queue is empty.
    func finish() {
        condition.lock()
        finishing = true
        condition.signal()
        condition.unlock()
    }
}
