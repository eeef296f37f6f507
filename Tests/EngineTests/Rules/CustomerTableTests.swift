import Engine
import Foundation
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

@Suite("The customer table c that rules read")
struct CustomerTableTests {
    /// Logs every structured field of `c` (read when a rule first asks for it).
    static let probe = """
        segment "buyer" { when = function(c) return c.orders_count >= 1 end }
        local kept
        promotion "keeper" {
          on = "Keep", marketing = false,
          when = function(e, c) kept = c return false end,
          run = function() end,
        }
        promotion "probe" {
          on = "Probe", marketing = false,
          when = function(e, c)
            local carts, wishlist = 0, 0
            for _ in pairs(c.carts) do carts = carts + 1 end
            for _ in pairs(c.wishlist) do wishlist = wishlist + 1 end
            log(("id=%s orders=%d first=%s email=%s consent=%s buyer=%s carts=%d wishlist=%d source=%s rfm=%d"):format(
              c.id, #c.orders, c.orders[1] and c.orders[1].id or "-", tostring(c.traits.email),
              tostring(c:has_consent()), tostring(c:in_segment("buyer")), carts, wishlist,
              tostring(c.acquisition.first_touch and c.acquisition.first_touch.source), c.rfm.frequency))
            if kept then log(("earlier table: %s, orders %s, spent %s"):format(kept.id, tostring(kept.orders), kept:spent())) end
            return false
          end,
          run = function() end,
        }
        """

    @Test("every field is there when a rule reads it, and an earlier event's table never shows the next customer")
    func fields() throws {
        let engine = try F.engine(rules: ["probe.lua": Self.probe])
        _ = try engine.process(F.identify("ana", traits: ["email": "ana@example.com", "marketing_consent": true]))
        var visit = F.track("Page Viewed", user: "ana")
        visit.context = ["campaign": ["source": "newsletter", "medium": "email"]]
        _ = try engine.process(visit)
        _ = try engine.process(F.track("Product Added", user: "ana", ["cart_id": "k1", "price": 12, "quantity": 1]))
        _ = try engine.process(F.track("Product Added to Wishlist", user: "ana", ["product_id": "p9", "price": 30]))
        _ = try engine.process(F.order("o1", user: "ana", total: 40))
        _ = try engine.process(F.track("Keep", user: "ana"))
        _ = try engine.process(F.track("Probe", user: "ana"))
        _ = try engine.process(F.order("o2", user: "bo", total: 15))
        _ = try engine.process(F.track("Probe", user: "bo"))
        #expect(engine.log == [
            "id=ana orders=1 first=o1 email=ana@example.com consent=true buyer=true carts=1 wishlist=1 source=newsletter rfm=1",
            "earlier table: ana, orders nil, spent 40.0",
            "id=bo orders=1 first=o2 email=nil consent=false buyer=true carts=0 wishlist=0 source=nil rfm=1",
            "earlier table: ana, orders nil, spent 40.0",
        ])
    }
}
