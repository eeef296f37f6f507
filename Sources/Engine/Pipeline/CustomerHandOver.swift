import Foundation
import Store

/// A merged customer's state on its way from the shard that held it to the
/// shard that adopts it, without the router waiting.
///
/// The router queues the hand-over on the giving shard, after that shard's
/// earlier events, and puts the merging event in the adopting shard's run;
/// the adopting shard waits for the state only when it reaches that event.
/// No cycle of waits can form: a shard only ever waits for a hand-over that
/// was queued before the event it is on, and every hand-over queued on it
/// earlier than that event it has already run.
final class CustomerHandOver: @unchecked Sendable {
    private let condition = NSCondition()
    private var customer: TransferredCustomer?

    /// Called once, on the giving shard's thread.
    func deliver(_ transferred: TransferredCustomer) {
        condition.lock()
        customer = transferred
        condition.broadcast()
        condition.unlock()
    }

    /// On the adopting shard's thread: waits until the giving shard has let go.
    func receive() -> TransferredCustomer {
        condition.lock()
        defer { condition.unlock() }
        while customer == nil { condition.wait() }
        return customer!
    }
}

/// A customer's state on its way from one shard's thread to another's.
struct TransferredCustomer: @unchecked Sendable {
    /// The customer's rows the giving shard's batch held by key, not yet
    /// committed: the adopting shard's batch writes them.
    struct PendingRows {
        var customer: CustomerRow?
        var orders: [OrderRow] = []
        var carts: [(id: String, cart: (customerId: String?, value: Double, items: Int, at: Int64))] = []
        var instances: [(row: JourneyInstanceRow, isNew: Bool)] = []
    }
    let customer: CustomerState?
    let orders: [OrderRow]
    let fires: [String: [Int64]]
    let instances: [JourneyInstance]
    let pending: PendingRows
    init(_ handed: (customer: CustomerState?, orders: [OrderRow], fires: [String: [Int64]], instances: [JourneyInstance]),
         pending: PendingRows) {
        self.customer = handed.customer
        self.orders = handed.orders
        self.fires = handed.fires
        self.instances = handed.instances
        self.pending = pending
    }

    /// Puts the pending rows into `batch` (before anything the adopting shard writes for the customer).
    func addPending(to batch: inout WriteBatch) {
        if let row = pending.customer { batch.customers[row.id] = row }
        for order in pending.orders { batch.orders[order.id] = order }
        for (id, cart) in pending.carts { batch.carts[id] = cart }
        for (row, isNew) in pending.instances {
            batch.journeyInstances[row.id] = row
            if isNew { batch.newJourneyInstances.insert(row.id) }
        }
    }
}
