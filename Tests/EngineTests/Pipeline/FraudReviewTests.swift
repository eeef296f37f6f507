import Engine
import Foundation
import Store
import TestSupport
import Testing

@Suite("Reviews of flagged orders in the pipeline")
struct FraudReviewTests {
    typealias F = EngineFixtures

    static let rules = [
        "fraud/policy.lua": #"fraud_policy { on = { "Order Completed" }, review_at = 50, block_at = 80 }"#,
        "fraud/big.lua": #"fraud "big_order" { score = function(e) if (e.properties.total or 0) >= 500 then return 90, "big" end end }"#,
        "promotions/thanks.lua": #"""
            promotion "thanks" {
              on = "Order Completed",
              run = function(e, c, act) act:notify{ channel = "email", template = "thanks" } end,
            }
            """#,
    ]

    func thanks(_ outcome: EventOutcome) -> RuleResult? { outcome.results.first { $0.rule == "promotion:thanks" } }

    @Test("a block holds promotions back until a review clears its order, also after a restart; a confirmed one keeps holding")
    func clearedBlock() throws {
        let store = try CrescentStore()
        let engine = try F.engine(rules: Self.rules, store: store)
        _ = try engine.process(F.identify("u1", traits: ["marketing_consent": true]))
        #expect(try engine.process(F.order("o1", total: 900, at: "1m")).decision?.verdict == .block)
        let held = try engine.process(F.order("o2", total: 10, at: "2m"))
        #expect(thanks(held)?.outcome == .suppressed)
        #expect(thanks(held)?.reason?.hasPrefix("fraud block on") == true)

        _ = try engine.process(F.track("Fraud Cleared", ["order_id": "o1", "source": "review"], at: "3m"))
        #expect(thanks(try engine.process(F.order("o3", total: 10, at: "4m")))?.outcome == .hit)
        try engine.flush()

        // After a restart the customer is read back without the cleared block.
        let restarted = try F.engine(rules: Self.rules, store: store)
        #expect(thanks(try restarted.process(F.order("o4", total: 10, at: "5m")))?.outcome == .hit)
        // Another block, confirmed as fraud: it keeps holding them back, in memory and read back.
        #expect(try restarted.process(F.order("o5", total: 800, at: "6m")).decision?.verdict == .block)
        _ = try restarted.process(F.track("Fraud Confirmed", ["order_id": "o5"], at: "7m"))
        #expect(thanks(try restarted.process(F.order("o6", total: 10, at: "8m")))?.outcome == .suppressed)
        try restarted.flush()
        let again = try F.engine(rules: Self.rules, store: store)
        #expect(thanks(try again.process(F.order("o7", total: 10, at: "9m")))?.outcome == .suppressed)
        #expect(try store.fraudLabels() == ["o5"])
    }
}
