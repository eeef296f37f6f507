import Foundation
import LuaKit
import Store

/// One customer's state in memory, authoritative while the engine runs and
/// written behind to the store with each batch.
final class CustomerState {
    var row: CustomerRow
    var traits: [String: JSONValue]
    var consent: [String: Bool]
    var segments: Set<String> = []
    /// Shadow-mode segments the customer would be in (stored too, so a
    /// would-be entry counts once across restarts).
    var shadowSegments: Set<String> = []
    /// Recent completed orders (newest last), for windowed spend.
    var orders: [(id: String, at: Int64, total: Double)] = []
    /// Known orders: id → total still counted in total_spent.
    var orderTotals: [String: Double] = [:]
    /// Recent event times by event name, for c:count{}.
    var eventTimes: [String: [Int64]] = [:]
    /// Recently viewed product ids, newest first.
    var viewed: [String] = []
    /// SKUs bought since the customer was loaded, newest first; the ones
    /// bought before are read from the store when a recommendation needs them.
    var recentPurchases: [String] = []
    var storedPurchases: [String]?
    var carts: [String: (value: Double, items: Int)] = [:]
    /// Wishlisted product ids → price when added.
    var wishlist: [String: Double] = [:]
    /// Fraud blocks a review has not cleared: the order (when the decision had one) and when.
    var blocks: [(order: String?, at: Int64)] = []
    /// The latest of them: promotions and journey messages are suppressed for a while after it.
    var lastBlockAt: Int64? { blocks.last?.at }
    /// Marketing messages (`notify` actions) sent recently, oldest first, for frequency caps.
    var messages: [(rule: String, at: Int64)] = []
    /// False for a customer loaded for a journey timer only (row, last block,
    /// messages); ``EngineState/customer(_:)`` completes it before any rule sees it.
    var complete = true
    /// Each segment's last evaluation (indexed like the engine's segments),
    /// valid under the rule set epoch `memoEpoch`.
    var memos: [SegmentMemo] = []
    var memoEpoch = 0
    /// What changed since the segments last ran (all of it for a customer just loaded).
    var changedInputs: CustomerInputs = .all
    /// The span of engine time over which every segment's last answer holds.
    var segmentsHoldFrom: Int64 = .max
    var segmentsHoldUntil: Int64 = .min
    /// Everything the segments' last answers read.
    var segmentsRead: CustomerInputs = .all
    /// The rule set version the segments last ran under (nil: not since it was loaded).
    var segmentsVersion: String?
    /// The earliest time of this customer's entries in the ``SegmentWatch`` (`.max`: none).
    var watchedFrom: Int64 = .max
    /// The batch number when the engine last used it (for the bounded cache).
    var lastUsedBatch = 0
    /// The batch this customer was first seen in, when nothing of theirs was
    /// stored before it (nil for a customer read from the store).
    var bornInBatch: Int?
    /// Parsed acquisition touches, for pushing `c.acquisition` without re-parsing.
    var firstTouchCache: (text: String, value: JSONValue)?
    var lastTouchCache: (text: String, value: JSONValue)?

    static let recentLimit = 500

    init(row: CustomerRow) {
        self.row = row
        self.traits = (try? JSONValue.parse(Data(row.traits.utf8)))?.object ?? [:]
        var consent: [String: Bool] = [:]
        for (purpose, value) in (try? JSONValue.parse(Data(row.consent.utf8)))?.object ?? [:] {
            consent[purpose] = value.boolValue
        }
        self.consent = consent
    }

    /// Loads the known customers among `ids` in bulk (`full` false: see ``complete``).
    static func loadMany(_ ids: [String], from store: CrescentStore, full: Bool = true) throws -> [String: CustomerState] {
        try store.customerSnapshots(ids: ids, full: full).mapValues { snapshot in
            let state = CustomerState(row: snapshot.row)
            state.blocks = snapshot.blocks
            state.messages = snapshot.messages
            state.complete = full
            if full { state.fill(from: snapshot) }
            return state
        }
    }

    /// Takes the parts a partial load left out from a full snapshot.
    func fill(from snapshot: CustomerSnapshot) {
        segments = snapshot.segments
        shadowSegments = snapshot.shadowSegments
        wishlist = snapshot.wishlist
        carts = snapshot.carts
        viewed = snapshot.viewed
        for event in snapshot.eventTimes { eventTimes[event.name, default: []].append(event.at) }
        for order in snapshot.orders {
            orders.append(order)
            orderTotals[order.id] = order.total
        }
        complete = true
        invalidateSegments()
    }

    func record(event name: String, at time: Int64) {
        // In place, with one lookup: copying the array out and back cost a copy per event.
        Self.append(time, to: &eventTimes[name, default: []])
    }

    private static func append(_ time: Int64, to times: inout [Int64]) {
        times.append(time)
        if times.count > recentLimit { times.removeFirst(times.count - recentLimit) }
    }

    /// For a customer loaded for a journey timer only (not ``complete``):
    /// true when the segment answers last stored for them hold at `time`
    /// under rule set `version`, as for a customer only in the store.
    func storedAnswersHold(at time: Int64, version: String) -> Bool {
        !complete && row.segmentsVersion == version && time < (row.segmentsHoldUntil ?? .min)
    }

    /// When the next sweep must look at a customer just loaded for a
    /// journey timer only: once their stored answers stop holding.
    func storedAnswersExpire(version: String) -> Int64 {
        row.segmentsVersion == version ? row.segmentsHoldUntil ?? .min : .min
    }

    var cartValue: Double { carts.values.reduce(0) { $0 + $1.value } }

    /// Recency, frequency and monetary scores from 1 to 5.
    func rfm(now: Int64) -> (recency: Int, frequency: Int, monetary: Int) {
        let days = row.lastOrderAt.map { Double(now - $0) / 86_400_000 } ?? .infinity
        let recency = days <= 30 ? 5 : days <= 90 ? 4 : days <= 180 ? 3 : days <= 365 ? 2 : 1
        let n = row.ordersCount
        let frequency = n >= 10 ? 5 : n >= 5 ? 4 : n >= 3 ? 3 : n >= 2 ? 2 : 1
        let m = row.totalSpent
        let monetary = m >= 2000 ? 5 : m >= 1000 ? 4 : m >= 500 ? 3 : m >= 100 ? 2 : 1
        return (recency, frequency, monetary)
    }

    /// Copies the in-memory fields back into the row for the store.
    func syncedRow() -> CustomerRow {
        var row = self.row
        // What the next start's first sweep needs to leave it alone while only in the store.
        // A customer loaded for a journey timer only keeps what was stored: nothing a segment reads changed.
        if complete {
            let holds = segmentsVersion != nil && segmentsRead.isDisjoint(with: changedInputs) && segmentsHoldUntil > segmentsHoldFrom
            row.segmentsHoldUntil = holds ? segmentsHoldUntil : nil
            row.segmentsVersion = holds ? segmentsVersion : nil
        }
        row.traits = JSONValue.object(traits).jsonText
        row.consent = JSONValue.object(consent.mapValues { .bool($0) }).jsonText
        return row
    }
}


extension CustomerState {
    /// Takes the parts a partial load left out from a fully loaded copy.
    func fill(fromLoaded other: CustomerState) {
        segments = other.segments
        wishlist = other.wishlist
        carts = other.carts
        viewed = other.viewed
        eventTimes = other.eventTimes
        orders = other.orders
        orderTotals = other.orderTotals
        complete = true
        invalidateSegments()
    }
}
