import Engine
import Foundation
import Store
import TestSupport
import Testing

@Suite("Consent from a consent management platform")
struct ConsentTests {
    typealias F = EngineFixtures

    static let thanks = """
        promotion "thanks" { on = "Order Completed", run = function(e, c, act) act:notify{ template = "thanks" } end }
        """

    /// A page view carrying Segment's consent object, as analytics.js sends it when a CMP is wired in.
    static func pageView(_ user: String, consent: [String: JSONValue], at offset: String) -> Event {
        var event = F.track("Page Viewed", user: user, at: offset)
        event.context["consent"] = .object(["categoryPreferences": .object(consent)])
        return event
    }

    @Test("the categories of Segment's consent object, on any event, are the customer's consent purposes, kept across a restart")
    func categoryPreferences() throws {
        let store = try CrescentStore()
        let engine = try F.engine(rules: ["p.lua": Self.thanks], store: store)
        _ = try engine.process(Self.pageView("ana", consent: ["Marketing": true, "Personalization": false, "Analytics": "yes"], at: "0s"))
        let granted = try engine.process(F.order("o1", user: "ana", total: 30, at: "1m"))
        #expect(granted.actions.map(\.action) == ["notify"], "the CMP's yes to Marketing is marketing consent")
        #expect(try !engine.recommendations(for: "ana", n: 3).personalized, "and its no to Personalization holds")
        // Withdrawn on a later page: the next promotion is suppressed, for the recorded reason.
        _ = try engine.process(Self.pageView("ana", consent: ["Marketing": false], at: "2m"))
        // An event with an empty consent object changes nothing (as on Segment's profiles).
        _ = try engine.process(Self.pageView("ana", consent: [:], at: "3m"))
        let withdrawn = try engine.process(F.order("o2", user: "ana", total: 30, at: "4m"))
        #expect(withdrawn.actions.isEmpty)
        #expect(withdrawn.results.first { $0.rule == "promotion:thanks" }?.reason == "no marketing consent")
        try engine.flush()
        let row = try #require(try store.customer(id: "ana"))
        let consent = try JSONSerialization.jsonObject(with: Data(row.consent.utf8)) as? [String: Bool]
        #expect(consent == ["marketing": false, "personalization": false], "a category that is not true or false is ignored")
        let restarted = try F.engine(rules: ["p.lua": Self.thanks], store: store)
        #expect(try restarted.process(F.order("o3", user: "ana", total: 30, at: "5m")).actions.isEmpty)
    }
}

extension ConsentTests {
    @Test("an unsubscribe or a spam complaint from the e-mail provider withdraws marketing consent; rules listening to it still run")
    func unsubscribed() throws {
        let engine = try F.engine(rules: ["p.lua": Self.thanks + """

            segment "reachable" { when = function(c) return c.consent.marketing == true end }
            promotion "unsubscribe_alert" {
              on = "Unsubscribed", marketing = false,
              run = function(e, c, act) act:alert{ channel = "crm", message = "unsubscribed" } end,
            }
            """])
        for user in ["ana", "bo"] { _ = try engine.process(F.identify(user, traits: ["marketing_consent": true], at: "0s")) }
        #expect(try engine.process(F.order("o1", user: "ana", total: 30, at: "1m")).actions.map(\.action) == ["notify"])
        let unsubscribe = try engine.process(F.track("Unsubscribed", user: "ana", ["email_subject": "Spring"], at: "2m"))
        #expect(unsubscribe.actions.map(\.action) == ["alert"], "an operational rule still hears of it")
        #expect(unsubscribe.segmentChanges.map(\.segment) == ["reachable"], "segments reading consent see it withdrawn at once")
        let after = try engine.process(F.order("o2", user: "ana", total: 30, at: "3m"))
        #expect(after.actions.isEmpty)
        #expect(after.results.first { $0.rule == "promotion:thanks" }?.reason == "no marketing consent")
        _ = try engine.process(F.track("Email Marked as Spam", user: "bo", at: "4m"))
        #expect(try engine.process(F.order("o3", user: "bo", total: 30, at: "5m")).actions.isEmpty)
        // Consent given again later counts again.
        _ = try engine.process(F.identify("ana", traits: ["marketing_consent": true], at: "6m"))
        #expect(try engine.process(F.order("o4", user: "ana", total: 30, at: "7m")).actions.map(\.action) == ["notify"])
    }
}

extension ConsentTests {
    @Test("merging identities that answered differently keeps the no: a withdrawal made before logging in is not lost")
    func mergeKeepsTheNo() throws {
        let engine = try F.engine(rules: ["p.lua": Self.thanks])
        _ = try engine.process(F.identify("ana", traits: ["marketing_consent": true], at: "0s"))
        #expect(try engine.process(F.order("o1", user: "ana", total: 30, at: "1m")).actions.map(\.action) == ["notify"])
        // On another device, before logging in, she declines marketing in the consent banner.
        var declined = F.track("Page Viewed", user: nil, anonymous: "device-2", at: "2m")
        declined.context["consent"] = .object(["categoryPreferences": .object(["Marketing": false])])
        _ = try engine.process(declined)
        _ = try engine.process(F.identify("ana", anonymous: "device-2", traits: [:], at: "3m"))
        let after = try engine.process(F.order("o2", user: "ana", total: 30, at: "4m"))
        #expect(after.actions.isEmpty)
        #expect(after.results.first { $0.rule == "promotion:thanks" }?.reason == "no marketing consent")
        // Consent given again, as an answer of its own, counts.
        _ = try engine.process(F.identify("ana", traits: ["marketing_consent": true], at: "5m"))
        #expect(try engine.process(F.order("o3", user: "ana", total: 30, at: "6m")).actions.map(\.action) == ["notify"])
    }
}
