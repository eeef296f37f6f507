import Engine
import Foundation
import Store
import TestSupport
import Testing

/// Each shipped rule fires when it should, and stays quiet when it should not.
@Suite("Shipped rules")
struct ShippedRulesTests {
    typealias F = EngineFixtures

    func consenting(_ engine: Engine, _ user: String = "u1", email: String = "ana@example.com") throws {
        _ = try engine.process(F.identify(user, traits: ["email": .string(email), "marketing_consent": true]))
    }

    @Test("rules/ passes crescent check with no problem")
    func checkClean() throws {
        let engine = try F.shippedEngine()
        #expect(engine.problems.isEmpty, "\(engine.problems)")
        #expect(engine.rules.declarations.count >= 20)
    }

    @Test("loyalty tiers move up with spend, exclusively, and the upgrade is announced at once")
    func loyaltyTiers() throws {
        let engine = try F.shippedEngine()
        try consenting(engine)
        let first = try engine.process(F.order("o1", total: 120, at: "1h"))
        #expect(first.segmentChanges.map(\.segment) == ["bronze"])
        #expect(!first.hit("promotion:tier_upgrade"))
        let second = try engine.process(F.order("o2", total: 100, at: "2h"))
        #expect(Set(second.segmentChanges.map { "\($0.segment):\($0.entered)" }) == ["bronze:false", "silver:true"])
        #expect(second.hit("promotion:tier_upgrade"))
        let notice = try #require(second.actions.first { $0.action == "notify" })
        #expect(notice.payload["data"]?["tier"] == "silver")
        let third = try engine.process(F.order("o3", total: 300, at: "3h"))
        #expect(third.hit("promotion:tier_upgrade"))
        #expect(third.actions.map(\.action).contains("coupon"), "gold brings a coupon")
        let stay = try engine.process(F.order("o4", total: 10, at: "4h"))
        #expect(stay.segmentChanges.isEmpty && !stay.hit("promotion:tier_upgrade"))
    }

    @Test("lifecycle: at risk after 60 quiet days, churned after 180, window shoppers")
    func lifecycle() throws {
        let engine = try F.shippedEngine()
        _ = try engine.process(F.order("o1", total: 50))
        let day30 = try engine.process(F.track("Page Viewed", at: "30d"))
        #expect(!day30.hit("segment:at_risk"))
        // No event needed: the nightly sweep (03:00 Madrid) moves the customer in on day 60.
        try engine.advance(to: F.time("61d"))
        try engine.flush()
        #expect(try engine.store.segments(of: "u1").contains("at_risk"))
        let day61 = try engine.process(F.track("Page Viewed", at: "61d"))
        #expect(day61.hit("segment:at_risk") && day61.segmentChanges.isEmpty)
        let day181 = try engine.process(F.track("Page Viewed", at: "181d"))
        #expect(day181.hit("segment:churned") && !day181.hit("segment:at_risk"))

        var last: EventOutcome?
        for i in 0..<10 { last = try engine.process(F.track("Product Viewed", user: "browser", ["product_id": .string("SKU-\(i)")], at: "\(i)m")) }
        #expect(last?.hit("segment:window_shopper") == true)
        let buyer = try engine.process(F.order("o9", user: "browser", total: 20, at: "1h"))
        #expect(buyer.segmentChanges.contains { $0.segment == "window_shopper" && !$0.entered })
    }

    @Test("first purchase welcome: once, on the first order only")
    func firstPurchase() throws {
        let engine = try F.shippedEngine()
        try consenting(engine)
        #expect(try engine.process(F.order("o1", total: 30, at: "1h")).hit("promotion:first_purchase_welcome"))
        #expect(!(try engine.process(F.order("o2", total: 30, at: "2h")).hit("promotion:first_purchase_welcome")))
    }

    @Test("VIP thank-you: gold customers on big orders, at most monthly")
    func vip() throws {
        let engine = try F.shippedEngine()
        try consenting(engine)
        #expect(!(try engine.process(F.order("o1", total: 100, at: "1h")).hit("promotion:vip_thank_you")))
        #expect(try engine.process(F.order("o2", total: 450, at: "2h")).hit("promotion:vip_thank_you"), "gold in the same event")
        let soon = try engine.process(F.order("o3", total: 200, at: "3h"))
        #expect(soon.result("promotion:vip_thank_you")?.outcome == .suppressed)
        #expect(!(try engine.process(F.order("o4", user: "u2", total: 200, at: "4h")).hit("promotion:vip_thank_you")))
    }

    @Test("recently viewed reminder and wishlist price drop")
    func browsing() throws {
        let engine = try F.shippedEngine()
        try consenting(engine)
        let v1 = try engine.process(F.track("Product Viewed", ["product_id": "SKU-1", "price": 30], at: "1m"))
        _ = try engine.process(F.track("Product Viewed", ["product_id": "SKU-2", "price": 30], at: "2m"))
        #expect(!v1.hit("promotion:recently_viewed_reminder"))
        let v3 = try engine.process(F.track("Product Viewed", ["product_id": "SKU-1", "price": 30], at: "3m"))
        #expect(v3.hit("promotion:recently_viewed_reminder"))

        _ = try engine.process(F.track("Product Added to Wishlist", ["product_id": "SKU-9", "price": 40], at: "1h"))
        let same = try engine.process(F.track("Product Viewed", ["product_id": "SKU-9", "price": 40], at: "2h"))
        #expect(!same.hit("promotion:wishlist_price_drop"))
        let cheaper = try engine.process(F.track("Product Viewed", ["product_id": "SKU-9", "price": 32], at: "3h"))
        #expect(cheaper.hit("promotion:wishlist_price_drop"))
    }

    @Test("fraud: card velocity and card testing")
    func velocityAndTesting() throws {
        let engine = try F.shippedEngine()
        var outcomes: [EventOutcome] = []
        for i in 0..<3 {
            outcomes.append(try engine.process(F.order("t\(i)", user: "tester\(i)", total: 1, at: "\(i)m", ["card_fingerprint": "stolen"])))
        }
        #expect(outcomes[1].decision?.verdict == .allow)
        #expect(outcomes[2].hit("fraud:card_velocity") && outcomes[2].hit("fraud:card_testing"))
        #expect(outcomes[2].decision?.verdict == .block)
        let normal = try engine.process(F.order("n1", user: "normal", total: 80, at: "5m", ["card_fingerprint": "mine"]))
        #expect(normal.decision?.verdict == .allow && !normal.hit("fraud:card_velocity"))
    }

    @Test("fraud: IP velocity")
    func ipVelocity() throws {
        let engine = try F.shippedEngine()
        var last: EventOutcome?
        for i in 0..<5 {
            var event = F.order("ip\(i)", user: "shopper\(i)", total: 40, at: "\(i)m", ["card_fingerprint": .string("c\(i)")])
            event.context["ip"] = "203.0.113.9"
            last = try engine.process(event)
            if i == 3 { #expect(last?.hit("fraud:ip_velocity") == false) }
        }
        #expect(last?.hit("fraud:ip_velocity") == true)
    }

    @Test("fraud: many cards on one account")
    func manyCards() throws {
        let engine = try F.shippedEngine()
        var last: EventOutcome?
        for (i, card) in ["a", "b", "a", "c"].enumerated() {
            last = try engine.process(F.order("m\(i)", total: 60, at: "\(i * 10)m", ["card_fingerprint": .string(card)]))
            if i == 2 { #expect(last?.hit("fraud:many_cards") == false) }
        }
        #expect(last?.hit("fraud:many_cards") == true)
        #expect(last?.decision?.verdict == .review)
    }

    @Test("fraud: disposable e-mail, country mismatch, high first order")
    func identityRules() throws {
        let engine = try F.shippedEngine()
        _ = try engine.process(F.identify("bad", traits: ["email": "x@Mailinator.com"]))
        let disposable = try engine.process(F.order("d1", user: "bad", total: 1200))
        #expect(disposable.hit("fraud:disposable_email") && disposable.hit("fraud:high_value_first_order"))
        #expect(disposable.decision?.verdict == .block)

        let mismatch = try engine.process(F.order("g1", user: "geo", total: 60,
                                                  ["billing_country": "ES", "shipping_country": "NG", "ip_country": "RU"]))
        #expect(mismatch.result("fraud:country_mismatch")?.score == 60)
        #expect(mismatch.decision?.verdict == .review)

        _ = try engine.process(F.identify("good", traits: ["email": "ana@example.com"]))
        let clean = try engine.process(F.order("c1", user: "good", total: 60,
                                               ["billing_country": "ES", "shipping_country": "ES", "ip_country": "ES"]))
        #expect(clean.decision?.verdict == .allow)
        #expect(!clean.hit("fraud:disposable_email") && !clean.hit("fraud:country_mismatch") && !clean.hit("fraud:high_value_first_order"))
    }

    @Test("operations: low stock (once per SKU and region, again every 3 days) and competitor undercut alerts need no consent")
    func alerts() throws {
        let engine = try F.shippedEngine()
        let low = try engine.process(F.track("Inventory Updated", user: nil, anonymous: "feed",
                                             ["sku": "SKU-1", "region": "north", "quantity": 3]))
        #expect(low.hit("promotion:low_stock_alert"))
        #expect(low.actions.first?.payload["message"] == "low stock: SKU-1 in north has 3 left")
        let fine = try engine.process(F.track("Inventory Updated", user: nil, anonymous: "feed", ["sku": "SKU-2", "quantity": 30]))
        #expect(!fine.hit("promotion:low_stock_alert"))
        // A shelf that stays low is reported once per SKU and region, again after 3 days, not on every update.
        func stock(_ sku: String, _ region: String, _ quantity: Int, at: String) throws -> Bool {
            try engine.process(F.track("Inventory Updated", user: nil, anonymous: "feed",
                                       ["sku": .string(sku), "region": .string(region), "quantity": .int(Int64(quantity))], at: at))
                .hit("promotion:low_stock_alert")
        }
        #expect(try stock("SKU-1", "north", 2, at: "1d") == false)
        #expect(try stock("SKU-1", "south", 2, at: "1d") == true)
        #expect(try stock("SKU-1", "north", 1, at: "2d") == false)
        #expect(try stock("SKU-1", "north", 1, at: "3d1m") == true)
        let suppressed = try engine.process(F.track("Inventory Updated", user: nil, anonymous: "feed",
                                                    ["sku": "SKU-1", "region": "north", "quantity": 0], at: "4d"))
        #expect(suppressed.results.first { $0.rule == "promotion:low_stock_alert" }?.reason?.hasSuffix("for key SKU-1@north") == true)
        let undercut = try engine.process(F.track("Competitor Price Observed", user: nil, anonymous: "watch",
                                                  ["sku": "SKU-1", "price": 8, "our_price": 10], at: "4d"))
        #expect(undercut.hit("promotion:competitor_undercut_alert"))
        let close = try engine.process(F.track("Competitor Price Observed", user: nil, anonymous: "watch",
                                               ["sku": "SKU-1", "price": 9.5, "our_price": 10], at: "4d"))
        #expect(!close.hit("promotion:competitor_undercut_alert"))
    }
}
