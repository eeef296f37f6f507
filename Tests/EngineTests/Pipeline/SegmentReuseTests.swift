import Engine
import EventGenerator
import Foundation
import GRDB
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

/// Segments run again only when something they read changed or their answer
/// stopped holding; everything else keeps its last answer.
@Suite("Segments are re-evaluated only when their inputs change")
struct SegmentReuseTests {
    /// Segments reading every input `c` offers, beside the shipped ones.
    static let everyInput = """
        segment "named" { when = function(c) return c.traits.name ~= nil end }
        segment "consenting" { when = function(c) return c:has_consent() end }
        segment "carting" { when = function(c) return c.cart_total > 50 end }
        segment "wishing" { when = function(c) return next(c.wishlist) ~= nil end }
        segment "campaigned" { when = function(c) return c.acquisition.last_touch ~= nil end }
        segment "gold_and_named" { when = function(c) return c:in_segment("gold") and c.traits.name ~= nil end }
        segment "browsing" { when = function(c) return #c:recently_viewed(5) >= 3 end }
        segment "frequent" { when = function(c) return c:count{ event = "Page Viewed" } >= 5 end }
        segment "recent_views" { when = function(c) return c:count{ event = "Product Viewed", within = "2d" } >= 3 end }
        segment "big_month" { when = function(c) return c:spent{ within = "30d" } >= 100 end }
        segment "lapsing" { when = function(c) local d = c:days_since_last_order() return d ~= nil and d > 20 end }
        segment "fresh" { when = function(c) return c.first_seen ~= nil and c.last_seen - c.first_seen < 86400000 end }
        segment "rfm_top" { when = function(c) return c.rfm.recency >= 4 and c.rfm.frequency >= 2 end }
        segment "recent_order" { when = function(c) return c:ordered_within("10d") end }
        """

    /// A copy of the shipped rules with `extra` added as rules/segments/extra.lua.
    static func rulesFolder(extra: String) throws -> URL {
        let root = try Fixtures.temporaryDirectory()
        let rules = root.appendingPathComponent("rules")
        try FileManager.default.copyItem(at: Fixtures.packageRoot.appendingPathComponent("rules"), to: rules)
        try extra.write(to: rules.appendingPathComponent("segments/extra.lua"), atomically: true, encoding: .utf8)
        return root
    }

    static func replay(_ file: URL, rules root: URL, reuse: Bool, until: Int64)
        throws -> (history: [String], outbox: [String], decisions: [String], work: ClockWork, unchanged: Int) {
        var options = EngineOptions()
        options.reuseSegmentResults = reuse
        let engine = try Engine(store: try CrescentStore(), rulesDirectory: root.appendingPathComponent("rules").path,
                                pluginsDirectory: Fixtures.packageRoot.appendingPathComponent("plugins").path, options: options)
        let summary = try Replayer().replay(file, into: engine)
        #expect(summary.errors == 0)
        try engine.advance(to: until)
        try engine.flush()
        return try engine.store.read { db in
            let history = try Row.fetchAll(db, sql: "SELECT segment, customer_id, change, at FROM segment_history ORDER BY at, customer_id, segment, change")
                .map { "\($0["at"] as Int64) \($0["customer_id"] as String) \($0["change"] as String) \($0["segment"] as String)" }
            let outbox = try Row.fetchAll(db, sql: "SELECT rule, action, customer_id, created_at FROM outbox ORDER BY created_at, idempotency_key")
                .map { "\($0["created_at"] as Int64) \($0["rule"] as String) \($0["action"] as String) \(($0["customer_id"] as String?) ?? "-")" }
            let decisions = try Row.fetchAll(db, sql: "SELECT message_id, decision, score FROM decisions ORDER BY message_id")
                .map { "\($0["message_id"] as String) \($0["decision"] as String) \($0["score"] as Double)" }
            // Explanations store a kept answer as a capital code ("M": a miss kept unchanged).
            let unchanged = try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE results GLOB '*\"[HMW]\"*'") ?? 0
            return (history, outbox, decisions, engine.clockWork, unchanged)
        }
    }

    @Test("generated traffic and 200 days of nightly sweeps: the same entries, exits, actions and decisions as running every segment every time")
    func sameAsRunningEverything() throws {
        let root = try Self.rulesFolder(extra: Self.everyInput)
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("events.ndjson")
        _ = try EventGenerator(seed: 11, events: 5000).write(to: file)
        let until = F.time("200d")
        let reused = try Self.replay(file, rules: root, reuse: true, until: until)
        let reference = try Self.replay(file, rules: root, reuse: false, until: until)

        #expect(reference.history.count > 500, "the traffic moves customers in and out of segments")
        #expect(Set(reference.history.map { $0.split(separator: " ").last! }).count >= 12, "most segments see changes")
        #expect(reused.history == reference.history)
        #expect(reused.outbox == reference.outbox)
        #expect(reused.decisions == reference.decisions)
        // The point of it: most sweeps and most segment runs were skipped.
        #expect(reference.work.customersUnchanged == 0 && reference.unchanged == 0)
        // (Here "lapsing" and "rfm_top" read the clock without a window, so every buyer runs every night.)
        // (Customers kept also count those merged into another one: nothing to run.)
        #expect(reused.work.customersSwept + reused.work.customersUnchanged >= reference.work.customersSwept)
        #expect(reused.work.customersSwept < reference.work.customersSwept, "\(reused.work)")
        #expect(reused.work.customersUnchanged * 4 > reference.work.customersSwept, "\(reused.work)")
        #expect(reused.unchanged > 1000)
    }

    @Test("a segment runs again when what it read changes, and keeps its answer otherwise")
    func reRunsOnItsInputs() throws {
        let engine = try F.engine(rules: ["segments.lua": """
            segment "named" { when = function(c) return c.traits.name == "Ana" end }
            segment "buyer" { when = function(c) return c.orders_count > 0 end }
            """])
        let first = try engine.process(F.identify("u1", traits: ["name": "Ana"]))
        #expect(first.result("segment:named")?.reason == "entered")
        let page = try engine.process(F.track("Page Viewed", at: "1m"))
        #expect(page.result("segment:named")?.reason == RuleResult.unchanged)
        #expect(page.result("segment:named")?.outcome == .hit, "the standing answer")
        #expect(page.result("segment:buyer")?.reason == RuleResult.unchanged)
        let order = try engine.process(F.order("o1", total: 10, at: "2m"))
        #expect(order.result("segment:buyer")?.reason == "entered")
        #expect(order.result("segment:named")?.reason == RuleResult.unchanged)
        let renamed = try engine.process(F.identify("u1", traits: ["name": "Eva"], at: "3m"))
        #expect(renamed.result("segment:named")?.reason == "exited")
        #expect(renamed.result("segment:buyer")?.reason == RuleResult.unchanged)
    }

    @Test("a count of one event name runs again on that event, not on others")
    func countsFollowTheirEventName() throws {
        let engine = try F.engine(rules: ["segments.lua": """
            segment "viewer" { when = function(c) return c:count{ event = "Product Viewed" } >= 2 end }
            """])
        _ = try engine.process(F.track("Product Viewed", ["product_id": "p1"]))
        let page = try engine.process(F.track("Page Viewed", at: "1m"))
        #expect(page.result("segment:viewer")?.reason == RuleResult.unchanged)
        let view = try engine.process(F.track("Product Viewed", ["product_id": "p2"], at: "2m"))
        #expect(view.result("segment:viewer")?.reason == "entered")
    }

    @Test("segments reading the clock, lists, random numbers, pairs(c) or fields other rules set on c run every time")
    func volatileSegmentsAlwaysRun() throws {
        let engine = try F.engine(rules: ["segments.lua": """
            list "vips" { "u1" }
            segment "clock" { when = function(c) return now() > 0 end }
            segment "listed" { when = function(c) return lists.contains("vips", c.id) end }
            segment "dice" { when = function(c) return math.random(6) > 0 end }
            segment "plain" { when = function(c) return c.id == "u1" end }
            segment "walker" { when = function(c) local n = 0 for _ in pairs(c) do n = n + 1 end return n > 3 end }
            segment "marked" { when = function(c) return c.mark == true end }
            fraud_policy { on = "Page Viewed", review_at = 50, block_at = 80 }
            fraud "marker" { on = "Page Viewed", score = function(e, c) c.mark = e.properties.mark == true return 0 end }
            """])
        _ = try engine.process(F.track("Page Viewed"))
        let again = try engine.process(F.track("Page Viewed", ["mark": true], at: "1m"))
        #expect(again.result("segment:marked")?.reason == "entered", "a field another rule set on c this event")
        for rule in ["segment:clock", "segment:listed", "segment:dice", "segment:walker"] {
            #expect(again.result(rule)?.reason != RuleResult.unchanged, "\(rule)")
        }
        #expect(again.result("segment:plain")?.reason == RuleResult.unchanged)
    }

    @Test("windowed helpers hold until their window moves: the sweep runs them only on the night they change")
    func windowsHoldUntilTheyMove() throws {
        let engine = try F.engine(rules: ["segments.lua": """
            schedule "nightly" { at = "03:00", sweep = "segments" }
            segment "recent_buyer" { when = function(c) return c:spent{ within = "10d" } > 0 end }
            segment "ordered_lately" { when = function(c) return c:ordered_within("5d") end }
            """])
        _ = try engine.process(F.order("o1", total: 20, at: "0s"))
        try engine.advance(to: F.time("20d"))
        try engine.flush()
        let history = try engine.store.read { db in
            try Row.fetchAll(db, sql: "SELECT segment, change, at FROM segment_history ORDER BY at, segment")
                .map { "\($0["change"] as String) \($0["segment"] as String) @\(($0["at"] as Int64 - F.time()) / 3_600_000)h" }
        }
        #expect(history == [
            "entered ordered_lately @0h", "entered recent_buyer @0h",
            "exited ordered_lately @123h", // day 5, 03:00
            "exited recent_buyer @243h", // day 10, 03:00
        ])
        // 20 nights: run on day 5 and day 10 only.
        #expect(engine.clockWork.customersSwept == 2, "\(engine.clockWork)")
        #expect(engine.clockWork.customersUnchanged == 18)
    }

    @Test("a late event (older than the last evaluation) runs the segments again at its own time")
    func lateEvents() throws {
        for reuse in [true, false] {
            var options = EngineOptions()
            options.reuseSegmentResults = reuse
            let engine = try F.engine(rules: ["segments.lua": """
                segment "recent_buyer" { when = function(c) return c:spent{ within = "1d" } > 0 end }
                """], options: options)
            _ = try engine.process(F.order("o1", total: 20, at: "0s"))
            let later = try engine.process(F.track("Page Viewed", at: "3d"))
            #expect(later.segmentChanges.map(\.entered) == [false])
            let late = try engine.process(F.track("Page Viewed", at: "12h"))
            #expect(late.segmentChanges.map(\.entered) == [true], "reuse \(reuse)")
        }
    }
}
