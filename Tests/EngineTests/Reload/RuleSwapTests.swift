import Engine
import Foundation
import Store
import TestSupport
import Testing

@Suite("Reloading the rule set in a running engine")
struct RuleSwapTests {
    static let journeyV1 = """
        journey "onboarding" {
          on = "Signed Up",
          steps = { wait { "1h", name = "settle" }, send { template = "tips", name = "tips" } },
        }
        segment "spender" { when = function(c) return c.total_spent >= 100 end }
        """
    /// The send step's template changes; "settle" keeps its name.
    static let journeyV2 = """
        journey "onboarding" {
          on = "Signed Up",
          steps = { wait { "1h", name = "settle" }, send { template = "tips_v2", name = "tips" } },
        }
        segment "spender" { when = function(c) return c.total_spent >= 50 end }
        """

    @Test("a sharded engine swaps between events: instances in flight take the new steps, once; later events see the new rules")
    func swapWithJourneysInFlight() throws {
        let folder = try Fixtures.temporaryDirectory(files: ["rules/flow.lua": Self.journeyV1, "plugins/.keep": ""])
        let rules = folder.appendingPathComponent("rules").path, plugins = folder.appendingPathComponent("plugins").path
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins, shards: 2)
        let users = (0..<6).map { "u\($0)" }
        for user in users {
            _ = try engine.process(EngineFixtures.identify(user, traits: ["marketing_consent": true], at: "0s"))
            _ = try engine.process(EngineFixtures.track("Signed Up", user: user, at: "1m"))
        }
        let before = engine.rulesVersion
        #expect(try engine.process(EngineFixtures.order("o1", user: "u0", total: 60, at: "2m")).segmentChanges.isEmpty)

        try Data(Self.journeyV2.utf8).write(to: folder.appendingPathComponent("rules/flow.lua"))
        let swap = try engine.reload(rulesDirectory: rules, pluginsDirectory: plugins)
        #expect(swap.from == before)
        #expect(swap.to == engine.rulesVersion)
        #expect(swap.to != before)
        #expect(try engine.process(EngineFixtures.order("o2", user: "u1", total: 60, at: "3m")).segmentChanges.map(\.0) == ["spender"])

        try engine.advance(to: EngineFixtures.time("2h"))
        try engine.flush()
        let sent = try engine.store.outbox(rule: "journey:onboarding").map {
            try JSONValue.parse(Data($0.payload.utf8))["template"]?.stringValue ?? "?"
        }
        #expect(sent.sorted() == Array(repeating: "tips_v2", count: users.count), "each instance sends once, with the new step")
        #expect(try engine.store.rulesetHistory().map(\.version).contains(swap.to))
    }

    static func blockedList(_ values: String) -> String {
        """
        list "blocked" { \(values) }
        fraud_policy { on = { "Order Completed" } }
        fraud "blocked_domain" {
          score = function(e) if lists.contains("blocked", e.properties.domain) then return 90, "blocked" end end,
        }
        """
    }

    @Test("a value taken out of a list declaration leaves the live list at the reload, in memory and in the store; admin entries stay")
    func listDeclarationsFollowTheFiles() throws {
        let folder = try RulesFolder(["lists.lua": Self.blockedList(#""a.example", "b.example""#)])
        var engine = try folder.engine()
        var orders = 0
        func score(_ domain: String) throws -> Double? {
            orders += 1
            return try engine.process(EngineFixtures.order("o\(orders)", user: "u\(orders)", total: 10, ["domain": .string(domain)])).decision?.score
        }
        #expect(try engine.addListEntry("blocked", "c.example"))
        #expect(try score("a.example") == 90)
        #expect(throws: ListEntryDeclared.self, "the admin API may not remove what a file declares") {
            try engine.removeListEntry("blocked", "a.example")
        }

        try folder.write("lists.lua", Self.blockedList(#""b.example""#))
        _ = try engine.reload(rulesDirectory: folder.rules, pluginsDirectory: folder.plugins)
        #expect(try score("a.example") == 0, "taken out of the file, out of the live list")
        #expect(try score("b.example") == 90)
        #expect(try score("c.example") == 90, "added through the admin API: not the file's to remove")
        try engine.flush()
        #expect(try engine.store.listEntries().lists["blocked"] == ["b.example", "c.example"])

        // A restart reads the store: what the file dropped stays gone, and the file's values are still the file's.
        engine = try folder.engine()
        #expect(try score("a.example") == 0)
        #expect(throws: ListEntryDeclared.self) { try engine.removeListEntry("blocked", "b.example") }
        #expect(try engine.removeListEntry("blocked", "c.example"))
        #expect(try score("c.example") == 0)
    }

    @Test("a rule set with errors is not swapped in: the running version keeps serving")
    func refusesErrors() throws {
        let folder = try Fixtures.temporaryDirectory(files: ["rules/flow.lua": Self.journeyV1, "plugins/.keep": ""])
        let rules = folder.appendingPathComponent("rules").path, plugins = folder.appendingPathComponent("plugins").path
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins, shards: 2)
        let before = engine.rulesVersion
        try Data("segment \"x\" { when = function(c) return c. end }".utf8).write(to: folder.appendingPathComponent("rules/bad.lua"))
        #expect {
            try engine.reload(rulesDirectory: rules, pluginsDirectory: plugins)
        } throws: { error in
            guard case RuleSwapError.problems(let problems) = error else { return false }
            return problems.contains { $0.file.hasSuffix("rules/bad.lua") && $0.line == 1 }
        }
        #expect(engine.rulesVersion == before)
        #expect(try engine.process(EngineFixtures.order("o1", user: "u0", total: 150, at: "2m")).segmentChanges.map(\.0) == ["spender"])
    }

    @Test("a rule disabled for repeated errors runs again under the next version")
    func reenablesDisabledRules() throws {
        let failing = #"segment "fragile" { when = function(c) return c.traits.plan:upper() == "PRO" end }"#
        let folder = try Fixtures.temporaryDirectory(files: ["rules/s.lua": failing, "plugins/.keep": ""])
        let rules = folder.appendingPathComponent("rules").path, plugins = folder.appendingPathComponent("plugins").path
        let engine = try Engine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins)
        for i in 0..<12 { _ = try engine.process(EngineFixtures.track("Page Viewed", user: "u\(i)", at: "\(i)m")) }
        #expect(engine.stats["segment:fragile"]?.disabled == true)
        let fixed = #"segment "fragile" { when = function(c) return (c.traits.plan or ""):upper() == "PRO" end }"#
        try Data(fixed.utf8).write(to: folder.appendingPathComponent("rules/s.lua"))
        _ = try engine.reload(rulesDirectory: rules, pluginsDirectory: plugins)
        #expect(engine.stats["segment:fragile"]?.disabled == false)
        let outcome = try engine.process(EngineFixtures.identify("pro-user", traits: ["plan": "pro"], at: "20m"))
        #expect(outcome.segmentChanges.map(\.0) == ["fragile"])
    }
}
