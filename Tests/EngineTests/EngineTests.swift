import Engine
import LuaKit
import Foundation
import Store
import TestSupport
import Testing

private let loyalty = """
    segment "gold" {
      description = "Spent 500 or more in the last 365 days",
      when = function(c) return c:spent{ within = "365d" } >= 500 end,
    }
    """
private let goldWelcome = """
    promotion "gold_welcome" {
      on = "Segment Entered",
      when = function(e, c) return e.properties.segment == "gold" end,
      limit = { per_customer = 1 },
      run = function(e, c, act)
        local code = act:coupon{ percent = 15, expires_in = "30d" }
        act:notify{ channel = "email", template = "gold_welcome", data = { coupon = code } }
      end,
    }
    """
private let velocity = EngineFixtures.velocityRules

@Suite("The per-event pipeline")
struct EngineTests {
    @Test("a purchase that lifts a customer into gold notifies them in the same pass")
    func goldUpgrade() throws {
        let engine = try EngineFixtures.engine(rules: ["segments/loyalty.lua": loyalty, "promotions/gold.lua": goldWelcome])
        _ = try engine.process(EngineFixtures.identify("u1", traits: ["email": "a@example.com", "marketing_consent": true]))
        let first = try engine.process(EngineFixtures.order("o1", total: 300, at: "1h"))
        #expect(first.segmentChanges.isEmpty)
        #expect(first.actions.isEmpty)
        let second = try engine.process(EngineFixtures.order("o2", total: 250, at: "2h"))
        #expect(second.segmentChanges.map(\.segment) == ["gold"])
        #expect(second.actions.map(\.action) == ["coupon", "notify"])
        let code = second.actions[0].payload["code"]?.stringValue
        #expect(code?.hasPrefix("CR-") == true)
        #expect(second.actions[1].payload["data"]?["coupon"]?.stringValue == code)
        #expect(second.results.contains { $0.rule == "promotion:gold_welcome" && $0.outcome == .hit })
        try engine.flush()
        #expect(try engine.store.segmentSizes() == ["gold": 1])
        #expect(try engine.store.count("outbox") == 2)
        // A third order keeps them in gold: no second welcome.
        let third = try engine.process(EngineFixtures.order("o3", total: 20, at: "3h"))
        #expect(third.segmentChanges.isEmpty && third.actions.isEmpty)
    }

    @Test("no marketing action without consent; the suppression is the recorded reason")
    func consentSuppression() throws {
        let engine = try EngineFixtures.engine(rules: ["segments/loyalty.lua": loyalty, "promotions/gold.lua": goldWelcome])
        let outcome = try engine.process(EngineFixtures.order("o1", total: 900))
        #expect(outcome.segmentChanges.map(\.segment) == ["gold"])
        #expect(outcome.actions.isEmpty)
        let result = try #require(outcome.results.first { $0.rule == "promotion:gold_welcome" })
        #expect(result.outcome == .suppressed)
        #expect(result.reason == "no marketing consent")
    }

    @Test("an action keeps the consent it was made under, for delivery to check again; an operational alert needs none")
    func actionsKeepTheirConsent() throws {
        let engine = try EngineFixtures.engine(rules: ["promotions/p.lua": """
            promotion "thanks" { on = "Order Completed", run = function(e, c, act) act:notify{ template = "thanks" } end }
            promotion "big_order_alert" {
              on = "Order Completed", marketing = false,
              run = function(e, c, act) act:alert{ channel = "ops", message = "big order" } end,
            }
            """])
        _ = try engine.process(EngineFixtures.identify("u1", traits: ["marketing_consent": true], at: "-1m"))
        _ = try engine.process(EngineFixtures.order("o1", total: 900))
        try engine.flush()
        #expect(try engine.store.outbox(rule: "promotion:thanks").map(\.consentPurpose) == ["marketing"])
        #expect(try engine.store.outbox(rule: "promotion:big_order_alert").map(\.consentPurpose) == [nil])
    }

    @Test("card velocity: the third order on one card in an hour is reviewed, with every rule's score")
    func cardVelocity() throws {
        let engine = try EngineFixtures.engine(rules: ["fraud/velocity.lua": velocity])
        let card: [String: JSONValue] = ["card_fingerprint": "fp-1"]
        let a = try engine.process(EngineFixtures.order("o1", total: 20, at: "0m", card))
        let b = try engine.process(EngineFixtures.order("o2", user: "u2", total: 20, at: "10m", card))
        let c = try engine.process(EngineFixtures.order("o3", user: "u3", total: 2000, at: "20m", card))
        #expect(a.decision?.verdict == .allow && b.decision?.verdict == .allow)
        let decision = try #require(c.decision)
        #expect(decision.verdict == .block)
        #expect(decision.score == 90)
        #expect(decision.reasons == ["card used 3 times in the last hour", "first order over 1000"])
        // Two hours later the window has passed.
        let d = try engine.process(EngineFixtures.order("o4", user: "u4", total: 20, at: "3h", card))
        #expect(d.decision?.verdict == .allow)
        try engine.flush()
        let stored = try #require(try engine.store.decision(messageId: c.messageId))
        #expect(stored.decision == "block" && stored.orderId == "o3")
    }

    @Test("one order completed again under new messageIds (a retried checkout, browser and server both sending it) counts once, across a restart")
    func repeatedOrderCompletion() throws {
        let thanks = """
            promotion "thanks" { on = "Order Completed", run = function(e, c, act) act:notify{ channel = "email", template = "thanks" } end }
            journey "follow_up" { on = "Order Completed", steps = { wait "1d", send { channel = "email", template = "how_was_it" } } }
            """
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.db").path
        let rules = ["fraud/velocity.lua": velocity, "promotions/thanks.lua": thanks]
        let card: [String: JSONValue] = ["card_fingerprint": "fp-1"]
        var engine = try EngineFixtures.engine(rules: rules, store: try CrescentStore(path: path))
        _ = try engine.process(EngineFixtures.identify("u1", traits: ["marketing_consent": true]))
        let first = try engine.process(EngineFixtures.order("o1", total: 20, at: "1m", card))
        #expect(first.hit("promotion:thanks") && first.hit("journey:follow_up") && first.hit("counter:orders_per_card"))
        var outcomes: [EventOutcome] = []
        for minute in 2...3 { outcomes.append(try engine.process(EngineFixtures.order("o1", total: 20, at: "\(minute)m", card))) }
        try engine.flush()
        engine = try EngineFixtures.engine(rules: rules, store: try CrescentStore(path: path))
        outcomes.append(try engine.process(EngineFixtures.order("o1", total: 20, at: "4m", card)))
        for again in outcomes {
            #expect(!again.duplicate)
            #expect(again.decision?.verdict == .allow, "the card was used for one order, not \(outcomes.count + 1)")
            #expect(again.decision?.reasons == [])
            #expect(again.actions.isEmpty)
            #expect(again.result("counter:orders_per_card")?.reason == "key fp-1: order o1 was already completed: counted once")
            #expect(again.result("promotion:thanks")?.outcome == .suppressed)
            #expect(again.result("journey:follow_up")?.outcome != .hit)
        }
        // A new order on the card still counts.
        let next = try engine.process(EngineFixtures.order("o2", total: 20, at: "5m", card))
        #expect(next.hit("counter:orders_per_card") && next.hit("promotion:thanks"))
        try engine.flush()
        #expect(try engine.store.customer(id: "u1")?.ordersCount == 2)
        #expect(try engine.store.count("outbox") == 2)
        #expect(try engine.store.count("journey_instances") == 1, "one per customer, still waiting")
        #expect(try engine.store.count("events") == 6, "every message is kept in the log")
    }

    @Test("the same messageId twice changes nothing the second time")
    func deduplication() throws {
        let engine = try EngineFixtures.engine(rules: ["segments/loyalty.lua": loyalty])
        let order = EngineFixtures.order("o1", total: 100)
        _ = try engine.process(order)
        let again = try engine.process(order)
        #expect(again.duplicate)
        try engine.flush()
        let third = try engine.process(order)
        #expect(third.duplicate)
        try engine.flush()
        #expect(try engine.store.customer(id: "u1")?.ordersCount == 1)
        #expect(try engine.store.count("events") == 1)
    }

    @Test("a failing rule is recorded and skipped, the others go on, and repeated failure disables it")
    func failingRule() throws {
        var options = EngineOptions()
        options.disableAfterErrors = 3
        let engine = try EngineFixtures.engine(rules: [
            "segments/broken.lua": "segment \"broken\" { when = function(c) return c.traits.missing.field end }",
            "segments/loyalty.lua": loyalty,
        ], options: options)
        for i in 0..<4 {
            let outcome = try engine.process(EngineFixtures.order("o\(i)", total: 200, at: "\(i)h"))
            let broken = try #require(outcome.results.first { $0.rule == "segment:broken" })
            #expect(broken.outcome == (i < 3 ? .error : .disabled))
            if i == 0 { #expect(broken.reason?.hasPrefix("rules/segments/broken.lua:1: attempt to index a nil value") == true) }
            if i == 2 {
                #expect(outcome.segmentChanges.map(\.segment) == ["gold"])
                #expect(outcome.actions.first?.action == "alert")
            }
        }
        #expect(engine.stats["segment:broken"]?.disabled == true)
        #expect(engine.stats["segment:broken"]?.errors == 3)
    }

    @Test("an identify after anonymous browsing joins the anonymous history to the user")
    func identityMerge() throws {
        let engine = try EngineFixtures.engine(rules: ["segments/loyalty.lua": loyalty])
        _ = try engine.process(EngineFixtures.track("Product Viewed", user: nil, anonymous: "anon-1", ["product_id": "sku-1"]))
        _ = try engine.process(EngineFixtures.track("Product Added", user: nil, anonymous: "anon-1",
                                                    ["product_id": "sku-1", "cart_id": "cart-1", "price": 5], at: "30s"))
        _ = try engine.process(EngineFixtures.order("o1", user: "anon-x", total: 10))
        let anonymousOrder = EngineFixtures.track("Order Completed", user: nil, anonymous: "anon-1",
                                                  ["order_id": "o9", "total": 600], at: "1m")
        let bought = try engine.process(anonymousOrder)
        #expect(bought.customerId == "anon-1")
        let identified = try engine.process(EngineFixtures.identify("user-7", anonymous: "anon-1", traits: ["email": "z@example.com"], at: "2m"))
        #expect(identified.customerId == "user-7")
        #expect(identified.segmentChanges.map(\.segment) == ["gold"], "the merged spend counts for the user")
        let later = try engine.process(EngineFixtures.track("Page Viewed", user: nil, anonymous: "anon-1", at: "3m"))
        #expect(later.customerId == "user-7")
        try engine.flush()
        let user = try #require(try engine.store.customer(id: "user-7"))
        #expect(user.ordersCount == 1 && user.totalSpent == 600)
        #expect(try engine.store.customer(id: "anon-1")?.mergedInto == "user-7")
        let moved = try engine.store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE customer_id = 'user-7'")
        }
        #expect(moved == 5)
        // Rows written in the same group commit as the merge, before it, move too.
        let owners = try engine.store.read { db in
            try String.fetchAll(db, sql: "SELECT customer_id FROM orders WHERE id = 'o9' UNION ALL SELECT customer_id FROM carts WHERE cart_id = 'cart-1'")
        }
        #expect(owners == ["user-7", "user-7"])

        // An anonymous history committed in an earlier batch moves too.
        _ = try engine.process(EngineFixtures.track("Product Added", user: nil, anonymous: "anon-2",
                                                    ["product_id": "sku-1", "cart_id": "cart-2", "price": 5], at: "4m"))
        try engine.flush()
        _ = try engine.process(EngineFixtures.identify("user-8", anonymous: "anon-2", traits: [:], at: "5m"))
        try engine.flush()
        let later2 = try engine.store.read { db in
            try String.fetchAll(db, sql: "SELECT customer_id FROM carts WHERE cart_id = 'cart-2' UNION ALL SELECT customer_id FROM events WHERE customer_id LIKE '%-2' OR customer_id = 'user-8'")
        }
        #expect(later2 == ["user-8", "user-8", "user-8"])
    }

    @Test("a recent fraud block suppresses promotions")
    func fraudBlockSuppressesPromotions() throws {
        let engine = try EngineFixtures.engine(rules: [
            "fraud/velocity.lua": velocity, "segments/loyalty.lua": loyalty, "promotions/gold.lua": goldWelcome,
        ])
        _ = try engine.process(EngineFixtures.identify("u1", traits: ["marketing_consent": true]))
        let outcome = try engine.process(EngineFixtures.order("o1", total: 1500, at: "1m"))
        #expect(outcome.decision?.verdict == .review)
        let blocked = try engine.process(EngineFixtures.order("o2", total: 1500, at: "2m", ["card_fingerprint": "x"]))
        _ = blocked
        let engine2 = try EngineFixtures.engine(rules: [
            "fraud/strict.lua": """
                fraud_policy { on = "Order Completed", review_at = 10, block_at = 20 }
                fraud "always" { score = function() return 30, "test block" end }
                """,
            "segments/loyalty.lua": loyalty, "promotions/gold.lua": goldWelcome,
        ])
        _ = try engine2.process(EngineFixtures.identify("u1", traits: ["marketing_consent": true]))
        let o = try engine2.process(EngineFixtures.order("o1", total: 900, at: "1m"))
        #expect(o.decision?.verdict == .block)
        let promo = try #require(o.results.first { $0.rule == "promotion:gold_welcome" })
        #expect(promo.outcome == .suppressed)
        #expect(promo.reason?.hasPrefix("fraud block on") == true)
    }

    @Test("promotion limits: per customer and cooldown (a duration, or a number of seconds)", arguments: [#""1d""#, "86400"])
    func promotionLimits(cooldown: String) throws {
        let engine = try EngineFixtures.engine(rules: ["promotions/welcome.lua": """
            promotion "browse_reminder" {
              on = "Product Viewed",
              limit = { cooldown = \(cooldown) },
              run = function(e, c, act) act:notify{ template = "reminder" } end,
            }
            """])
        _ = try engine.process(EngineFixtures.identify("u1", traits: ["marketing_consent": true]))
        let first = try engine.process(EngineFixtures.track("Product Viewed", at: "1h"))
        let second = try engine.process(EngineFixtures.track("Product Viewed", at: "2h"))
        let third = try engine.process(EngineFixtures.track("Product Viewed", at: "26h"))
        #expect(first.actions.count == 1)
        #expect(second.actions.isEmpty)
        #expect(second.results.first?.reason?.hasPrefix("cooldown \(cooldown.replacingOccurrences(of: "\"", with: "")) since") == true)
        #expect(third.actions.count == 1)
    }

    @Test("shadow rules are evaluated and recorded but never act")
    func shadowMode() throws {
        let engine = try EngineFixtures.engine(rules: ["fraud/p.lua": """
            fraud_policy { on = "Order Completed", review_at = 10, block_at = 20 }
            fraud "candidate" { mode = "shadow", score = function() return 50, "would block" end }
            """])
        let outcome = try engine.process(EngineFixtures.order("o1", total: 10))
        #expect(outcome.decision?.verdict == .allow)
        #expect(outcome.results.first?.outcome == .shadowHit)
        #expect(engine.stats["fraud:candidate"]?.shadowHits == 1)
    }

    @Test("a segment's hits are its entries, not the events of its members nor its exits; a shadow segment's, its would-be entries")
    func segmentHitsAreEntries() throws {
        let engine = try EngineFixtures.engine(rules: ["segments/vip.lua": """
            segment "vip" { when = function(c) return c.traits.vip == true end }
            segment "vip_candidate" { mode = "shadow", when = function(c) return c.traits.vip == true end }
            """])
        let F = EngineFixtures.self
        let entered = try engine.process(F.identify("u1", traits: ["vip": .bool(true)], at: "1m"))
        #expect(entered.results.first { $0.rule == "segment:vip" }?.reason == "entered")
        #expect(entered.results.first { $0.rule == "segment:vip_candidate" }?.reason == "would enter")
        let stayed = try engine.process(F.track("Page Viewed", at: "2m"))
        #expect(stayed.hit("segment:vip"), "the explanation still says the customer is in it")
        _ = try engine.process(F.identify("u1", traits: ["vip": .bool(false)], at: "3m"))
        _ = try engine.process(F.identify("u1", traits: ["vip": .bool(true)], at: "4m"))
        _ = try engine.process(F.track("Page Viewed", at: "5m"))
        #expect(engine.stats["segment:vip"]?.hits == 2)
        #expect(engine.stats["segment:vip_candidate"]?.shadowHits == 2)
        #expect(engine.stats["segment:vip_candidate"]?.hits == 0)
    }

    @Test("a shadow segment's would-be entry counts once, across a restart; the customer's export shows it")
    func shadowMembershipIsStored() throws {
        let rules = ["segments/vip.lua": """
            segment "vip_candidate" { mode = "shadow", when = function(c) return c.traits.vip == true end }
            """]
        let F = EngineFixtures.self
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("shadow.db").path
        do {
            let first = try F.engine(rules: rules, store: try CrescentStore(path: path))
            let entered = try first.process(F.identify("u1", traits: ["vip": .bool(true)], at: "1m"))
            #expect(entered.results.first { $0.rule == "segment:vip_candidate" }?.reason == "would enter")
            _ = try first.process(F.identify("u2", traits: ["vip": .bool(true)], at: "1m"))
            _ = try first.process(F.identify("u2", traits: ["vip": .bool(false)], at: "2m"))
            try first.flush()
        }
        let store = try CrescentStore(path: path)
        let restarted = try F.engine(rules: rules, store: store)
        let again = try restarted.process(F.track("Page Viewed", user: "u1", at: "3m"))
        #expect(again.results.first { $0.rule == "segment:vip_candidate" }?.outcome == .shadowHit)
        #expect(again.results.first { $0.rule == "segment:vip_candidate" }?.reason != "would enter", "u1 was in it before the restart")
        let back = try restarted.process(F.identify("u2", traits: ["vip": .bool(true)], at: "4m"))
        #expect(back.results.first { $0.rule == "segment:vip_candidate" }?.reason == "would enter", "u2 had left it")
        #expect(restarted.stats["segment:vip_candidate"]?.shadowHits == 1)
        try restarted.flush()
        let export = try #require(try store.exportCustomer("u1"))
        #expect(export.contains("shadow_segment_members") && export.contains("vip_candidate"))
        #expect(try store.eraseCustomer("u1", at: F.time("5m")) != nil)
        #expect(try store.count("shadow_segment_members") == 1, "u2's row stays")
    }

    @Test("lists and distinct counters")
    func listsAndDistinctCounters() throws {
        let engine = try EngineFixtures.engine(rules: ["fraud/r.lua": """
            fraud_policy { on = "Order Completed", review_at = 30, block_at = 60 }
            list "disposable_domains" { "mailinator.com", "guerrillamail.com" }
            distinct_counter "cards_per_customer" {
              on = "Order Completed", window = "7d",
              key = function(e, c) return c.id end,
              value = function(e) return e.properties.card_fingerprint end,
            }
            fraud "disposable" {
              score = function(e, c)
                local domain = (c.traits.email or ""):match("@(.+)$")
                if domain and lists.contains("disposable_domains", domain) then return 30, "disposable domain " .. domain end
              end,
            }
            fraud "many_cards" {
              score = function(e, c, ctx)
                local n = ctx:distinct("cards_per_customer", c.id, "24h")
                if n >= 3 then return 30, n .. " cards in 24h" end
              end,
            }
            """])
        _ = try engine.process(EngineFixtures.identify("u1", traits: ["email": "x@mailinator.com"]))
        var last: EventOutcome?
        for (i, card) in ["a", "b", "b", "c"].enumerated() {
            last = try engine.process(EngineFixtures.order("o\(i)", total: 10, at: "\(i)h", ["card_fingerprint": .string(card)]))
        }
        #expect(last?.decision?.verdict == .block)
        #expect(last?.decision?.reasons == ["disposable domain mailinator.com", "3 cards in 24h"])
    }

    @Test("a rule that runs away is stopped by its limit; the others in its phase still run")
    func runawayRuleInPhase() throws {
        var options = EngineOptions()
        options.limits = LuaLimits(instructions: 200_000, timeout: 0.5, memoryBytes: 32 << 20)
        let engine = try EngineFixtures.engine(rules: [
            "segments/a.lua": "segment \"spinner\" { when = function(c) while true do end end }",
            "segments/loyalty.lua": loyalty,
            "fraud/p.lua": """
                fraud_policy { on = "Order Completed" }
                fraud "spin" { score = function() while true do end end }
                fraud "fixed" { score = function() return 60, "always" end }
                """,
        ], options: options)
        let outcome = try engine.process(EngineFixtures.order("o1", total: 700))
        let spinner = try #require(outcome.result("segment:spinner"))
        #expect(spinner.outcome == .error)
        #expect(spinner.reason?.contains("instruction limit exceeded") == true)
        #expect(outcome.segmentChanges.map(\.segment) == ["gold"])
        #expect(outcome.result("fraud:spin")?.outcome == .error)
        #expect(outcome.decision?.verdict == .review)
        #expect(outcome.decision?.reasons == ["always"])
    }
}
