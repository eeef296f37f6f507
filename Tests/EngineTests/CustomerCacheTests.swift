import Engine
import Foundation
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

@Suite("The bounded customer cache")
struct CustomerCacheTests {
    static let rules = """
        segment "buyer" { when = function(c) return c.orders_count >= 1 end }
        promotion "welcome" {
          on = "Order Completed", limit = { per_customer = 1 },
          run = function(e, c, act) act:notify{ template = "welcome" } end,
        }
        promotion "remembers" {
          on = "Checkout Started", marketing = false,
          when = function(e, c)
            local viewed = c:recently_viewed(1)[1]
            return c:cart_value("cart-" .. c.id) == 30 and viewed == "p-" .. c.id and c.orders_count == 1
              and c:in_segment("buyer")
          end,
          run = function(e, c, act) act:tag("remembered") end,
        }
        """

    /// An engine that keeps at most three customers in memory and commits every event.
    static func smallCacheEngine() throws -> Engine {
        var options = EngineOptions()
        options.customerCacheLimit = 3
        options.batchSize = 1
        return try F.engine(rules: ["rules.lua": Self.rules], options: options)
    }

    @Test("customers beyond the limit leave memory and come back whole: orders, carts, views, segments, limits")
    func evictAndReload() throws {
        let engine = try Self.smallCacheEngine()
        for n in 0..<10 {
            let user = "u\(n)"
            _ = try engine.process(F.identify(user, traits: ["marketing_consent": true], at: "\(n)m"))
            _ = try engine.process(F.track("Product Viewed", user: user, ["product_id": .string("p-\(user)")], at: "\(n)m"))
            _ = try engine.process(F.track("Product Added", user: user, ["cart_id": .string("cart-\(user)"), "price": 30, "quantity": 1],
                                           at: "\(n)m"))
            _ = try engine.process(F.order("o-\(user)", user: user, total: 30, at: "\(n)m"))
        }
        #expect(engine.evictedCustomers >= 6)
        #expect(engine.cachedCustomers <= 4)
        // u0 left memory long ago; everything about them is read back from the store.
        let back = try engine.process(F.track("Checkout Started", user: "u0", at: "1h"))
        #expect(back.hit("promotion:remembers"), "cart, recently viewed, orders and segments survive eviction")
        let again = try engine.process(F.order("o-u0-2", user: "u0", total: 10, at: "2h"))
        #expect(again.result("promotion:welcome")?.outcome == .suppressed, "the per-customer limit survives eviction")
        #expect(again.segmentChanges.isEmpty, "still a buyer: no second entry")
        try engine.flush()
        #expect(try engine.store.customer(id: "u0")?.ordersCount == 2)
        #expect(try engine.store.outbox(rule: "promotion:welcome").count == 10)
    }

    @Test("past the cache's bound, a new customer costs no store read; an evicted one is read back")
    func newCustomersAfterEviction() throws {
        let engine = try Self.smallCacheEngine()
        for n in 0..<20 {
            _ = try engine.process(F.identify("new-\(n)", traits: ["marketing_consent": true], at: "\(n)m"))
            _ = try engine.process(F.order("o-new-\(n)", user: "new-\(n)", total: 30, at: "\(n)m"))
        }
        #expect(engine.evictedCustomers >= 10)
        #expect(engine.store.customerReads == 0, "every customer was new to a store that held nothing at start")
        let back = try engine.process(F.order("o-new-0-2", user: "new-0", total: 10, at: "1h"))
        #expect(engine.store.customerReads >= 1)
        #expect(back.result("promotion:welcome")?.outcome == .suppressed, "the evicted customer came back with their first order")
    }
}
