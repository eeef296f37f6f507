/// The parts of a customer a segment can read through `c`; the bits match
/// the prelude's `IN_*` constants. An evaluation records the ones it read,
/// and every change to the customer records the ones it touched, so a
/// segment is run again only when something it read changed.
struct CustomerInputs: OptionSet, Sendable {
    let rawValue: UInt32

    /// `id`, `user_id`, `anonymous_id`.
    static let identity = CustomerInputs(rawValue: 1)
    /// `orders`, `orders_count`, `total_spent`, `lifetime_value`, `avg_order_value`, `last_order_at`, `rfm`.
    static let orders = CustomerInputs(rawValue: 2)
    /// `carts`, `cart_total`.
    static let carts = CustomerInputs(rawValue: 4)
    /// `first_seen`, `last_seen`.
    static let seen = CustomerInputs(rawValue: 8)
    static let traits = CustomerInputs(rawValue: 16)
    static let consent = CustomerInputs(rawValue: 32)
    static let segments = CustomerInputs(rawValue: 64)
    static let wishlist = CustomerInputs(rawValue: 128)
    static let acquisition = CustomerInputs(rawValue: 256)
    /// The customer's events, all names (see ``event(named:)``).
    static let events = CustomerInputs(rawValue: 512)
    /// `c:recently_viewed()`.
    static let viewed = CustomerInputs(rawValue: 1024)
    // Anything else read on `c` (a field a rule set, `pairs(c)`) makes the
    // answer hold nowhere: the prelude reports no span for it.

    static let all = CustomerInputs(rawValue: UInt32.max)

    /// The customer's events of one name (`c:count{ event = name }`): one
    /// of 16 bits chosen by a hash of the name, so an event of another name
    /// leaves a count alone (two names may share a bit: that only runs a
    /// segment more often).
    static func event(named name: String) -> CustomerInputs {
        var hash: UInt32 = 2_166_136_261
        for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return CustomerInputs(rawValue: 1 << (12 + hash % 16))
    }
}

/// The last evaluation of one segment for one customer: what it read, its
/// answer, and the span of engine time over which that answer holds when
/// nothing read changes. An evaluation that read something moving on its
/// own (the clock outside the windowed helpers, lists, counters, random
/// numbers) or failed holds nowhere.
struct SegmentMemo {
    var reads: CustomerInputs = .all
    var inside = false
    /// Engine time of the evaluation: an earlier clock (a late event) runs it again.
    var from: Int64 = 0
    /// The answer holds while the clock is before this time.
    var holdsUntil: Int64 = .min

    /// True when the answer still holds at `now` given the inputs changed since.
    func holds(at now: Int64, changed: CustomerInputs) -> Bool {
        now < holdsUntil && now >= from && reads.isDisjoint(with: changed)
    }
}

extension CustomerState {
    /// True when no segment needs to run at `now`: each one's last answer
    /// still holds under the rule set `epoch` (the nightly sweep skips them).
    /// Reads a few fields of the customer, not the memos: the span over
    /// which all answers hold and what they read together are kept by
    /// ``noteSegmentsEvaluated(count:)``.
    func segmentsHold(at now: Int64, epoch: Int) -> Bool {
        memoEpoch == epoch && now < segmentsHoldUntil && now >= segmentsHoldFrom && segmentsRead.isDisjoint(with: changedInputs)
    }

    /// Records, after the segments phase under rule set `version`, the span over which every answer holds.
    func noteSegmentsEvaluated(count: Int, version: String) {
        segmentsVersion = version
        guard memos.count == count else {
            segmentsHoldUntil = .min
            return
        }
        var until = Int64.max, from = Int64.min
        var read: CustomerInputs = []
        for memo in memos {
            until = min(until, memo.holdsUntil)
            from = max(from, memo.from)
            read.formUnion(memo.reads)
        }
        segmentsHoldUntil = until
        segmentsHoldFrom = from
        segmentsRead = read
    }

    /// Forgets what segments read: every one runs at the next evaluation.
    func invalidateSegments() {
        changedInputs = .all
        // A customer loaded for a journey timer only (a `set_trait` step) no longer has stored answers that hold.
        if !complete {
            row.segmentsHoldUntil = nil
            row.segmentsVersion = nil
        }
    }
}

/// The customers a nightly sweep must look at: a min-heap of (time, id)
/// entries, one at the time each customer's segment answers stop holding,
/// and one at `Int64.min` ("look at the next sweep") when something changed
/// after its segments last ran. Everyone else keeps their answers without
/// being read, so a sweep costs what changed, not the customers in memory.
/// Entries are lazily deleted: a popped entry only asks for a look.
struct SegmentWatch {
    private var queue = TimerQueue<String>()

    /// Asks for a look at the first sweep at or after `time`.
    mutating func watch(_ customer: CustomerState, at time: Int64) {
        guard time < customer.watchedFrom else { return } // an earlier entry already covers it
        customer.watchedFrom = time
        queue.insert(at: time, id: customer.row.id)
    }

    /// The ids whose entries are due by `time`, each once.
    mutating func due(by time: Int64) -> Set<String> {
        var ids = Set<String>()
        while let first = queue.first, first.at <= time {
            _ = queue.popFirst()
            ids.insert(first.id)
        }
        return ids
    }

    var count: Int { queue.count }
}
