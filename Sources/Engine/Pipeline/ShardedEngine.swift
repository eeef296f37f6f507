import Foundation
import Synchronization
import Store

/// The pipeline spread over shards: events are routed by customer (a stable
/// hash of the resolved customer id), so one customer's events run in order
/// on one shard, each shard on its own thread with its own Lua state.
///
/// Identities, message ids, counters (keyed by cards or IPs, so shared by
/// customers of every shard), global promotion limits and the commit queue
/// are shared. When an identify joins an anonymous history held by another
/// shard, that shard commits what it has and hands the customer over first.
/// Across shards, events of different customers interleave: counters keyed
/// across customers see them in arrival order, not file order.
public final class ShardedEngine: @unchecked Sendable {
    public let store: CrescentStore
    let shared: SharedState
    let commits: CommitPipeline
    private let workers: [ShardWorker]
    /// Events routed but not yet handed to their shard: handing them over
    /// in runs of `runLength` keeps thread wake-ups off the per-event path.
    private var pending: [[ShardJob]]
    private let routing = NSLock()
    /// The latest ``EngineReadings`` taken (see ``takeReadings(_:)``).
    let readingsBox = Mutex<EngineReadings?>(nil)
    private let runLength = 64
    /// Which shard holds each customer.
    private let placement: CustomerPlacement
    private var crossShardMerges = (placed: 0, handedOver: 0)

    /// Merges whose two identities fell on different shards, since the start:
    /// `placed` put a new customer on the shard already holding the identity
    /// merged in; `handedOver` moved a customer's state between shards.
    public var mergesAcrossShards: (placed: Int, handedOver: Int) { routing.withLock { crossShardMerges } }

    /// Opens `shards` engines (at least one) over one store.
    public init(store: CrescentStore, rulesDirectory: String, pluginsDirectory: String?,
                options: EngineOptions = EngineOptions(), shards: Int) throws {
        self.store = store
        let shared = try SharedState(store: store, recentKeys: options.recentKeys)
        let commits = CommitPipeline(store: store)
        self.shared = shared
        self.commits = commits
        var workers: [ShardWorker] = []
        let count = max(1, shards)
        let placement = CustomerPlacement(shards: count)
        self.placement = placement
        for index in 0..<count {
            workers.append(try ShardWorker(index: index, capacity: options.shardQueueEvents) {
                try Engine(store: store, rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory,
                           options: options, shared: shared, commits: commits, shard: index,
                           owns: { placement.shard(of: $0) == index })
            })
        }
        self.workers = workers
        self.pending = Array(repeating: [], count: workers.count)
    }

    deinit {
        // Routed events still waiting are handed over, then each thread ends
        // after its queue (a flush() before this makes them durable).
        for index in workers.indices { dispatchPending(index) }
        for worker in workers { worker.stop() }
    }

    public var shardCount: Int { workers.count }

    /// The default number of shards: the cores left once the reading
    /// (routing) thread and the commit thread have one each, at least one.
    /// Measured on 2 cores (docs/performance.md), two shards replay faster
    /// (100 k events: 26.9 k against 20.7 k events/s; a million: 20.3–21.3 k
    /// against 19.9–20.7 k) but ingest slower behind the server's request
    /// threads, and one shard keeps a replay's cross-customer counters in
    /// file order: the default stays one shard there.
    public static var defaultShards: Int { max(1, ProcessInfo.processInfo.activeProcessorCount - 2) }

    /// The loaded declarations and the rule set's version (the same on every shard).
    public var declarations: [RuleDeclaration] { workers[0].sync { $0.declarations } }
    public var rulesVersion: String { workers[0].sync { $0.rules.version } }

    /// The rule set's problems (the same on every shard).
    public var problems: [RuleProblem] { workers[0].sync { $0.problems } }

    /// Per-rule statistics, added up over the shards.
    public var stats: [String: RuleStats] { RuleStats.sum(workers.map { worker in worker.sync { $0.stats } }) }

    func shard(of customerId: String) -> Int { placement.shard(of: customerId) }

    static func shard(of customerId: String, count: Int) -> Int { CustomerPlacement.hashShard(of: customerId, count: count) }

    /// Reads in one go which of `messageIds` the store already holds, ahead
    /// of submitting their events (a request's batch), so that the
    /// duplicate check of each needs no read of its own. A no-op on a store
    /// that held no event at start.
    public func checkStored(messageIds: [String]) { shared.checkStored(messageIds) }

    /// Routes an event to its shard; `completion` runs there once it is processed.
    /// Blocks when the shard's queue is full (back-pressure).
    public func submit(_ event: Event, _ completion: @escaping @Sendable (Result<EventOutcome, any Error>) -> Void) {
        submit(event, afterCommit: false, completion)
    }

    /// Routes an event to its shard; `completion` runs once the event is
    /// committed, on the commit thread (a duplicate completes at once). The
    /// shard hands its batch over at its next job boundary when no commit is
    /// in flight, else as soon as the commits in flight are done: events that
    /// arrive together share one commit, and nobody waits for a full batch.
    ///
    /// An `urgent` event (`/v1/decide`: a checkout waits for it) goes before
    /// the events queued on its shard, unless it merges a customer owned by
    /// another shard (it then waits for that shard's hand-over, in order).
    public func submitCommitted(_ event: Event, urgent: Bool = false,
                                _ completion: @escaping @Sendable (Result<EventOutcome, any Error>) -> Void) {
        submit(event, afterCommit: true, urgent: urgent, completion)
    }

    private func submit(_ event: Event, afterCommit: Bool, urgent: Bool = false,
                        _ completion: @escaping @Sendable (Result<EventOutcome, any Error>) -> Void) {
        guard shared.claim(event.messageId) else {
            // Seen before: nothing happens again. But an answer after commit
            // says the message is durable, and the original may still be
            // queued or in a commit in flight (a client retrying at once):
            // answer once what the shards hold now is committed.
            guard afterCommit else {
                completion(.success(.duplicate(event.messageId)))
                return
            }
            whenEverythingCommitted { error in
                completion(error.map { .failure($0) } ?? .success(.duplicate(event.messageId)))
            }
            return
        }
        routing.lock()
        defer { routing.unlock() }
        let route = shared.route(event)
        var target = shard(of: route.customerId)
        if let owner = route.mergeFrom, case let source = shard(of: owner), source != target,
           placement.placeIfNew(route.customerId, on: source, isStored: { [store, shared] in
               // A store empty at the start holds only customers routed since.
               if shared.freshStore { return false }
               do { return try store.hasCustomer(id: route.customerId) } catch { return true }
           }) {
            target = source // a new customer starts where the identity they merge in is: nothing travels
            crossShardMerges.placed += 1
        }
        placement.noteRouted(route.customerId)
        var adopted: CustomerHandOver?
        if let owner = route.mergeFrom, shard(of: owner) != target {
            // The owner's shard finishes its earlier events and lets go (its
            // batch records the merge too: no commit of its own is needed).
            // Nobody waits here: the adopting shard waits, when it reaches
            // this event, for a hand-over queued before it (see CustomerHandOver).
            let source = shard(of: owner)
            dispatchPending(source)
            let survivor = route.customerId
            crossShardMerges.handedOver += 1
            let handOver = CustomerHandOver()
            workers[source].async { engine in handOver.deliver(engine.state.handOver(owner, mergingInto: survivor)) }
            adopted = handOver
        }
        let job = ShardJob(event: event, route: route, adopted: adopted, afterCommit: afterCommit, completion: completion)
        if urgent && adopted == nil {
            // The customer's events routed before it go first (the shard takes them out of its queue).
            dispatchPending(target)
            workers[target].async(urgent: job)
            return
        }
        pending[target].append(job)
        if pending[target].count >= runLength { dispatchPending(target) }
    }

    /// Hands a shard its routed events (call with `routing` held).
    private func dispatchPending(_ index: Int) {
        let run = pending[index]
        guard !run.isEmpty else { return }
        pending[index] = []
        workers[index].async(events: run)
    }

    /// Hands every shard the events routed to it so far (a request's last
    /// events should not wait for a full run of 64).
    public func dispatchAllPending() { dispatchAll() }

    private func dispatchAll() {
        routing.withLock {
            for index in workers.indices { dispatchPending(index) }
        }
    }

    /// Processes one event and waits for its outcome.
    public func process(_ event: Event) throws -> EventOutcome {
        let box = ResultBox()
        submit(event) { box.set($0) }
        dispatchAll()
        return try box.wait()
    }

    /// Reports how long each later group commit takes (seconds), on the commit thread.
    public func observeCommits(_ body: @escaping @Sendable (Double) -> Void) {
        commits.observe(body)
    }

    /// Commits everything processed so far and waits until it is durable.
    public func flush() throws {
        dispatchAll()
        for worker in workers { try worker.sync { try $0.submitBatch() } }
        try commits.drain()
    }

    /// Entry → times it matched a rule's lookup since start.
    public func listHits(_ list: String) -> [String: Int] { shared.hits(ofList: list) }

    /// Every list held (declared in a rule file or filled through the admin API), by name.
    public func listSizes() -> [String: ListSize] { shared.listSizes() }

    /// Adds a value to a list, for every shard at once and in the store.
    public func addListEntry(_ list: String, _ value: String, source: String = "admin") throws -> Bool {
        _ = shared.addListValue(list, value)
        return try store.addListEntry(list, value, source: source, at: Int64(Date().timeIntervalSince1970 * 1000))
    }

    /// Removes a value from a list, for every shard at once and in the store;
    /// a value a rule file declares stays (the file would bring it back at the
    /// next reload): ``ListEntryDeclared`` names the file to edit instead.
    public func removeListEntry(_ list: String, _ value: String) throws -> Bool {
        if let file = shared.declaringFile(list, value) { throw ListEntryDeclared(list: list, value: value, file: file) }
        _ = shared.removeListValue(list, value)
        return try store.removeListEntry(list, value)
    }

    /// Erases a customer (see ``CrescentStore/eraseCustomer(_:at:)``): their
    /// shard commits what it has, drops what it holds in memory, and the
    /// store keeps only anonymised aggregates. Nil when the customer is unknown.
    public func forget(customerId id: String) throws -> [String: Int]? {
        dispatchAll()
        let counts = try workers[shard(of: id)].sync { engine in try engine.forget(customerId: id) }
        shared.forgetIdentities(of: id)
        return counts
    }

    /// Moves every shard's clock to `time`: due journey timers and schedules fire, in time order per shard.
    public func advance(to time: Int64) throws { try advance(to: time, missedRuns: .each) }

    /// The same, with schedules several runs behind run as `missedRuns` says.
    public func advance(to time: Int64, missedRuns: MissedScheduleRuns) throws {
        dispatchAll()
        for worker in workers { try worker.sync { try $0.advance(to: time, missedRuns: missedRuns) } }
    }

    /// Queues the same move on every shard, ahead of any event routed after
    /// it, and returns at once; `done` runs on a shard's thread when every
    /// shard has moved, with the first error if one failed.
    public func startAdvance(to time: Int64, missedRuns: MissedScheduleRuns, done: @escaping @Sendable ((any Error)?) -> Void) {
        let countdown = ShardCountdown(workers.count)
        withRoutingHeld {
            for worker in workers {
                worker.async { engine in
                    var failure: (any Error)?
                    do { try engine.advance(to: time, missedRuns: missedRuns) } catch { failure = error }
                    if let finished = countdown.arrive(failure) { done(finished) }
                }
            }
        }
    }

    /// Runs `done` (on the commit thread) once everything routed so far, on
    /// every shard, is committed, with the first error if a commit failed.
    private func whenEverythingCommitted(_ done: @escaping @Sendable ((any Error)?) -> Void) {
        let countdown = ShardCountdown(workers.count)
        withRoutingHeld {
            for worker in workers {
                worker.async { engine in
                    engine.whenCommitted { result in
                        var failure: (any Error)?
                        if case .failure(let error) = result { failure = error }
                        if let finished = countdown.arrive(failure) { done(finished) }
                    }
                }
            }
        }
    }

    /// What the shards' clocks did besides events, summed.
    public var clockWork: ClockWork { workers.map { worker in worker.sync { $0.clockWork } }.reduce(ClockWork(), +) }

    /// Actions the shards put in the outbox so far, by kind, summed.
    public var actionsMade: [String: Int] {
        workers.map { worker in worker.sync { $0.actionsMade } }.reduce(into: [:]) { sum, shard in sum.merge(shard, uniquingKeysWith: +) }
    }

    /// What loading did to journey instances of earlier rule versions, summed over shards.
    public var journeyMigrations: [JourneyMigration] {
        JourneyMigration.merged(workers.flatMap { worker in worker.sync { $0.journeyMigrations } })
    }

    /// Runs `body` with routing held and every routed event handed to its
    /// shard: no new event reaches a shard until it returns.
    func withRoutingHeld<T>(_ body: () throws -> T) rethrows -> T {
        routing.lock()
        defer { routing.unlock() }
        for index in workers.indices { dispatchPending(index) }
        return try body()
    }

    /// Runs `body` on a shard's thread, after the jobs queued before it, and waits.
    func onShard<T>(_ index: Int, _ body: @escaping (Engine) throws -> T) throws -> T { try workers[index].sync(body) }

    /// Queues `body` on a shard's thread without waiting.
    func onShardAsync(_ index: Int, _ body: @escaping (Engine) -> Void) { workers[index].async(body) }

    /// Queues `body` on every shard's thread without waiting.
    func onEveryShardAsync(_ body: @escaping (Int, Engine) -> Void) {
        for (index, worker) in workers.enumerated() { worker.async { body(index, $0) } }
    }

    /// Runs `body` on every shard, one after the other, and waits.
    func forEachShard(_ body: @escaping (Engine) -> Void) { for worker in workers { worker.sync(body) } }

    /// The time to give an event that arrives without one.
    public var clockHint: Int64 { workers[0].sync { $0.clockHint } }
}

/// A one-shot result handed from a shard thread to a waiting caller.
/// Counts the shards that are done with a job given to all of them.
private final class ShardCountdown: @unchecked Sendable {
    private let lock = NSLock()
    private var left: Int
    private var error: (any Error)?
    init(_ count: Int) { left = count }

    /// Records one shard's end; returns the first error (or nil inside) once the last one ends.
    func arrive(_ failure: (any Error)?) -> (any Error)?? {
        lock.withLock {
            error = error ?? failure
            left -= 1
            return left == 0 ? .some(error) : .none
        }
    }
}

final class ResultBox: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<EventOutcome, any Error>?
    func set(_ value: Result<EventOutcome, any Error>) {
        result = value
        done.signal()
    }
    func wait() throws -> EventOutcome {
        done.wait()
        return try result!.get()
    }
}

/// A list value the admin API may not remove: a rule file declares it, and
/// would bring it back at the next reload. Remove it from `file` instead.
public struct ListEntryDeclared: Error, Sendable, CustomStringConvertible {
    public let list: String
    public let value: String
    /// The rule file declaring it, named as `GET /v1/rules` names it.
    public let file: String

    public var description: String {
        "\"\(value)\" is declared in \(file) (list \"\(list)\"): remove it there, the rule files win at every reload"
    }
}

/// The size of one list (see ``ShardedEngine/listSizes()``).
public struct ListSize: Sendable, Equatable {
    /// Entries in all.
    public var entries: Int
    /// Of those, the ones a rule file's `list` declaration holds.
    public var fromFiles: Int
    /// The ones rules added (`act:list_add`); the rest came through the admin API.
    public var fromRules: Int
    /// Lookups that matched one of its entries since the process started.
    public var hits: Int

    /// A list declared with no entries.
    public static let empty = ListSize(entries: 0, fromFiles: 0, fromRules: 0, hits: 0)
}
