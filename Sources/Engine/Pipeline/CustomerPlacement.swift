import Foundation

/// Which shard holds each customer: the hash of the customer's id, except for
/// customers placed on another shard when they first appeared.
///
/// A customer who first appears by merging in an earlier identity (an
/// `identify` after anonymous browsing) is placed on the shard that holds
/// that identity, so the merge happens on one thread and no state has to
/// travel between shards. That is only safe for a customer no shard can hold
/// anything for yet: one neither routed in this run nor in the store. Other
/// merges across shards hand the customer over (``CustomerHandOver``).
///
/// Placements last for the process: a restarted engine routes by hash again
/// and the shard that gets the customer reads them from the store. The
/// set of customers routed in this run is capped; past the cap nobody new is
/// placed, and merges across shards hand over as before.
final class CustomerPlacement: @unchecked Sendable {
    private let lock = NSLock()
    private let count: Int
    private let routedLimit: Int
    /// Customers placed on a shard other than their hash's.
    private var placed: [String: Int] = [:]
    /// Customers routed since the start (up to `routedLimit`).
    private var routed: Set<String> = []
    private var routedFull = false

    init(shards: Int, routedLimit: Int = 2_000_000) {
        count = shards
        self.routedLimit = routedLimit
    }

    /// The shard that holds `customerId`.
    func shard(of customerId: String) -> Int {
        guard count > 1 else { return 0 }
        return lock.withLock { placed[customerId] } ?? Self.hashShard(of: customerId, count: count)
    }

    /// The shard `customerId` falls on by hash alone.
    static func hashShard(of customerId: String, count: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in customerId.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(count))
    }

    /// Records that an event of `customerId` is being routed.
    func noteRouted(_ customerId: String) {
        guard count > 1 else { return }
        lock.withLock {
            guard !routedFull else { return }
            routed.insert(customerId)
            if routed.count >= routedLimit { routedFull = true }
        }
    }

    /// Places `customerId` on `shard` if nothing about them can be held
    /// anywhere yet (`isStored` is asked last, only when that is still open).
    func placeIfNew(_ customerId: String, on shard: Int, isStored: () -> Bool) -> Bool {
        guard count > 1 else { return false }
        let candidate = lock.withLock { !routedFull && !routed.contains(customerId) && placed[customerId] == nil }
        guard candidate, !isStored() else { return false }
        lock.withLock {
            if shard != Self.hashShard(of: customerId, count: count) { placed[customerId] = shard }
        }
        return true
    }
}
