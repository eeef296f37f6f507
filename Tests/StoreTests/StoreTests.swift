import Foundation
import GRDB
@testable import Store
import TestSupport
import Testing

@Suite("The SQLite store")
struct StoreTests {
    @Test("a file store is created, migrated, in WAL mode, and reopens with its data")
    func fileStore() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("nested/crescent.db").path
        do {
            let store = try CrescentStore(path: path)
            var batch = WriteBatch()
            batch.events.append(EventRow(messageId: "m1", customerId: "c1", type: "track", name: "Order Completed",
                                         timestamp: 1, payload: "{}"))
            var customer = CustomerRow(id: "c1")
            customer.ordersCount = 1
            customer.totalSpent = 10
            batch.customers["c1"] = customer
            try store.commit(batch)
            let mode = try store.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(mode == "wal")
        }
        let reopened = try CrescentStore(path: path)
        #expect(try reopened.hasEvent(messageId: "m1"))
        #expect(try reopened.customer(id: "c1")?.totalSpent == 10)
    }

    @Test("the same messageId is stored once")
    func uniqueMessages() throws {
        let store = try CrescentStore()
        var batch = WriteBatch()
        let row = EventRow(messageId: "m1", customerId: "c1", type: "track", name: "x", timestamp: 1, payload: "{}")
        batch.events = [row, row]
        try store.commit(batch)
        try store.commit(batch)
        #expect(try store.count("events") == 1)
    }

    @Test("segment changes keep members and history; merges move a customer's rows")
    func segmentsAndMerges() throws {
        let store = try CrescentStore()
        var batch = WriteBatch()
        batch.segmentChanges = [
            SegmentChangeRow(segment: "gold", customerId: "anon", entered: true, at: 1, messageId: "m1"),
            SegmentChangeRow(segment: "vip", customerId: "u1", entered: true, at: 1, messageId: "m1"),
            SegmentChangeRow(segment: "vip", customerId: "u1", entered: false, at: 2, messageId: "m2"),
        ]
        batch.events = [EventRow(messageId: "m1", customerId: "anon", type: "track", name: "x", timestamp: 1, payload: "{}")]
        try store.commit(batch)
        #expect(try store.segmentSizes() == ["gold": 1])
        #expect(try store.count("segment_history") == 3)
        var merge = WriteBatch()
        merge.merges = [("anon", "u1")]
        merge.identities = [("anon", "u1")]
        try store.commit(merge)
        #expect(try store.event(messageId: "m1")?.customerId == "u1")
        #expect(try store.resolve(alias: "anon") == "u1")
        #expect(try store.segments(of: "anon").isEmpty)
    }

    @Test("a merge moves the rows written before it in the same batch; a product on both wishlists keeps the survivor's entry")
    func mergeInsideOneBatch() throws {
        let store = try CrescentStore()
        var first = WriteBatch()
        first.wishlist = [(customerId: "u1", sku: "sku-1", price: 10, at: 1), (customerId: "anon", sku: "sku-1", price: 12, at: 1)]
        try store.commit(first)
        var batch = WriteBatch()
        batch.carts["cart-1"] = (customerId: "anon", value: 5, items: 1, at: 2)
        batch.wishlist = [(customerId: "anon", sku: "sku-2", price: 7, at: 2)]
        batch.segmentChanges = [SegmentChangeRow(segment: "gold", customerId: "anon", entered: true, at: 2, messageId: "m1")]
        batch.merges = [("anon", "u1")]
        try store.commit(batch)
        let carts = try store.read { db in try String.fetchAll(db, sql: "SELECT customer_id FROM carts") }
        #expect(carts == ["u1"])
        let wishlist = try store.read { db in
            try Row.fetchAll(db, sql: "SELECT customer_id, sku, price FROM wishlist ORDER BY sku").map { "\($0[0] as String) \($0[1] as String) \($0[2] as Double)" }
        }
        #expect(wishlist == ["u1 sku-1 10.0", "u1 sku-2 7.0"])
        #expect(try store.segments(of: "anon").isEmpty)
    }

    @Test("a customer first seen in the batch it merged in: its rows are written under the survivor, chains followed")
    func customerMergedInItsFirstBatch() throws {
        let store = try CrescentStore()
        var first = WriteBatch()
        first.wishlist = [(customerId: "u1", sku: "sku-1", price: 10, at: 1)]
        first.events = [EventRow(messageId: "m0", customerId: "old", type: "track", name: "x", timestamp: 1, payload: "{}")]
        try store.commit(first)
        var batch = WriteBatch()
        batch.events = [EventRow(messageId: "m1", customerId: "anon", type: "track", name: "x", timestamp: 2, payload: "{}")]
        batch.carts["cart-1"] = (customerId: "anon", value: 5, items: 1, at: 2)
        batch.wishlist = [(customerId: "anon", sku: "sku-1", price: 12, at: 2), (customerId: "anon", sku: "sku-2", price: 7, at: 2)]
        batch.identities = [("anon", "anon")]
        // anon → anon2 → u1, both first seen here; "old" (stored before) → anon2, moved with a statement.
        batch.merges = [("anon", "anon2"), ("old", "anon2"), ("anon2", "u1")]
        batch.mergedInBatch = ["anon": "anon2", "anon2": "u1"]
        try store.commit(batch)
        let owners = try store.read { db in
            try String.fetchAll(db, sql: "SELECT customer_id FROM events UNION ALL SELECT customer_id FROM carts")
        }
        #expect(owners == ["u1", "u1", "u1"])
        #expect(try store.resolve(alias: "anon") == "u1")
        let wishlist = try store.read { db in
            try Row.fetchAll(db, sql: "SELECT customer_id, sku, price FROM wishlist ORDER BY sku").map { "\($0[0] as String) \($0[1] as String) \($0[2] as Double)" }
        }
        #expect(wishlist == ["u1 sku-1 10.0", "u1 sku-2 7.0"])
    }

    @Test("a failing batch writes nothing")
    func atomicBatch() throws {
        let store = try CrescentStore()
        var batch = WriteBatch()
        batch.events = [EventRow(messageId: "m1", customerId: "c1", type: "track", name: "x", timestamp: 1, payload: "{}")]
        batch.decisions = [DecisionRow(messageId: "m1", customerId: "c1", orderId: nil, decision: "maybe", score: 0,
                                       reasons: "[]", rules: "[]", rulesetVersion: nil, at: 1)]
        #expect(throws: (any Error).self) { try store.commit(batch) }
        #expect(try store.count("events") == 0)
    }
}

@Suite("Migrations keep what older files hold")
struct MigrationTests {
    @Test("v12 rebuilds the outbox: every row, its delivery state and indexes kept; withheld becomes a status")
    func outboxRebuild() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("old.db").path
        do {
            // A file as the previous release left it.
            let old = try DatabaseQueue(path: path)
            try Schema.migrator.migrate(old, upTo: "v11-segments-hold")
            try old.write { db in
                try db.execute(sql: """
                    INSERT INTO outbox (idempotency_key, message_id, customer_id, rule, action, channel, payload, status, attempts,
                                        created_at, next_attempt_at, last_error)
                    VALUES ('k1', 'm1', 'ana', 'promotion:vip', 'notify', 'email', '{"x":1}', 'dead', 8, 1000, 5000, 'HTTP 500'),
                           ('k2', 'm2', 'bo', 'promotion:vip', 'notify', 'email', '{}', 'pending', 1, 2000, 3000, NULL)
                    """)
            }
        }
        let store = try CrescentStore(path: path)
        let dead = try #require(try store.outboxEntries(status: "dead").first)
        #expect(dead.row.idempotencyKey == "k1" && dead.attempts == 8 && dead.lastError == "HTTP 500" && dead.nextAttemptAt == 5000)
        #expect(dead.row.payload == #"{"x":1}"# && dead.row.consentPurpose == nil)
        let pending = try #require(try store.dueOutbox(now: 3000, limit: 10).first)
        #expect(pending.row.idempotencyKey == "k2" && pending.attempts == 1)
        try store.markWithheld(id: pending.id, reason: "marketing consent withdrawn before delivery")
        #expect(try store.outboxCounts() == ["dead": 1, "withheld": 1], "v15 counted the older file's entries")
        let indexes = try store.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' AND sql IS NOT NULL ORDER BY name") }
        #expect(indexes == ["outbox_by_customer", "outbox_by_status", "outbox_retried"])
        #expect(try store.outboxHealth(now: 3000).failedAttempts == 8 + 1, "v14 indexes the older file's failed attempts")
        var batch = WriteBatch()
        batch.outbox.append(OutboxRow(idempotencyKey: "k1", messageId: "m9", customerId: "ana", rule: "r", action: "notify",
                                      channel: nil, payload: "{}", createdAt: 9))
        try store.commit(batch)
        #expect(try store.count("outbox") == 2, "the idempotency key stays unique")
    }
}
