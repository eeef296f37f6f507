import Engine
import Foundation
import GRDB
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

@Suite("The nightly sweep skips customers whose segments cannot have changed")
struct SweepTests {
    static let segments = """
        schedule "nightly" { at = "03:00", sweep = "segments" }
        segment "lapsed" { when = function(c) local d = c:days_since_last_order() return d ~= nil and d > 30 end }
        segment "browser" { when = function(c) return c:count{ event = "Product Viewed", within = "7d" } >= 2 end }
        segment "flagged" { when = function(c) return c.traits.flag == true end }
        """

    @Test("customers without clock-dependent inputs are skipped, and every time-based move still happens on its night")
    func skipsOnlyWhatCannotChange() throws {
        let journey = """
            journey "flagging" { on = "Signup", steps = { wait "2d", set_trait { "flag", true } } }
            """
        let engine = try F.engine(rules: ["segments.lua": Self.segments, "journeys/flagging.lua": journey])
        // idle: nothing that ages; buyer: an order (lapses after 30 days); viewer: views (age out after 7 days);
        // signup: a journey sets a trait two days later, with no event of theirs.
        _ = try engine.process(F.identify("idle", traits: [:], at: "0s"))
        _ = try engine.process(F.order("o1", user: "buyer", total: 20, at: "0s"))
        _ = try engine.process(F.track("Product Viewed", user: "viewer", ["product_id": "p1"], at: "0s"))
        _ = try engine.process(F.track("Product Viewed", user: "viewer", ["product_id": "p2"], at: "1m"))
        _ = try engine.process(F.track("Signup", user: "signup", at: "0s"))
        try engine.advance(to: F.time("40d"))
        try engine.flush()
        let history = try engine.store.read { db in
            try Row.fetchAll(db, sql: "SELECT segment, customer_id, change, at FROM segment_history ORDER BY at")
                .map { "\($0["customer_id"] as String) \($0["change"] as String) \($0["segment"] as String) @\(($0["at"] as Int64 - F.time()) / 3_600_000)h" }
        }
        #expect(history == [
            "viewer entered browser @0h",
            "signup entered flagged @51h", // the first sweep after the trait was set (day 2, 03:00)
            "viewer exited browser @171h", // day 7, 03:00: the views are more than 7 days old
            "buyer entered lapsed @723h", // day 30, 03:00
        ])
        let work = engine.clockWork
        // 40 nights × 4 customers: idle every night; signup except the nights around the trait;
        // viewer once the views aged out; buyer never (the order's age is read every night).
        #expect(work.customersSwept + work.customersUnchanged == 160)
        #expect(work.customersUnchanged >= 100, "\(work)")
        #expect(work.customersSwept >= 40, "the buyer every night")
    }

    @Test("segments that read the wall clock or random numbers are never skipped")
    func volatileReads() throws {
        let rules = """
            schedule "nightly" { at = "03:00", sweep = "segments" }
            segment "odd_second" { when = function(c) return os.time() % 2 == 1 end }
            segment "lucky" { when = function(c) return math.random() < 2 end }
            """
        let engine = try F.engine(rules: ["segments.lua": rules])
        _ = try engine.process(F.identify("ana", traits: [:], at: "0s"))
        try engine.advance(to: F.time("10d"))
        #expect(engine.clockWork.customersUnchanged == 0)
        #expect(engine.clockWork.customersSwept == 10)
    }
}
