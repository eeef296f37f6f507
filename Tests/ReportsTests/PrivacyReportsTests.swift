import Engine
import Foundation
import GRDB
import Reports
import Store
import TestSupport
import Testing

@Suite("The privacy report")
struct PrivacyReportsTests {
    typealias F = EngineFixtures

    @Test("consent by purpose as it stands; erasures, corrections, unsubscribes and withheld actions in the period")
    func privacy() throws {
        let engine = try F.engine(rules: ["p.lua": """
            promotion "thanks" { on = "Order Completed", run = function(e, c, act) act:notify{ template = "thanks" } end }
            """])
        _ = try engine.process(F.identify("ana", traits: ["marketing_consent": true, "consent": ["personalization": true]], at: "0s"))
        _ = try engine.process(F.identify("bo", traits: ["marketing_consent": true], at: "0s"))
        _ = try engine.process(F.identify("cy", traits: ["consent": ["marketing": false]], at: "0s"))
        _ = try engine.process(F.track("Page Viewed", user: "dee", at: "0s"))
        _ = try engine.process(F.order("o1", user: "ana", total: 10, at: "1h"))
        _ = try engine.process(F.order("o2", user: "bo", total: 10, at: "1h"))
        _ = try engine.process(F.track("Unsubscribed", user: "bo", at: "2h"))
        try engine.flush()
        let store = engine.store
        try store.recordAudit(action: "correct", subject: "ana", detail: "{}", at: F.time("3h"))
        try store.recordAudit(action: "erase", subject: "erased-1", detail: "{}", at: F.time("3d"))
        // bo's thank-you was still waiting when bo unsubscribed: delivery withholds it.
        let waiting = try #require(try store.outboxEntries(status: "pending", limit: 10).first { $0.row.customerId == "bo" })
        try store.markWithheld(id: waiting.id, reason: "marketing consent withdrawn before delivery")

        let tables = try Reports(store: store).run(.privacy, ReportQuery())
        #expect(tables[0].rows.map { $0.map(\.display) } == [
            ["marketing", "3", "1", "2", "0.33"],
            ["personalization", "1", "1", "0", "1"],
            ["(no answer)", "1", "0", "0", ""],
        ], "bo's unsubscribe is a decline, as cy's no; dee never answered")
        #expect(tables[1].rows.map { $0.map(\.display) } == [
            ["erasures", "1"], ["corrections", "1"], ["unsubscribes and spam complaints", "1"],
            ["marketing actions made under consent", "2"], ["withheld at delivery: consent withdrawn meanwhile", "1"],
        ])
        // A period before the erasure counts what happened in it only.
        let firstDay = try Reports(store: store).run(.privacy, ReportQuery(until: F.time("1d")))[1]
        #expect(firstDay.row("erasures")?[1] == .number(0) && firstDay.row("corrections")?[1] == .number(1))
    }
}
