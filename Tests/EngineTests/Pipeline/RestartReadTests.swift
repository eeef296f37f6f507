import Engine
import EventGenerator
import Foundation
import GRDB
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

/// A restarted engine: a new engine going on with the file an earlier one
/// wrote, reading back from it what memory lacks.
@Suite("A sharded engine restarted on its file reads back in bulk")
struct RestartReadTests {
    static let rules = """
        promotion "welcome" {
          on = "Order Completed", marketing = false, limit = { per_customer = 1 },
          run = function(e, c, act) act:tag("welcome") end,
        }
        promotion "second" {
          on = "Order Completed", marketing = false,
          when = function(e, c) return c.orders_count == 2 end,
          run = function(e, c, act) act:tag("second") end,
        }
        """

    /// A rules folder with ``rules`` in it.
    static func rulesFolder() throws -> (rules: String, plugins: String) {
        let root = try Fixtures.temporaryDirectory(files: ["rules/orders.lua": rules, "plugins/.keep": ""])
        return (root.appendingPathComponent("rules").path, root.appendingPathComponent("plugins").path)
    }

    /// A file written by a first engine that processed `events`, then a new
    /// store and engine on it: the restart.
    static func restarted(after events: [Event], in dir: URL) throws -> (store: CrescentStore, engine: ShardedEngine) {
        let path = dir.appendingPathComponent("crescent.db").path
        let (rules, plugins) = try rulesFolder()
        do {
            let first = try ShardedEngine(store: try CrescentStore(path: path), rulesDirectory: rules, pluginsDirectory: plugins, shards: 1)
            for event in events { _ = try first.process(event) }
            try first.flush()
        }
        let store = try CrescentStore(path: path)
        return (store, try ShardedEngine(store: store, rulesDirectory: rules, pluginsDirectory: plugins, shards: 1))
    }

    @Test("the customers of queued events are read back in one go, and go on where they were")
    func bulkReadOnRestart() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (store, engine) = try Self.restarted(after: (1...5).map { F.order("o-\($0)", user: "u\($0)", total: 10, at: "\($0)m") },
                                                 in: dir)
        final class Outcomes: @unchecked Sendable {
            let lock = NSLock()
            var byUser: [String: EventOutcome] = [:]
        }
        let outcomes = Outcomes()
        // Five stored customers and a new one, queued together (as a batch request's are).
        for n in 1...6 {
            engine.submit(F.order("o-\(n)-2", user: "u\(n)", total: 5, at: "1h\(n)m")) { result in
                if case .success(let outcome) = result { outcomes.lock.withLock { outcomes.byUser["u\(n)"] = outcome } }
            }
        }
        try engine.flush()
        #expect(store.customerReadBatches == 1, "one bulk read for the six, not one each: \(store.customerReadBatches)")
        #expect(store.customerReads == 6, "the new customer too: the store might have held it")
        let byUser = outcomes.lock.withLock { outcomes.byUser }
        for n in 1...5 {
            #expect(byUser["u\(n)"]?.hit("promotion:second") == true, "u\(n)'s first order was read back")
            #expect(byUser["u\(n)"]?.result("promotion:welcome")?.outcome == .suppressed, "u\(n)'s per-customer limit held")
            #expect(try store.customer(id: "u\(n)")?.ordersCount == 2)
        }
        #expect(byUser["u6"]?.hit("promotion:welcome") == true, "a customer the store did not hold starts new")
        #expect(try store.customer(id: "u6")?.ordersCount == 1)
    }

    @Test("replaying a file in two parts, with a restart between, ends as replaying it whole")
    func restartMidReplay() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("events.ndjson")
        _ = try EventGenerator(seed: 9, events: 3000).write(to: file)
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        let head = dir.appendingPathComponent("head.ndjson"), tail = dir.appendingPathComponent("tail.ndjson")
        try (lines[..<2000].joined(separator: "\n") + "\n").write(to: head, atomically: true, encoding: .utf8)
        try (lines[2000...].joined(separator: "\n") + "\n").write(to: tail, atomically: true, encoding: .utf8)
        let rules = Fixtures.packageRoot.appendingPathComponent("rules").path
        let plugins = Fixtures.packageRoot.appendingPathComponent("plugins").path

        let whole = try ShardedEngine(store: try CrescentStore(path: dir.appendingPathComponent("whole.db").path),
                                      rulesDirectory: rules, pluginsDirectory: plugins, shards: 1)
        _ = try Replayer().replay(file, into: whole)
        let path = dir.appendingPathComponent("parts.db").path
        do {
            let first = try ShardedEngine(store: try CrescentStore(path: path), rulesDirectory: rules, pluginsDirectory: plugins, shards: 1)
            _ = try Replayer().replay(head, into: first)
        }
        let store = try CrescentStore(path: path)
        let restarted = try ShardedEngine(store: store, rulesDirectory: rules, pluginsDirectory: plugins, shards: 1)
        _ = try Replayer().replay(tail, into: restarted)
        #expect(store.customerReads > 0, "the restarted engine read customers back")
        #expect(store.customerReadBatches < store.customerReads, "and in bulk")
        for sql in ["SELECT id || ':' || orders_count || ':' || printf('%.2f', total_spent) || ':' || COALESCE(merged_into, '') FROM customers ORDER BY id",
                    "SELECT customer_id || ':' || COUNT(*) FROM events GROUP BY customer_id ORDER BY customer_id",
                    "SELECT id || ':' || customer_id || ':' || status || ':' || printf('%.2f', total) FROM orders ORDER BY id",
                    "SELECT order_id || ':' || decision FROM decisions ORDER BY order_id"] {
            let expected = try whole.store.read { try String.fetchAll($0, sql: sql) }
            #expect(!expected.isEmpty, "\(sql)")
            #expect(try store.read { try String.fetchAll($0, sql: sql) } == expected, "\(sql)")
        }
    }
}

extension RestartReadTests {
    @Test("a batch's message ids are checked against the store in one read: stored ones stay duplicates, new ones are processed")
    func bulkMessageIdCheck() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stored = (1...3).map { F.track("Product Viewed", user: "u\($0)", at: "\($0)m", id: "old-\($0)") }
        let (store, engine) = try Self.restarted(after: stored, in: dir)
        let fresh = (1...5).map { F.track("Product Viewed", user: "u\($0)", at: "1h\($0)m", id: "new-\($0)") }
        let batch = stored + fresh
        engine.checkStored(messageIds: batch.map(\.messageId))
        let outcomes = try batch.map { try engine.process($0) }
        #expect(store.messageIdReads == 0, "no message id read one at a time: \(store.messageIdReads)")
        for (event, outcome) in zip(batch, outcomes) {
            if outcome.duplicate {
                #expect(event.messageId.hasPrefix("old-"), "\(event.messageId) is new, yet was taken for a duplicate")
            } else {
                #expect(event.messageId.hasPrefix("new-"), "\(event.messageId) was processed a second time")
            }
        }
        try engine.flush()
        #expect(try store.count("events") == 8)
        // Without the bulk check, each id is read on its own.
        _ = try engine.process(F.track("Product Viewed", user: "u9", at: "2h", id: "single"))
        #expect(store.messageIdReads == 1)
    }
}
