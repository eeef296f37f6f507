import Engine
import Foundation
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

@Suite("The event table e that rules read")
struct EventTableTests {
    static let probe = """
        local kept
        promotion "probe" {
          on = { "Page Viewed", "Order Completed", "Segment Entered" }, marketing = false,
          when = function(e, c)
            log(("%s %s user=%s prop=%s trait=%s page=%s order=%s items=%s card=%s"):format(
              e.name, e.type, tostring(e.user_id), tostring(e.properties.product_id or e.properties.segment),
              tostring(e.traits.plan), tostring(e.context.page and e.context.page.path),
              tostring(e.order and e.order.total), tostring(e.order and #e.order.items),
              tostring(e.order and e.order.payment and e.order.payment.card_country)))
            if kept then
              log(("earlier event: %s page=%s order=%s"):format(kept.name, tostring(kept.context.page and kept.context.page.path),
                tostring(kept.order)))
            end
            if e.name == "Page Viewed" then kept = e end
            return false
          end,
          run = function() end,
        }
        segment "buyer" { when = function(c) return c.orders_count >= 1 end }
        """

    @Test("properties, traits, context and order are there when a rule reads them; an earlier event's table does not show the next one")
    func fields() throws {
        let engine = try F.engine(rules: ["probe.lua": Self.probe])
        var page = F.track("Page Viewed", user: "ana", ["product_id": "p1"], traits: ["plan": "pro"])
        page.context = ["page": ["path": "/shoes"]]
        _ = try engine.process(page)
        _ = try engine.process(F.order("o1", user: "ana", total: 40, at: "1m", [
            "card_country": "ES", "products": [["sku": "p1", "price": 40, "quantity": 1]],
        ]))
        #expect(engine.log == [
            "Page Viewed track user=ana prop=p1 trait=pro page=/shoes order=nil items=nil card=nil",
            "Order Completed track user=ana prop=nil trait=nil page=nil order=40.0 items=1 card=ES",
            "earlier event: Page Viewed page=/shoes order=nil", // its own fields, never the next event's
            // the segment entry is an event of its own, in the same pass
            "Segment Entered track user=ana prop=buyer trait=nil page=nil order=40.0 items=1 card=ES",
            "earlier event: Page Viewed page=/shoes order=nil",
        ])
    }
}
