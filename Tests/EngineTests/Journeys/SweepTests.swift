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

    @Test("after a restart, customers only in the store are skipped while their stored answers hold, with the same moves")
    func storedCustomersSkippedAfterRestart() throws {
        let rules = ["segments.lua": Self.segments]
        func feed(_ engine: Engine) throws {
            _ = try engine.process(F.identify("idle", traits: [:], at: "0s"))
            _ = try engine.process(F.order("o1", user: "buyer", total: 20, at: "0s"))
            _ = try engine.process(F.track("Product Viewed", user: "viewer", ["product_id": "p1"], at: "0s"))
            _ = try engine.process(F.track("Product Viewed", user: "viewer", ["product_id": "p2"], at: "1m"))
        }
        func history(_ engine: Engine) throws -> [String] {
            try engine.flush()
            return try engine.store.read { db in
                try Row.fetchAll(db, sql: "SELECT segment, customer_id, change, at FROM segment_history ORDER BY at, customer_id")
                    .map { "\($0["customer_id"] as String) \($0["change"] as String) \($0["segment"] as String) @\($0["at"] as Int64)" }
            }
        }
        let continuous = try F.engine(rules: rules)
        try feed(continuous)
        try continuous.advance(to: F.time("40d"))

        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try CrescentStore(path: dir.appendingPathComponent("c.db").path)
        do {
            let first = try F.engine(rules: rules, store: store)
            try feed(first)
            try first.advance(to: F.time("12h"))
            try first.flush()
        }
        let second = try F.engine(rules: rules, store: store)
        try second.advance(to: F.time("1d12h"))
        // The first night after the start: the buyer's answer reads the order's age, so it runs;
        // idle's and viewer's answers, as stored, hold (viewer's views are a day old), so they are not read.
        #expect(second.clockWork.customersSwept == 1, "\(second.clockWork)")
        #expect(second.clockWork.customersUnchanged == 2, "\(second.clockWork)")
        try second.advance(to: F.time("40d"))
        #expect(try history(second) == (try history(continuous)))
        #expect(try history(second).contains { $0.hasPrefix("viewer exited browser") })
    }

    @Test("after a restart, a customer loaded for a journey timer keeps their stored answers; one a journey changed is swept")
    func timerCustomersKeepStoredAnswers() throws {
        let journeys = """
            journey "welcome" { on = "Signup", steps = { wait "1d", send { template = "welcome", name = "hello" } } }
            journey "flagging" { on = "Flag Me", steps = { wait "1d", set_trait { "flag", true } } }
            """
        let rules = ["segments.lua": Self.segments, "journeys/both.lua": journeys]
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try CrescentStore(path: dir.appendingPathComponent("c.db").path)
        do {
            let first = try F.engine(rules: rules, store: store)
            _ = try first.process(F.identify("greeted", traits: ["marketing_consent": true], at: "0s"))
            _ = try first.process(F.track("Signup", user: "greeted", at: "1m"))
            _ = try first.process(F.identify("flagged", traits: [:], at: "0s"))
            _ = try first.process(F.track("Flag Me", user: "flagged", at: "1m"))
            try first.flush()
        }
        func stored(_ id: String) throws -> Int64? { try store.customer(id: id)?.segmentsHoldUntil }
        #expect(try stored("greeted") != nil && stored("flagged") != nil, "both answers hold as stored")

        let second = try F.engine(rules: rules, store: store)
        try second.advance(to: F.time("1d2h")) // both timers fire; the customers are loaded for them only
        try second.flush()
        #expect(try store.outbox(rule: "journey:welcome").count { $0.action == "notify" } == 1)
        #expect(try stored("greeted") != nil, "a send changes nothing a segment reads: the stored span stays")
        #expect(try stored("flagged") == nil, "set_trait changed a trait: the stored span is gone")
        try second.advance(to: F.time("1d4h")) // the night's sweep at 03:00
        #expect(second.clockWork.customersSwept == 1, "only the customer whose trait changed: \(second.clockWork)")
        #expect(second.clockWork.customersUnchanged == 1, "\(second.clockWork)")
        try second.flush()
        #expect(try store.segments(of: "flagged") == ["flagged"])
        #expect(try store.segments(of: "greeted").isEmpty)
    }
}
