import Foundation
import LuaKit
import Store

/// One shard's in-memory state: its customers and the batch being built,
/// over the ``SharedState`` every shard sees. Customers are loaded lazily
/// from the store and written behind in each batch.
final class EngineState {
    let store: CrescentStore
    let shared: SharedState
    /// The clock rules see: the current event's time during replays. Kept
    /// in a cell that the rules' `now()` reads without entering Swift.
    var now: Int64 {
        get { nowCell.pointee }
        set { nowCell.pointee = newValue }
    }
    private let nowCell: UnsafeMutablePointer<Int64> = {
        let cell = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        cell.initialize(to: 0)
        return cell
    }()
    /// Where ``now`` lives, for ``RuleHost/nowCell`` (valid while this state lives).
    var nowPointer: UnsafePointer<Int64> { UnsafePointer(nowCell) }
    var customers: [String: CustomerState] = [:]
    /// Which customers the next segment sweep must look at.
    var segmentWatch = SegmentWatch()
    /// The rule set epoch of the last sweep that looked at every customer
    /// (after a reload the next sweep looks at all of them again).
    var segmentWatchEpoch = 0
    /// A segment sweep going on in slices (``EngineOptions/sweepSlice``).
    var sweep: SweepInProgress?
    /// Journey timers a catch-up set aside (``EngineOptions/timerSlice``).
    var overdueTimers: OverdueTimers?

    /// Forgets what a customer's segments read (they all run at the next
    /// evaluation) and has the next sweep look at it.
    func invalidateSegments(of customer: CustomerState) {
        customer.invalidateSegments()
        segmentWatch.watch(customer, at: .min)
    }
    /// The rule state in use, whose volatile-read count the host adds to.
    /// Weak: that state's host functions hold this state (a cycle would
    /// keep both, and the store, alive after the engine is gone).
    weak var lua: LuaState?

    /// Counts a host read of state that changes on its own or with other
    /// customers (counters, lists, trends, RFM recency) in the rule state's
    /// ``LuaKit/LuaState/volatileReads``: a segment that made one runs every time.
    func noteVolatileRead() { lua?.countVolatileRead() }
    /// The customer whose table `c` the rules see now (set by each `begin`).
    var currentCustomer: CustomerState?
    /// The event (and its order) whose table `e` the rules see now.
    var currentEvent: Event?
    var currentOrder: OrderRow?
    /// Customers changed since the last commit.
    var dirty: Set<String> = []
    /// Orders touched in this run, by id.
    var orders: [String: OrderRow] = [:]
    /// customer → promotion (with its key, see ``firesName(_:key:)``) →
    /// times it fired. By customer first, so a merge, a hand-over or an
    /// eviction touches only that customer's entries.
    var fires: [String: [String: [Int64]]] = [:]
    var batch = WriteBatch()
    /// The most recent log lines (see ``log(_:)``), at most twice ``logLinesKept``.
    private(set) var logLines: [String] = []
    var logLinesKept = 1_000
    var logSink: (@Sendable (String) -> Void)?
    /// Active journey instances and their timers.
    let journeys = JourneyBook()
    /// Schedule name → when it is next due (set once the clock first moves).
    var scheduleDue: [String: Int64] = [:] { didSet { earliestScheduleDue = nil } }
    /// The earliest of `scheduleDue` among the schedules this shard runs
    /// (`Int64.max` for none), kept until `scheduleDue` changes.
    var earliestScheduleDue: Int64?
    /// Schedule name → when it last ran (from the store at start).
    var scheduleLastRun: [String: Int64] = [:]
    /// The furthest time the clock has reached (events and timers).
    var clock: Int64 = 0
    /// Journey step counters since the last batch.
    var stepCounts: [StepCountKey: Int] = [:]
    /// Time zones by name, resolved once.
    var zones: [String: TimeZone] = [:]

    /// True while everything that exists is in memory: the store held no
    /// event at start and no customer has been evicted since.
    var freshStore: Bool { shared.freshStore && !evictedAny }
    /// Batches submitted so far (the bounded cache evicts by it).
    var batchNumber = 0
    var evictedAny = false
    /// Customers evicted from memory so far.
    var evictions = 0
    /// The ids of the customers evicted so far (made at the first eviction):
    /// when the store held no event at start, a customer not in memory and
    /// not among them is new, and costs no store read. Without it, a stream
    /// of new customers past the cache's bound read the store once each, to
    /// find nothing: a million journey entries took 306 s instead of 24.
    private var evictedCustomers: StringBloomFilter?

    /// Whether the store may hold something of customer `id` that memory
    /// does not: not when the store was fresh and `id` was never evicted.
    func mayBeStored(customer id: String) -> Bool {
        guard shared.freshStore else { return true }
        return evictedCustomers?.mightContain(id) ?? false
    }

    /// Writes a line to the engine's log: a rule's `log(...)`, a rule
    /// disabled after repeated errors, a failed schedule run, journey
    /// migrations, schedule runs skipped after a stop. The sink (standard
    /// error, for the commands) gets every line; memory keeps the latest.
    func log(_ line: String) {
        logSink?(line)
        logLines.append(line)
        if logLines.count >= 2 * max(1, logLinesKept) { logLines.removeFirst(logLines.count - logLinesKept) }
    }

    init(store: CrescentStore, shared: SharedState) {
        self.store = store
        self.shared = shared
    }

    deinit { nowCell.deallocate() }

    func customer(_ id: String) throws -> CustomerState {
        if let cached = customers[id] {
            cached.lastUsedBatch = batchNumber
            if !cached.complete {
                if let snapshot = try store.customerSnapshots(ids: [id])[id] { cached.fill(from: snapshot) } else { cached.complete = true }
                invalidateSegments(of: cached)
            }
            return cached
        }
        let stored = mayBeStored(customer: id) ? try CustomerState.loadMany([id], from: store)[id] : nil
        let loaded = stored ?? CustomerState(row: CustomerRow(id: id))
        if stored == nil { loaded.bornInBatch = batchNumber }
        loaded.lastUsedBatch = batchNumber
        customers[id] = loaded
        segmentWatch.watch(loaded, at: .min)
        return loaded
    }

    /// Reads, in bulk, the customers among `ids` that memory lacks and the
    /// store may hold, so that the events queued for them find them in
    /// memory: a restarted engine otherwise reads each customer on its
    /// first event, nine queries at a time. Those the store does not hold
    /// are made new, as ``customer(_:)`` would. A no-op on a fresh store.
    func prefetch(customers ids: [String]) throws {
        var missing: [String] = []
        var seen = Set<String>()
        for id in ids where customers[id] == nil && mayBeStored(customer: id) && seen.insert(id).inserted { missing.append(id) }
        guard missing.count > 1 else { return } // one: customer(_:) reads it as cheaply
        let loaded = try CustomerState.loadMany(missing, from: store)
        for id in missing {
            let customer = loaded[id] ?? CustomerState(row: CustomerRow(id: id))
            if loaded[id] == nil { customer.bornInBatch = batchNumber }
            customer.lastUsedBatch = batchNumber
            customers[id] = customer
            segmentWatch.watch(customer, at: .min)
        }
    }

    /// Hands a customer, and the orders cached for it, over to another
    /// shard (after a merge moved it there).
    func surrender(_ id: String) -> (customer: CustomerState?, orders: [OrderRow], fires: [String: [Int64]],
                                     instances: [JourneyInstance]) {
        // Write what is pending for this customer before another shard owns it.
        if dirty.remove(id) != nil, let customer = customers[id] { batch.customers[id] = customer.syncedRow() }
        let handed = orders.values.filter { $0.customerId == id }
        for order in handed { orders[order.id] = nil }
        let handedFires = fires.removeValue(forKey: id) ?? [:]
        return (customers.removeValue(forKey: id), handed, handedFires, journeys.surrender(id))
    }

    /// ``surrender(_:)`` for a merge of `id` into `survivor` on another
    /// shard, without committing this shard's batch first. The batch keeps
    /// the customer's new rows (events, decisions, outbox, ...) and records
    /// the merge itself, so whichever of the two shards' batches commits
    /// last, those rows end under the survivor. Rows kept by key (the
    /// customer, orders, carts, journey instances) leave with the customer:
    /// the adopting shard writes them from then on, and an older copy
    /// committed after its newer one would overwrite it.
    func handOver(_ id: String, mergingInto survivor: String) -> TransferredCustomer {
        let handed = surrender(id)
        var rows = TransferredCustomer.PendingRows()
        rows.customer = batch.customers.removeValue(forKey: id)
        for orderId in Set(handed.orders.map(\.id) + (handed.customer?.orders.map(\.id) ?? [])) {
            if let order = batch.orders.removeValue(forKey: orderId) { rows.orders.append(order) }
        }
        for cartId in handed.customer.map({ Array($0.carts.keys) }) ?? [] {
            if let cart = batch.carts.removeValue(forKey: cartId) { rows.carts.append((cartId, cart)) }
        }
        for instance in handed.instances {
            if let row = batch.journeyInstances.removeValue(forKey: instance.id) {
                rows.instances.append((row, batch.newJourneyInstances.remove(instance.id) != nil))
            }
        }
        if handed.customer?.row.firstSeen != nil { batch.merges.append((id, survivor)) }
        return TransferredCustomer(handed, pending: rows)
    }

    // MARK: Counters (shared)

    func count(_ counter: String, _ key: String, window: Int64) -> Int {
        shared.count(counter, key, window: window, now: now)
    }

    func distinct(_ counter: String, _ key: String, window: Int64) -> Int {
        shared.distinct(counter, key, window: window, now: now)
    }

    func addHit(_ counter: String, _ key: String, value: String?) {
        shared.addHit(counter, key, value: value, now: now)
        batch.counterHits.append((counter, key, now, value))
    }

    // MARK: The bounded customer cache

    /// Drops the least recently used customers (with their cached orders and
    /// promotion fires) once more than `limit` are held, down to 90% of it.
    /// Only customers untouched for three batches go: their last changes are
    /// committed (at most two batches are ever in flight), so a later load
    /// reads them back. Customers with active journey instances are reloaded
    /// when a timer needs them.
    func evict(limit: Int) {
        guard customers.count > limit else { return }
        let target = limit * 9 / 10
        let candidates = customers.values
            .filter { $0.lastUsedBatch <= batchNumber - 3 && !dirty.contains($0.row.id) }
            .sorted { $0.lastUsedBatch < $1.lastUsedBatch }
        var gone = Set<String>()
        for customer in candidates.prefix(customers.count - target) {
            customers[customer.row.id] = nil
            gone.insert(customer.row.id)
        }
        guard !gone.isEmpty else { return }
        evictedAny = true
        if evictedCustomers == nil { evictedCustomers = StringBloomFilter(bits: 1 << 24) } // 2 MiB
        for id in gone { evictedCustomers?.insert(id) }
        evictions += gone.count
        orders = orders.filter { order in order.value.customerId.map { !gone.contains($0) } ?? true }
        for id in gone { fires[id] = nil }
    }
}
