import Engine
import Foundation
import GRDB
import Store
import TestSupport
import Testing

@Suite("act:list_add: lists rules fill")
struct RuleListTests {
    static func rules(domainScore: Int) -> String {
        """
        list "blocked" {}
        fraud_policy { on = { "Order Completed" } }
        fraud "blocked_domain" {
          score = function(e) if lists.contains("blocked", e.properties.domain) then return \(domainScore), "blocked" end end,
        }
        promotion "learn" {
          on = "Fraud Confirmed", marketing = false,
          run = function(e, c, act) act:list_add("blocked", e.properties.domain) end,
        }
        """
    }

    @Test("an entry a rule adds counts at once on every shard, stays through a reload and a restart, is the admin API's to remove")
    func ruleEntries() throws {
        let folder = try RulesFolder(["lists.lua": Self.rules(domainScore: 90)])
        var engine = try folder.engine()
        var orders = 0
        func score(_ domain: String) throws -> Double? {
            orders += 1
            return try engine.process(EngineFixtures.order("o\(orders)", user: "u\(orders)", total: 10, ["domain": .string(domain)])).decision?.score
        }
        #expect(try score("x.example") == 0)
        let learned = try engine.process(EngineFixtures.track("Fraud Confirmed", user: "analyst", ["domain": "x.example"]))
        #expect(learned.actions.map(\.action) == ["list_add"])
        #expect(try score("x.example") == 90, "at once, whichever shard the next order lands on")
        #expect(try score("x.example") == 90)

        // A reload of the files (the list declaration unchanged, the score changed) keeps what the rule added.
        try folder.write("lists.lua", Self.rules(domainScore: 95))
        _ = try engine.reload(rulesDirectory: folder.rules, pluginsDirectory: folder.plugins)
        #expect(try score("x.example") == 95)
        let size = try #require(engine.listSizes()["blocked"])
        #expect((size.entries, size.fromFiles, size.fromRules, size.hits) == (1, 0, 1, 3))
        try engine.flush()
        let source = try engine.store.read { db in
            try String.fetchOne(db, sql: "SELECT source FROM list_entries WHERE list = 'blocked' AND value = 'x.example'")
        }
        #expect(source == "rule:promotion:learn")

        engine = try folder.engine()
        #expect(try score("x.example") == 95, "read back after a restart")
        #expect(engine.listSizes()["blocked"]?.fromRules == 1)
        #expect(try engine.removeListEntry("blocked", "x.example"), "not a file's: the admin API may take it out")
        #expect(try score("x.example") == 0)
    }
}
