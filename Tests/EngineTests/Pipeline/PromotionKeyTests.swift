import Engine
import Foundation
import Store
import TestSupport
import Testing

@Suite("A promotion's key: limits per customer and key")
struct PromotionKeyTests {
    typealias F = EngineFixtures

    static let rules = ["promotions/nudge.lua": """
        promotion "cart_nudge" {
          on = "Product Added",
          key = function(e) return e.properties.cart_id end,
          limit = { per_customer = 1 },
          run = function(e, c, act) act:notify{ template = "nudge", data = { cart = e.properties.cart_id } } end,
        }
        """]

    func added(_ engine: Engine, _ cart: String?, user: String? = nil, anonymous: String? = nil, at: String) throws -> EventOutcome {
        var properties: [String: JSONValue] = ["price": 10]
        if let cart { properties["cart_id"] = .string(cart) }
        return try engine.process(F.track("Product Added", user: user, anonymous: anonymous, properties, at: at))
    }

    func reason(_ outcome: EventOutcome) -> String? { outcome.results.first { $0.rule == "promotion:cart_nudge" }?.reason }

    @Test("once per cart: a second cart fires, the same cart does not, across a merge and a restart; no key is a bucket of its own")
    func perCart() throws {
        let store = try CrescentStore()
        let engine = try F.engine(rules: Self.rules, store: store)
        _ = try engine.process(F.identify(nil, anonymous: "anon-1", traits: ["marketing_consent": true]))
        #expect(try added(engine, "A", anonymous: "anon-1", at: "1m").actions.count == 1)
        let again = try added(engine, "A", anonymous: "anon-1", at: "2m")
        #expect(again.actions.isEmpty)
        #expect(reason(again) == "limit per_customer = 1 reached for key A")
        #expect(try added(engine, "B", anonymous: "anon-1", at: "3m").actions.count == 1)
        #expect(try added(engine, nil, anonymous: "anon-1", at: "4m").actions.count == 1, "no key: the customer's unkeyed limit")
        #expect(try added(engine, nil, anonymous: "anon-1", at: "5m").actions.isEmpty)

        // The anonymous history becomes u1's: its fires count for u1.
        _ = try engine.process(F.identify("u1", anonymous: "anon-1", traits: ["marketing_consent": true], at: "6m"))
        #expect(try added(engine, "A", user: "u1", at: "7m").actions.isEmpty)
        try engine.flush()

        let restarted = try F.engine(rules: Self.rules, store: store)
        #expect(try added(restarted, "B", user: "u1", at: "8m").actions.isEmpty, "B's fire is read back from the store")
        #expect(try added(restarted, "C", user: "u1", at: "9m").actions.count == 1)
        try restarted.flush()
        let fires = try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM promotion_fires WHERE fire_key IS NOT NULL") }
        #expect(fires == 3)
    }

    @Test("a key function that fails is the rule's error, with its line; the event goes on")
    func failingKey() throws {
        let engine = try F.engine(rules: ["promotions/bad.lua": """
            promotion "bad_key" {
              on = "Product Added",
              key = function(e) return e.properties.cart_id .. nil end,
              run = function(e, c, act) act:notify{ template = "x" } end,
            }
            """])
        let outcome = try added(engine, "A", user: "u1", at: "1m")
        let result = try #require(outcome.results.first { $0.rule == "promotion:bad_key" })
        #expect(result.outcome == .error)
        #expect(result.reason?.contains("promotions/bad.lua:3") == true)
        #expect(outcome.actions.isEmpty)
    }
}
