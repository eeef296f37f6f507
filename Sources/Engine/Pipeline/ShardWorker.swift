import Foundation
import Store

/// A thread that owns one ``Engine`` (and so one Lua state) for its whole
/// life and runs jobs on it in order, from a bounded queue.
final class ShardWorker: @unchecked Sendable {
    typealias Job = (Engine) -> Void
    /// What the queue holds: work on the engine, or routed events to process.
    private enum Work {
        case job(Job)
        case events
    }
    private let condition = NSCondition()
    /// The queue, in order; `.events` entries take their events from `eventRuns`, in the same order.
    private var jobs: [Work] = []
    /// The routed events of the queue's `.events` entries, oldest first.
    private var eventRuns: [[ShardJob]] = []
    /// Events that go before the queue (a checkout's decision, not behind a burst of ingest).
    private var urgentEvents: [ShardJob] = []
    /// Events in the queued jobs, and at most how many (see ``EngineOptions/shardQueueEvents``).
    private var queuedEvents = 0
    private let capacity: Int
    private var stopping = false

    init(index: Int, capacity: Int, make: @escaping @Sendable () throws -> Engine) throws {
        self.capacity = max(1, capacity)
        let ready = DispatchSemaphore(value: 0)
        final class Startup: @unchecked Sendable { var error: (any Error)? }
        let startup = Startup()
        let thread = Thread { [self] in
            ThreadName.set("shard-\(index)") // (`top -H`, `perf`; not Foundation's `name`, which can miss a thread just started)
            let engine: Engine
            do {
                engine = try make()
            } catch {
                startup.error = error
                ready.signal()
                return
            }
            ready.signal()
            // What a catch-up left in slices (overdue timers, a sweep) takes turns with the queued jobs.
            var sliceNext = false
            while true {
                condition.lock()
                // Someone waits for the batch: commit it at this job boundary
                // if no commit is in flight, else once they are done (group
                // commit: what is processed meanwhile joins this batch).
                if !stopping && engine.hasCommitWaiters {
                    if engine.commits.commitNowOrWhenIdle(idleWakeRequested ? nil : wakeWhenIdle) {
                        condition.unlock()
                        engine.commitIfAwaited()
                        continue
                    }
                    idleWakeRequested = true
                }
                // Once stopping, a sweep left unfinished is not recorded as run and overdue timers stay
                // stored as due: both run again after a restart.
                let sweeping = !stopping && engine.catchUpWaiting > 0
                if let urgent = urgentEvents.first {
                    urgentEvents.removeFirst()
                    // The same customer's events queued before it still go first.
                    let earlier = ShardJob.takeEarlier(of: urgent, from: &eventRuns)
                    queuedEvents -= 1 + earlier.count
                    let running = !stopping
                    condition.broadcast()
                    condition.unlock()
                    ShardJob.run(earlier + [urgent], on: engine)
                    // Its batch goes to the commit queue at once, behind a commit in flight rather than
                    // after it (the ingest events processed meanwhile would make its commit longer),
                    // unless the queue is full: then it joins the next group commit as usual.
                    if running && engine.commits.hasFreeSlot { engine.commitIfAwaited() }
                    continue
                }
                if jobs.isEmpty && !stopping && !sweeping {
                    condition.wait() // a job, the commits going idle, or the stop
                    condition.unlock()
                    continue
                }
                if jobs.isEmpty && stopping {
                    condition.unlock()
                    return
                }
                if sweeping && (jobs.isEmpty || sliceNext) {
                    sliceNext = false
                    condition.unlock()
                    engine.runCatchUpSlice()
                    continue
                }
                sliceNext = true
                switch jobs.removeFirst() {
                case .job(let job):
                    queuedEvents -= 1
                    condition.broadcast()
                    condition.unlock()
                    job(engine)
                case .events:
                    let run = eventRuns.removeFirst()
                    queuedEvents -= run.count
                    let ahead = prefetchedAhead > 0 || engine.state.freshStore ? [] : customersAhead(run)
                    prefetchedAhead -= run.count
                    condition.broadcast()
                    condition.unlock()
                    if !ahead.isEmpty { try? engine.state.prefetch(customers: ahead) }
                    ShardJob.run(run, on: engine)
                }
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
        ready.wait()
        if let error = startup.error { throw error }
    }

    /// Queued events (from the run being taken on) whose customers were
    /// already read in bulk (under `condition`).
    private var prefetchedAhead = 0

    /// The customers of `run` and of the runs queued after it, up to 512
    /// events, for a bulk read (not those a hand-over from another shard
    /// brings: its copy is the newer). Sets how many events that covers.
    /// Under `condition`.
    private func customersAhead(_ run: [ShardJob]) -> [String] {
        var ids: [String] = []
        var covered = 0
        func add(_ jobs: [ShardJob]) {
            for job in jobs where covered < 512 {
                covered += 1
                guard job.adopted == nil else { continue }
                ids.append(job.route.customerId)
                if let merged = job.route.mergeFrom { ids.append(merged) }
            }
        }
        add(run)
        for queued in eventRuns where covered < 512 { add(queued) }
        prefetchedAhead = covered
        return ids
    }

    /// Whether the commit pipeline will wake this thread when idle (under `condition`).
    private var idleWakeRequested = false

    /// Run by the commit pipeline once its commits are done.
    private func wakeWhenIdle() {
        condition.lock()
        idleWakeRequested = false
        condition.broadcast()
        condition.unlock()
    }

    /// Lets the thread end once its queue is empty.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Queues a job (it counts as one event); blocks while the queue is full.
    func async(_ job: @escaping Job) {
        enqueue(count: 1) { jobs.append(.job(job)) }
    }

    /// Queues routed events to process in order; blocks while they would put
    /// more than the capacity in the queue.
    func async(events run: [ShardJob]) {
        enqueue(count: run.count) {
            jobs.append(.events)
            eventRuns.append(run)
        }
    }

    /// Queues an event that runs before the queued jobs, once the job running
    /// ends, after the events of its customer queued before it
    /// (``ShardJob/takeEarlier(of:from:)``).
    func async(urgent job: ShardJob) {
        enqueue(count: 1) { urgentEvents.append(job) }
    }

    private func enqueue(count: Int, _ add: () -> Void) {
        condition.lock()
        while queuedEvents > 0 && queuedEvents + count > capacity { condition.wait() }
        add()
        queuedEvents += count
        condition.broadcast()
        condition.unlock()
    }

    func sync<T>(_ body: @escaping (Engine) throws -> T) throws -> T {
        let box = SyncBox<T>()
        let done = DispatchSemaphore(value: 0)
        async { engine in
            box.value = Result { try body(engine) }
            done.signal()
        }
        done.wait()
        return try box.value!.get()
    }

    func sync<T>(_ body: @escaping (Engine) -> T) -> T {
        let box = SyncBox<T>()
        let done = DispatchSemaphore(value: 0)
        async { engine in
            box.value = .success(body(engine))
            done.signal()
        }
        done.wait()
        return try! box.value!.get()
    }
}

/// Carries a job's result back to the thread waiting for it.
final class SyncBox<T>: @unchecked Sendable {
    var value: Result<T, any Error>?
}
