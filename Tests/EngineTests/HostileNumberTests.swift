import Engine
import Foundation
import GRDB
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

/// Numbers past what a clock, a duration or a quantity can mean used to stop
/// the process where Swift converted them to integers. Now each is an error
/// the engine reports, or a value it sets aside.
@Suite("Numbers no one means never stop the engine")
struct HostileNumberTests {
    static let rules = """
        segment "huge_window" { when = function(c) return c:count{ event = "Product Viewed", within = 1e300 } >= 1 end }
        segment "huge_text" { when = function(c) return c:count{ event = "Product Viewed", within = "99999999999999999999999d" } >= 1 end }
        segment "viewer" { when = function(c) return c:count{ event = "Product Viewed", within = "1d" } >= 1 end }
        """

    @Test("a rule's absurd duration is that rule's error; the event and the other rules go on")
    func ruleDurations() throws {
        let engine = try F.engine(rules: ["segments/s.lua": Self.rules])
        let outcome = try engine.process(F.track("Product Viewed", user: "u1", ["product_id": "p1"], at: "0s"))
        let window = try #require(outcome.result("segment:huge_window"))
        #expect(window.outcome == .error)
        #expect(window.reason?.contains("out of range") == true, "\(window.reason ?? "")")
        let text = try #require(outcome.result("segment:huge_text"))
        #expect(text.outcome == .error)
        #expect(text.reason?.contains("too long") == true, "\(text.reason ?? "")")
        #expect(outcome.result("segment:viewer")?.outcome == .hit)
    }

    @Test("a journey or schedule with an absurd duration is refused at load, naming it")
    func declarationDurations() throws {
        let engine = try F.engine(rules: [
            "journeys/j.lua": """
                journey "long" { on = "Identify", reenter_after = 1e300, steps = { wait "1h", send { channel = "email", template = "x" } } }
                """,
            "journeys/k.lua": """
                journey "longer" { on = "Identify", steps = { wait "99999999999999999999999d", send { channel = "email", template = "x" } } }
                """,
            "journeys/messaging.lua": #"messaging { timezone = "UTC", cap = { max = 1e300, per = "1d" } }"#,
            "schedules/s.lua": """
                schedule "forever" { every = math.maxinteger, run = function(ctx, act) end }
                schedule "forever2" { every = 1e300, run = function(ctx, act) end }
                """,
        ])
        let problems = engine.problems.map(\.description)
        #expect(problems.contains { $0.contains(#"journey "long": invalid reenter_after"#) }, "\(problems)")
        #expect(problems.contains { $0.contains("too long") }, "\(problems)")
        #expect(problems.contains { $0.contains(#"schedule "forever": every must be a duration"#) }, "\(problems)")
        #expect(problems.contains { $0.contains(#"schedule "forever2": every must be a duration"#) }, "\(problems)")
        #expect(!problems.contains { $0.contains("messaging") }, "a cap of 1e300 is no cap: \(problems)")
        _ = try engine.process(F.identify("u1", traits: [:], at: "0s"))
        try engine.advance(to: F.time("30d"))
    }

    @Test("a promotion's absurd limits and holdout are reported in its reasons, not fatal")
    func promotionLimits() throws {
        let engine = try F.engine(rules: ["promotions/p.lua": """
            promotion "never" { on = "Product Viewed", limit = { per_customer = -1e300 }, run = function(e, c, act) act:tag("x") end }
            promotion "held" { on = "Product Viewed", holdout = 1e300, run = function(e, c, act) act:tag("y") end }
            """])
        _ = try engine.process(F.identify("u1", traits: ["marketing_consent": true], at: "-1m"))
        let outcome = try engine.process(F.track("Product Viewed", user: "u1", ["product_id": "p1"], at: "0s"))
        #expect(outcome.result("promotion:never")?.reason == "limit per_customer = -1e+300 reached")
        #expect(outcome.result("promotion:held")?.reason?.hasPrefix("holdout: 100%") == true, "\(outcome.results)")
    }

    @Test("an absurd stock level changes nothing")
    func inventory() throws {
        let engine = try F.engine(rules: ["segments/s.lua": #"segment "any" { when = function(c) return true end }"#])
        _ = try engine.process(F.track("Inventory Updated", user: "feed", ["sku": "a", "quantity": 1e300, "region": "eu"], at: "0s"))
        _ = try engine.process(F.track("Inventory Updated", user: "feed", ["sku": "b", "quantity": 7, "region": "eu"], at: "1s"))
        try engine.flush()
        let skus = try engine.store.read { db in try String.fetchAll(db, sql: "SELECT sku FROM inventory ORDER BY sku") }
        #expect(skus == ["b"])
    }

    @Test("an absurd quantity counts as one; the cart and the order are kept")
    func quantities() throws {
        let engine = try F.engine(rules: ["segments/s.lua": #"segment "any" { when = function(c) return true end }"#])
        _ = try engine.process(F.track("Product Added", user: "u1", ["cart_id": "c", "price": 2, "quantity": 1e300], at: "0s"))
        _ = try engine.process(F.track("Product Added", user: "u1", ["cart_id": "c", "price": 2, "quantity": "nan"], at: "1s"))
        _ = try engine.process(F.order("o1", total: 4, at: "2s", ["products": [["sku": "a", "quantity": -1e300]]]))
        try engine.flush()
        let (items, value, quantity) = try engine.store.read { db in
            let cart = try Row.fetchOne(db, sql: "SELECT items, value FROM carts WHERE cart_id = 'c'")
            let quantity = try Int.fetchOne(db, sql: "SELECT quantity FROM order_items WHERE order_id = 'o1'")
            return (cart?["items"] as Int?, cart?["value"] as Double?, quantity)
        }
        #expect(items == 2)
        #expect(value == 4)
        #expect(quantity == 1)
    }
}
