@testable import Engine
import Foundation
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

@Suite("Message ids, counters and identities in bounded memory")
struct RecentMemoryTests {
    static let rules = """
        counter "orders_per_card" { on = "Order Completed", key = function(e) return e.properties.card end }
        fraud_policy { on = { "Order Completed" }, review_at = 30, block_at = 90 }
        fraud "card_velocity" {
          score = function(e, c, ctx)
            local n = ctx:count("orders_per_card", e.properties.card, "1h")
            if n >= 3 then return 40, ("card used %d times in the last hour"):format(n) end
          end,
        }
        """

    @Test("a map keeps what was used within a generation and hands the rest to onDrop once")
    func generations() {
        var map = RecentMap<String, Int>(generationSize: 3)
        var dropped: [String] = []
        let drop: ([String: Int]) -> Void = { dropped += $0.keys }
        for (n, key) in ["a", "b", "c", "d", "e"].enumerated() { map.set(key, n, onDrop: drop) }
        #expect(!map.hasDropped && dropped.isEmpty, "a, b, c moved to the previous generation; nothing dropped yet")
        #expect(map.value("a", onDrop: drop) == 0, "read back into the current generation")
        map.modify("e", onDrop: drop) { $0 += 10 }
        #expect(map.value("e") == 14)
        map.set("f", 5, onDrop: drop)
        #expect(map.hasDropped)
        #expect(Set(dropped) == ["b", "c"], "only the keys nobody touched")
        #expect(!map.contains("b") && map.contains("a") && map.contains("d"))
        #expect(map.count <= 6)
    }

    @Test("the Bloom filter never forgets an id it was given and rarely claims one it was not")
    func bloom() {
        var filter = StringBloomFilter(bits: 1 << 16)
        for n in 0..<2000 { filter.insert("id-\(n)") }
        #expect((0..<2000).allSatisfy { filter.mightContain("id-\($0)") })
        let falsePositives = (0..<10_000).filter { filter.mightContain("other-\($0)") }.count
        #expect(falsePositives < 100, "\(falsePositives) of 10,000")
    }

    @Test("once a day of the engine's clock, counter hits past their counter's window are deleted; counts do not change")
    func countersPruned() throws {
        let rules = Self.rules.replacingOccurrences(of: "return e.properties.card end }", with: "return e.properties.card end, window = \"1h\" }")
        var options = EngineOptions()
        options.batchSize = 1
        let store = try CrescentStore()
        let engine = try F.engine(rules: ["fraud.lua": rules], options: options, store: store)
        for (n, at) in ["0s", "1m", "2m"].enumerated() {
            _ = try engine.process(F.order("a\(n)", user: "ana", total: 10, at: at, ["card": "A"]))
        }
        try engine.flush()
        #expect(try store.count("counter_hits") == 3)
        // Two days later: card A's hits are past the 1-hour window, and the day's first commit deletes them.
        let later = try engine.process(F.order("b1", user: "bo", total: 10, at: "2d", ["card": "B"]))
        _ = try engine.process(F.order("a9", user: "ana", total: 10, at: "2d1m", ["card": "A"]))
        try engine.flush()
        #expect(try store.count("counter_hits") == 2, "B's and A's new hit")
        #expect(later.decision?.verdict == .allow)
        let fresh = try F.engine(rules: ["fraud.lua": rules], store: store)
        let again = try fresh.process(F.order("a10", user: "ana", total: 10, at: "2d2m", ["card": "A"]))
        #expect(again.result("fraud:card_velocity")?.outcome == .miss, "A counts 2 in the last hour, as before the deletion")
    }

    @Test("ids and counter keys stay bounded; a forgotten id is still a duplicate, a forgotten counter still counts")
    func boundedEngine() throws {
        var options = EngineOptions()
        options.recentKeys = 20
        options.batchSize = 5
        let engine = try F.engine(rules: ["fraud.lua": Self.rules], options: options)
        // Two orders on card A, then enough traffic to push A's key and both ids out of memory.
        let first = F.order("a1", user: "ana", total: 10, at: "0s", ["card": "A"])
        _ = try engine.process(first)
        _ = try engine.process(F.order("a2", user: "ana", total: 10, at: "1m", ["card": "A"]))
        for n in 0..<200 {
            _ = try engine.process(F.order("x\(n)", user: "u\(n)", total: 5, at: "2m", ["card": .string("card-\(n)")]))
        }
        try engine.flush()
        let held = engine.heldKeys
        #expect(held.messageIds <= 40 && held.counterKeys <= 40, "\(held)")
        // The first message again: no longer in memory, still refused.
        let again = try engine.process(first)
        #expect(again.duplicate)
        // A third order on card A within the hour: the two earlier hits are read back from the store.
        let third = try engine.process(F.order("a3", user: "ana", total: 10, at: "3m", ["card": "A"]))
        #expect(third.decision?.verdict == .review)
        #expect(third.decision?.reasons == ["card used 3 times in the last hour"])
        try engine.flush()
        #expect(try engine.store.count("events") == 203)
        #expect(try engine.store.customer(id: "ana")?.ordersCount == 3)
    }

    @Test("aliases leave memory and still route to their customer, through a merge not yet committed")
    func boundedIdentities() throws {
        var options = EngineOptions()
        options.recentKeys = 4
        let engine = try F.engine(rules: ["fraud.lua": Self.rules], options: options)
        _ = try engine.process(F.track("Product Viewed", user: nil, anonymous: "anon-a", ["product_id": "p1"]))
        _ = try engine.process(F.identify("ana", anonymous: "anon-a", traits: ["email": "ana@example.com"]))
        try engine.flush()
        for n in 0..<20 { _ = try engine.process(F.identify("user-\(n)", anonymous: "anon-\(n)", traits: [:])) }
        try engine.flush()
        #expect(engine.heldKeys.aliases <= 8, "\(engine.heldKeys)")
        // Read back from the store.
        let later = try engine.process(F.track("Product Viewed", user: nil, anonymous: "anon-a", ["product_id": "p2"], at: "1m"))
        #expect(later.customerId == "ana")
        for n in 20..<40 { _ = try engine.process(F.identify("user-\(n)", anonymous: "anon-\(n)", traits: [:])) }
        try engine.flush()
        // ana joins another account; before that is committed, the old anonymous id shows up again.
        var alias = F.track("Alias", user: "ana-account", at: "2m")
        alias.kind = .alias
        alias.previousId = "ana"
        _ = try engine.process(alias)
        let afterMerge = try engine.process(F.track("Product Viewed", user: nil, anonymous: "anon-a", ["product_id": "p3"], at: "3m"))
        #expect(afterMerge.customerId == "ana-account", "the stored link still names ana; the merge in memory moves it on")
        try engine.flush()
        #expect(try engine.store.resolve(alias: "anon-a") == "ana-account")
    }
}
