import Foundation
import GRDB
@testable import Store
import TestSupport
import Testing

@Suite("Customer snapshots read back from the store")
struct CustomerSnapshotTests {
    /// A store with customers c0…c(n-1), each with `n`'s index + 1 events and one completed order.
    static func store(customers n: Int) throws -> CrescentStore {
        let store = try CrescentStore()
        var batch = WriteBatch()
        for i in 0..<n {
            var customer = CustomerRow(id: "c\(i)")
            customer.lastSeen = 10_000
            batch.customers[customer.id] = customer
            for e in 0...i {
                batch.events.append(EventRow(messageId: "m\(i)-\(e)", customerId: customer.id, type: "track", name: "Product Viewed",
                                             timestamp: Int64(1000 + e),
                                             payload: #"{"properties":{"product_id":"p\#(e)"}}"#))
            }
            batch.orders["o\(i)"] = OrderRow(id: "o\(i)", customerId: customer.id, status: "completed", total: Double(i), createdAt: 2000)
        }
        try store.commit(batch)
        return store
    }

    @Test("any number of ids, padded to a few query shapes: each customer once, each of its rows once, unknown ids left out")
    func paddedReads() throws {
        let store = try Self.store(customers: 20)
        for count in [1, 2, 3, 5, 17, 20] {
            let ids = (0..<count).map { "c\($0)" } + ["nobody"]
            let snapshots = try store.customerSnapshots(ids: ids)
            #expect(snapshots.count == count, "\(count) ids")
            #expect(snapshots["nobody"] == nil)
            for i in 0..<count {
                let snapshot = try #require(snapshots["c\(i)"])
                #expect(snapshot.eventTimes.count == i + 1, "c\(i)'s events, each once")
                #expect(snapshot.viewed.count == i + 1, "c\(i)'s viewed products, each once")
                #expect(snapshot.orders.map(\.id) == ["o\(i)"])
            }
        }
        #expect(store.customerReadBatches == 6)
    }

    @Test("padding repeats the last id up to 1, 4, 16, 64, 256 or 500")
    func padding() {
        #expect(CrescentStore.padded([]) == [])
        #expect(CrescentStore.padded(["a"]) == ["a"])
        #expect(CrescentStore.padded(["a", "b"]) == ["a", "b", "b", "b"])
        #expect(CrescentStore.padded((0..<17).map(String.init)).count == 64)
        #expect(CrescentStore.padded((0..<300).map(String.init)).count == 500)
        #expect(CrescentStore.padded((0..<500).map(String.init)).count == 500)
    }
}
