import Engine
import EventGenerator
import Foundation
import GRDB
@testable import Store
import TestSupport
import Testing

@Suite("The pipeline sharded by customer")
struct ShardedEngineTests {
    let rules = Fixtures.packageRoot.appendingPathComponent("rules").path
    let plugins = Fixtures.packageRoot.appendingPathComponent("plugins").path

    @Test("two shards end in the same per-customer state as one engine")
    func sameStateAsOneEngine() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("events.ndjson")
        let manifest = try EventGenerator(seed: 5, events: 4000).write(to: file)
        let single = try Engine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins)
        let one = try Replayer().replay(file, into: single)
        let sharded = try ShardedEngine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins, shards: 2)
        final class Commits: @unchecked Sendable {
            let lock = NSLock()
            var count = 0
        }
        let commits = Commits()
        sharded.observeCommits { _ in commits.lock.withLock { commits.count += 1 } }
        let two = try Replayer().replay(file, into: sharded)
        #expect(two.events == manifest.uniqueMessages && two.duplicates == manifest.retries)
        #expect(one.events == two.events)
        // A merge across shards hands the customer over without a commit of
        // its own: the replay's batches are all the commits there are.
        #expect(commits.lock.withLock { commits.count } <= 12, "commits: \(commits.count)") // 118 when each such merge committed
        #expect(try single.store.segmentSizes() == sharded.store.segmentSizes())
        let spend = "SELECT id || ':' || orders_count || ':' || printf('%.2f', total_spent) || ':' || COALESCE(merged_into, '') FROM customers ORDER BY id"
        #expect(try single.store.read { try String.fetchAll($0, sql: spend) } == sharded.store.read { try String.fetchAll($0, sql: spend) })
        // Every stored row whose owner a merge changes ends under the same
        // customer, and every journey as far along (the replay moves each
        // shard's clock to the file's last event).
        for sql in ["SELECT customer_id || ':' || COUNT(*) FROM events GROUP BY customer_id ORDER BY customer_id",
                    "SELECT id || ':' || customer_id || ':' || status || ':' || printf('%.2f', total) FROM orders ORDER BY id",
                    "SELECT cart_id || ':' || COALESCE(customer_id, '') || ':' || items FROM carts ORDER BY cart_id",
                    "SELECT customer_id || ':' || sku FROM wishlist ORDER BY customer_id, sku",
                    "SELECT journey || ':' || customer_id || ':' || key || ':' || status || ':' || step FROM journey_instances ORDER BY 1"] {
            let expected = try single.store.read { try String.fetchAll($0, sql: sql) }
            #expect(!expected.isEmpty, "\(sql)")
            #expect(try sharded.store.read { try String.fetchAll($0, sql: sql) } == expected, "\(sql)")
        }
        let injected = manifest.manyCardsOrders + manifest.countryMismatchOrders + manifest.disposableEmailOrders
        for orderId in injected {
            let verdict = try sharded.store.read {
                try String.fetchOne($0, sql: "SELECT decision FROM decisions WHERE order_id = ?", arguments: [orderId])
            }
            #expect(verdict == "review" || verdict == "block", "order \(orderId) got \(verdict ?? "no decision")")
        }
    }

    @Test("with room for one event per shard, the router waits for the shards and merges across them still complete")
    func shortQueues() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("events.ndjson")
        let manifest = try EventGenerator(seed: 9, events: 3000).write(to: file)
        let single = try Engine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins)
        _ = try Replayer().replay(file, into: single)
        var options = EngineOptions()
        options.shardQueueEvents = 1
        let sharded = try ShardedEngine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins,
                                        options: options, shards: 2)
        let two = try Replayer().replay(file, into: sharded)
        #expect(two.events == manifest.uniqueMessages)
        #expect(sharded.mergesAcrossShards.placed + sharded.mergesAcrossShards.handedOver > 0)
        let spend = "SELECT id || ':' || orders_count || ':' || printf('%.2f', total_spent) || ':' || COALESCE(merged_into, '') FROM customers ORDER BY id"
        #expect(try single.store.read { try String.fetchAll($0, sql: spend) } == sharded.store.read { try String.fetchAll($0, sql: spend) })
    }

    @Test("an event submitted to complete after its commit is in the store when it completes, on every shard")
    func submitCommitted() throws {
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins, shards: 2)
        final class Seen: @unchecked Sendable {
            let lock = NSLock()
            var stored: [Int] = []
        }
        let seen = Seen()
        let done = DispatchSemaphore(value: 0)
        for i in 0..<40 {
            engine.submitCommitted(EngineFixtures.track("Product Viewed", user: "u\(i)", ["product_id": "sku-1"], at: "\(i)s")) { result in
                // Runs on the commit thread, right after the commit: a reader sees the event.
                let stored = (try? engine.store.hasEvent(messageId: result.get().messageId)) == true
                seen.lock.withLock { seen.stored.append(stored ? 1 : 0) }
                done.signal()
            }
        }
        engine.dispatchAllPending()
        for _ in 0..<40 { done.wait() }
        #expect(seen.stored == Array(repeating: 1, count: 40), "every event is committed before it completes")
        #expect(try engine.store.count("events") == 40)
        // Nobody waits for the batch of events submitted the plain way: it is not committed on its own.
        let processed = DispatchSemaphore(value: 0)
        engine.submit(EngineFixtures.track("Product Viewed", user: "u1", ["product_id": "sku-1"], at: "50s")) { _ in processed.signal() }
        engine.dispatchAllPending()
        processed.wait()
        #expect(try engine.store.count("events") == 40)
    }

    @Test("a message retried while the first is still on its way is answered as a duplicate only once the first is committed")
    func retryWaitsForTheOriginal() throws {
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins, shards: 2)
        final class Seen: @unchecked Sendable {
            let lock = NSLock()
            var answers: [(duplicate: Bool, stored: Bool)] = []
        }
        let seen = Seen()
        let done = DispatchSemaphore(value: 0)
        let event = EngineFixtures.track("Product Viewed", user: "u1", ["product_id": "sku-1"], id: "retried")
        for _ in 0..<2 {
            engine.submitCommitted(event) { result in
                let duplicate = (try? result.get().duplicate) ?? false
                let stored = (try? engine.store.hasEvent(messageId: "retried")) == true
                seen.lock.withLock { seen.answers.append((duplicate, stored)) }
                done.signal()
            }
        }
        engine.dispatchAllPending()
        done.wait()
        done.wait()
        #expect(seen.answers.count == 2)
        #expect(seen.answers.allSatisfy { $0.stored }, "an answer after commit means the message is stored, the retry's too")
        #expect(seen.answers.filter { $0.duplicate }.count == 1)
        #expect(try engine.store.count("events") == 1)
    }

    @Test("when commits fail, events waiting for theirs fail too instead of waiting forever")
    func failedCommit() throws {
        let store = try CrescentStore()
        try store.writer.write { db in
            try db.execute(sql: "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
        }
        let engine = try ShardedEngine(store: store, rulesDirectory: rules, pluginsDirectory: plugins, shards: 2)
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var failures = 0
        }
        let results = Results()
        let done = DispatchSemaphore(value: 0)
        for round in 0..<2 {
            for i in 0..<10 {
                engine.submitCommitted(EngineFixtures.track("Product Viewed", user: "u\(i)", ["product_id": "sku-1"], at: "\(round * 10 + i)s")) { result in
                    if case .failure = result { results.lock.withLock { results.failures += 1 } }
                    done.signal()
                }
            }
            engine.dispatchAllPending()
            for _ in 0..<10 { #expect(done.wait(timeout: .now() + 30) == .success, "an event waits for a commit that never comes") }
        }
        #expect(results.failures == 20)
    }

    @Test("an identify joins anonymous history held by another shard")
    func crossShardMerge() throws {
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins, shards: 2)
        for i in 0..<16 {
            _ = try engine.process(EngineFixtures.track("Product Viewed", user: nil, anonymous: "anon-\(i)", ["product_id": "SKU-1"], at: "0m"))
            _ = try engine.process(EngineFixtures.track("Order Completed", user: nil, anonymous: "anon-\(i)",
                                                       ["order_id": .string("o\(i)"), "total": 600], at: "1m"))
            let identified = try engine.process(EngineFixtures.identify("user-\(i)", anonymous: "anon-\(i)", traits: ["email": "x@example.com"], at: "2m"))
            #expect(identified.customerId == "user-\(i)")
            #expect(identified.segmentChanges.contains { $0.segment == "gold" && $0.entered }, "user-\(i) keeps the anonymous spend")
            let later = try engine.process(EngineFixtures.track("Page Viewed", user: nil, anonymous: "anon-\(i)", at: "3m"))
            #expect(later.customerId == "user-\(i)")
        }
        // Those users were new: each started on the shard of the anonymous
        // id it merged in, and no state had to move.
        let placed = engine.mergesAcrossShards
        #expect(placed.placed > 0 && placed.handedOver == 0, "\(placed)")
        // Known users are where they are: anonymous history from the other shard travels to them.
        for i in 0..<16 {
            _ = try engine.process(EngineFixtures.track("Page Viewed", user: "known-\(i)", at: "4m"))
            _ = try engine.process(EngineFixtures.track("Order Completed", user: nil, anonymous: "device-\(i)",
                                                       ["order_id": .string("d\(i)"), "total": 600], at: "5m"))
            let identified = try engine.process(EngineFixtures.identify("known-\(i)", anonymous: "device-\(i)", traits: [:], at: "6m"))
            #expect(identified.segmentChanges.contains { $0.segment == "gold" && $0.entered }, "known-\(i) gets the device's spend")
        }
        #expect(engine.mergesAcrossShards.handedOver > 0 && engine.mergesAcrossShards.placed == placed.placed)
        try engine.flush()
        for (user, anonymous) in (0..<16).flatMap({ [("user-\($0)", "anon-\($0)"), ("known-\($0)", "device-\($0)")] }) {
            let customer = try #require(try engine.store.customer(id: user))
            #expect(customer.ordersCount == 1 && customer.totalSpent == 600, "\(user)")
            #expect(try engine.store.customer(id: anonymous)?.mergedInto == user)
            let moved = try engine.store.read {
                try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM events WHERE customer_id = ?", arguments: [user])
            }
            #expect(moved == (user.hasPrefix("user") ? 4 : 3), "\(user)'s events")
        }
    }

    @Test("a customer placed with the identity they merged in is found there by every later request")
    func placedCustomerIsFound() throws {
        let store = try CrescentStore()
        let engine = try ShardedEngine(store: store, rulesDirectory: rules, pluginsDirectory: plugins, shards: 2)
        for i in 0..<16 {
            _ = try engine.process(EngineFixtures.track("Product Viewed", user: nil, anonymous: "anon-\(i)", ["product_id": "SKU-1"], at: "0m"))
            _ = try engine.process(EngineFixtures.identify("user-\(i)", anonymous: "anon-\(i)", traits: ["email": .string("u\(i)@example.com")], at: "1m"))
        }
        #expect(engine.mergesAcrossShards.placed > 0)
        try engine.flush()
        // Forgetting asks the shard that holds the customer: nothing of theirs is left anywhere.
        for i in 0..<16 {
            #expect(try engine.forget(customerId: "user-\(i)") != nil, "user-\(i)")
            _ = try engine.process(EngineFixtures.track("Page Viewed", user: "user-\(i)", at: "2m"))
        }
        try engine.flush()
        for i in 0..<16 {
            let customer = try #require(try store.customer(id: "user-\(i)"))
            #expect(!customer.traits.contains("u\(i)@example.com"), "user-\(i) came back without the erased e-mail: \(customer.traits)")
        }
    }

    @Test("promotion limits follow a customer through a merge, within and across shards")
    func limitsFollowMerges() throws {
        let dir = try Fixtures.temporaryDirectory(files: ["rules/p.lua": """
            promotion "once" {
              on = "Product Viewed", limit = { per_customer = 1 },
              run = function(e, c, act) act:notify{ template = "hello" } end,
            }
            """, "plugins/.keep": ""])
        defer { try? FileManager.default.removeItem(at: dir) }
        let engines: [any EventPipeline] = [
            try Engine(store: try CrescentStore(), rulesDirectory: dir.appendingPathComponent("rules").path,
                       pluginsDirectory: dir.appendingPathComponent("plugins").path),
            try ShardedEngine(store: try CrescentStore(), rulesDirectory: dir.appendingPathComponent("rules").path,
                              pluginsDirectory: dir.appendingPathComponent("plugins").path, shards: 2),
        ]
        for engine in engines {
            for i in 0..<8 {
                let consent: [String: JSONValue] = ["marketing_consent": true]
                let first = try run(engine, EngineFixtures.track("Product Viewed", user: nil, anonymous: "a\(i)", at: "0m", traits: consent))
                #expect(first.actions.count == 1)
                _ = try run(engine, EngineFixtures.identify("u\(i)", anonymous: "a\(i)", traits: ["marketing_consent": true], at: "1m"))
                let again = try run(engine, EngineFixtures.track("Product Viewed", user: "u\(i)", at: "2m"))
                #expect(again.actions.isEmpty, "u\(i) already had it as a\(i)")
                #expect(again.result("promotion:once")?.reason == "limit per_customer = 1 reached")
            }
        }
    }

    private func run(_ engine: any EventPipeline, _ event: Event) throws -> EventOutcome {
        if let sharded = engine as? ShardedEngine { return try sharded.process(event) }
        return try (engine as! Engine).process(event)
    }

    @Test("an engine let go closes its database once its shards have finished: no thread, file or memory is kept")
    func releasedWhenDropped() throws {
        weak var store: CrescentStore?
        do {
            let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins, shards: 2)
            store = engine.store
            _ = try engine.process(EngineFixtures.track("Product Viewed"))
            try engine.flush()
        }
        // The shard threads end after their queues, on their own time: wait for them, bounded.
        for _ in 0..<600 where store != nil { Thread.sleep(forTimeInterval: 0.01) }
        #expect(store == nil)
    }
}
