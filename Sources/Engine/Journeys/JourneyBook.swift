import Foundation
import Store

/// A journey instance in memory: its stored row and its variables.
final class JourneyInstance {
    var row: JourneyInstanceRow
    /// `trigger` (the entry event's properties) and values steps produced (`coupon`).
    var vars: [String: JSONValue]
    /// Whether a batch holding its row has been written or queued (later writes update it).
    var stored = false

    init(row: JourneyInstanceRow, vars: [String: JSONValue]) {
        self.row = row
        self.vars = vars
    }

    /// An instance read from the store.
    convenience init(row: JourneyInstanceRow) {
        self.init(row: row, vars: (try? JSONValue.parse(Data(row.vars.utf8)))?.object ?? [:])
        stored = true
    }

    var id: Int64 { row.id }
    var isActive: Bool { row.status == "active" }
}

/// One shard's active journey instances, by id and by customer, with their
/// timers. Ended instances leave the book (they stay in the store).
final class JourneyBook {
    private(set) var instances: [Int64: JourneyInstance] = [:]
    private var byCustomer: [String: [Int64]] = [:]
    var timers = TimerQueue<Int64>()
    /// "journey␟customer␟key" → when that key last entered (this run, or loaded).
    private var lastEntries: [String: Int64] = [:]

    /// Every event some instance was parked waiting for (`wait_until`),
    /// since the book began: an event not in it, nor a journey's exit or
    /// goal, concerns no instance, and the journeys phase skips the
    /// customer's instances.
    private(set) var awaitedEvents: Set<String> = []

    var activeCount: Int { instances.count }

    /// Adds an active instance and its timer, if it has one.
    func add(_ instance: JourneyInstance) {
        instances[instance.id] = instance
        byCustomer[instance.row.customerId, default: []].append(instance.id)
        noteEntry(instance.row)
        arm(instance)
    }

    /// Takes every active instance out, oldest first, with their timers (a
    /// reload maps them onto the new definitions and adds them back);
    /// entry times stay for re-entry limits.
    func takeAll() -> [JourneyInstance] {
        let all = instances.values.sorted { $0.id < $1.id }
        instances = [:]
        byCustomer = [:]
        timers = TimerQueue<Int64>()
        return all
    }

    /// Takes an ended instance out.
    func remove(_ instance: JourneyInstance) {
        instances[instance.id] = nil
        byCustomer[instance.row.customerId]?.removeAll { $0 == instance.id }
        if byCustomer[instance.row.customerId]?.isEmpty == true { byCustomer[instance.row.customerId] = nil }
    }

    /// Arms the instance's timer (call after setting `wakeAt`).
    func arm(_ instance: JourneyInstance) {
        if let at = instance.row.wakeAt { timers.insert(at: at, id: instance.id) }
        if let event = instance.row.waitingFor { awaitedEvents.insert(event) }
    }

    /// A customer's active instances, oldest first.
    func active(_ customerId: String) -> [JourneyInstance] {
        (byCustomer[customerId] ?? []).compactMap { instances[$0] }
    }

    func active(journey: String, customerId: String, key: String) -> JourneyInstance? {
        active(customerId).first { $0.row.journey == journey && $0.row.key == key }
    }

    func lastEntry(journey: String, customerId: String, key: String) -> Int64? {
        lastEntries[Self.entryKey(journey, customerId, key)]
    }

    func noteEntry(_ row: JourneyInstanceRow) {
        let key = Self.entryKey(row.journey, row.customerId, row.key)
        lastEntries[key] = max(lastEntries[key] ?? .min, row.enteredAt)
    }

    /// Hands a customer's instances over (a merge moved the customer to another shard).
    func surrender(_ customerId: String) -> [JourneyInstance] {
        let handed = active(customerId)
        for instance in handed { remove(instance) }
        return handed
    }

    /// Moves a customer's instances to another customer (a merge). An
    /// instance whose journey and key the other customer already runs ends
    /// instead (status `exited`), so nobody gets a journey's messages twice.
    func reassign(from: String, to: String, at time: Int64) -> [JourneyInstance] {
        let moved = active(from)
        for instance in moved {
            remove(instance)
            if let kept = active(journey: instance.row.journey, customerId: to, key: instance.row.key) {
                instance.row.status = "exited"
                instance.row.exitReason = "merged: the customer already runs instance \(kept.id)"
                instance.row.wakeAt = nil
                instance.row.updatedAt = time
                continue
            }
            instance.row.customerId = to
            instances[instance.id] = instance
            byCustomer[to, default: []].append(instance.id)
            noteEntry(instance.row)
        }
        return moved
    }

    private static func entryKey(_ journey: String, _ customer: String, _ key: String) -> String {
        journey + "\u{1F}" + customer + "\u{1F}" + key
    }
}
