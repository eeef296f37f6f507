import Foundation
import GRDB
@testable import Store
import TestSupport
import Testing

/// What `/metrics` reads of the outbox: the delivery lag and the failed attempts.
@Suite("Outbox health")
struct OutboxHealthTests {
    static func action(_ n: Int, at time: Int64) -> OutboxRow {
        OutboxRow(idempotencyKey: "k\(n)", messageId: "m\(n)", customerId: "c", rule: "promotion:p", action: "notify",
                  channel: "email", payload: "{}", createdAt: time)
    }

    @Test("lag from the oldest pending action; failed attempts of delivered, retried, dead and withheld actions")
    func health() throws {
        let store = try CrescentStore()
        var batch = WriteBatch()
        batch.outbox = (1...5).map { Self.action($0, at: Int64($0) * 1000) }
        try store.commit(batch)
        #expect(try store.outboxHealth(now: 10_000) == (lag: 9000, failedAttempts: 0))
        // 1: delivered at the third attempt. 2: dead after two. 3: one failure, retrying. 4: withheld after one failure.
        try store.markFailed(id: 1, error: "503", retryAt: 2000)
        try store.markFailed(id: 1, error: "503", retryAt: 3000)
        try store.markDelivered(id: 1, at: 4000)
        try store.markFailed(id: 2, error: "503", retryAt: 2000)
        try store.markFailed(id: 2, error: "410", retryAt: nil)
        try store.markFailed(id: 3, error: "timeout", retryAt: 9000)
        try store.markFailed(id: 4, error: "503", retryAt: 9000)
        try store.markWithheld(id: 4, reason: "marketing consent withdrawn")
        try store.markDelivered(id: 5, at: 6000)
        let health = try store.outboxHealth(now: 10_000)
        #expect(health.lag == 7000, "action 3, made at 3 s, is the oldest still pending")
        #expect(health.failedAttempts == 2 + 2 + 1 + 1)
        try store.markDelivered(id: 3, at: 9500)
        #expect(try store.outboxHealth(now: 10_000) == (lag: 0, failedAttempts: 6))
    }

    @Test("a scrape reads indexes only, never the whole outbox")
    func readsIndexesOnly() throws {
        let store = try CrescentStore()
        for sql in [OutboxQueries.failedAttempts, OutboxQueries.oldestPending] {
            let plan = try store.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String } }
            #expect(plan.allSatisfy { !$0.hasPrefix("SCAN outbox") || $0.contains("INDEX") }, "\(plan)")
            #expect(plan.contains { $0.contains("INDEX outbox_retried") || $0.contains("INDEX outbox_by_status") }, "\(plan)")
        }
    }

    @Test("counts by status follow every entry in, through delivery, death and withholding, and out with an erasure")
    func countsFollowChanges() throws {
        let store = try CrescentStore()
        var batch = WriteBatch()
        batch.outbox = (1...4).map { Self.action($0, at: Int64($0) * 1000) }
        batch.outbox.append(Self.action(1, at: 9000)) // the same idempotency key: ignored, not counted
        batch.customers["c"] = CustomerRow(id: "c")
        try store.commit(batch)
        #expect(try store.outboxCounts() == ["pending": 4])
        try store.markDelivered(id: 1, at: 5000)
        try store.markFailed(id: 2, error: "410", retryAt: nil)
        try store.markWithheld(id: 3, reason: "marketing consent withdrawn")
        try store.markFailed(id: 4, error: "503", retryAt: 9000) // still pending
        #expect(try store.outboxCounts() == ["pending": 1, "delivered": 1, "dead": 1, "withheld": 1])
        // Forgetting the customer takes their pending action out.
        _ = try store.eraseCustomer("c", at: 10_000)
        #expect(try store.outboxCounts() == ["delivered": 1, "dead": 1, "withheld": 1])
        let counted = try store.read { db in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status") }
        #expect(try Dictionary(uniqueKeysWithValues: counted.map { ($0["status"] as String, $0["n"] as Int) }) == store.outboxCounts())
    }
}
