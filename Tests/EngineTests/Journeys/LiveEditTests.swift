import Engine
import Foundation
import Store
import TestSupport
import Testing

@Suite("Journeys: restarts and live edits")
struct LiveEditTests {
    @Test("a new engine over the same store fires the pending timers exactly once")
    func restart() throws {
        let store = try CrescentStore()
        let first = try EngineFixtures.engine(rules: ["journeys/cart.lua": abandonedCart], store: store)
        _ = try first.process(EngineFixtures.identify("u1", traits: ["marketing_consent": true], at: "0s"))
        _ = try first.process(added("c1", price: 10, at: "1m"))
        try first.flush()
        let second = try EngineFixtures.engine(rules: ["journeys/cart.lua": abandonedCart], store: store)
        #expect(second.journeyMigrations.isEmpty)
        try second.advance(to: EngineFixtures.time("3h"))
        #expect(try templates(second) == ["cart_reminder"])
        try second.advance(to: EngineFixtures.time("3h"))
        #expect(try templates(second) == ["cart_reminder"])
    }

    static let v1 = """
        journey "onboarding" {
          on = "Signed Up",
          steps = {
            wait { "1h", name = "settle" },
            send { template = "tips", name = "tips" },
            wait { "1d", name = "pause" },
            send { template = "survey", name = "survey" },
          },
        }
        journey "legacy" { on = "Signed Up", steps = { wait "7d", send { template = "old" } } }
        """

    /// "pause" is renamed "breather" (so "pause" is gone), "gift" is inserted, "legacy" is removed.
    static let v2 = """
        journey "onboarding" {
          on = "Signed Up",
          steps = {
            wait { "1h", name = "settle" },
            send { template = "welcome_gift", name = "gift" },
            send { template = "tips_v2", name = "tips" },
            wait { "1d", name = "breather" },
            send { template = "survey", name = "survey" },
          },
        }
        """

    @Test("a live edit that renames, removes and inserts steps takes over instances in flight by step name")
    func liveEdit() throws {
        let store = try CrescentStore()
        let old = try EngineFixtures.engine(rules: ["journeys/onboarding.lua": Self.v1], store: store)
        for user in ["u1", "u2"] {
            _ = try old.process(EngineFixtures.identify(user, traits: ["marketing_consent": true], at: "0s"))
        }
        _ = try old.process(EngineFixtures.track("Signed Up", user: "u2", at: "0s"))   // will be in "pause"
        _ = try old.process(EngineFixtures.track("Signed Up", user: "u1", at: "90m"))  // will be in "settle"
        try old.advance(to: EngineFixtures.time("2h"))
        #expect(try templates(old, "onboarding", customer: "u2") == ["tips"])
        try old.flush()

        let new = try EngineFixtures.engine(rules: ["journeys/onboarding.lua": Self.v2], store: store)
        let byName = Dictionary(uniqueKeysWithValues: new.journeyMigrations.map { ($0.journey, $0) })
        #expect(byName["onboarding"]?.migrated == 1)
        #expect(byName["onboarding"]?.moved == 1)
        #expect(byName["onboarding"]?.ended == 0)
        #expect(byName["legacy"]?.ended == 2)
        #expect(new.log.contains { $0.contains("journey onboarding: 1 migrated, 1 moved") })

        try new.advance(to: EngineFixtures.time("5d"))
        // u1 waited in "settle": it goes on under the new version, through the inserted step.
        #expect(try templates(new, "onboarding", customer: "u1") == ["welcome_gift", "tips_v2", "survey"])
        // u2 waited in the removed "pause": it continues at "survey" when that wait ends (1h + 1d).
        #expect(try templates(new, "onboarding", customer: "u2") == ["tips", "survey"])
        let u2Survey = try store.outbox(rule: "journey:onboarding", customerId: "u2").last
        #expect(u2Survey?.createdAt == EngineFixtures.time("25h"))
        // The removed journey's instances end with the reason recorded, and nothing is stranded.
        let legacy = try store.journeyInstances(customerId: "u1").filter { $0.journey == "legacy" }
        #expect(legacy.map(\.status) == ["exited"])
        #expect(legacy.first?.exitReason?.hasPrefix("journey removed") == true)
        #expect(try store.activeJourneyInstances().isEmpty)
    }

    @Test("an edit that leaves a journey's steps alone rewrites none of its instances; a later step edit still maps them by name")
    func editElsewhere() throws {
        let store = try CrescentStore()
        let old = try EngineFixtures.engine(rules: ["journeys/onboarding.lua": Self.v1], store: store)
        _ = try old.process(EngineFixtures.identify("u1", traits: ["marketing_consent": true], at: "0s"))
        _ = try old.process(EngineFixtures.track("Signed Up", user: "u1", at: "0s"))
        try old.advance(to: EngineFixtures.time("2h")) // u1 now waits in "pause"
        try old.flush()
        let before = try #require(try store.journeyInstances(customerId: "u1").first { $0.journey == "onboarding" })

        // A new alert file: a new rule set version, the same journeys.
        let alert = #"promotion "hello" { on = "Signed Up", run = function(e, c, act) act:notify{ template = "hi" } end }"#
        let edited = try EngineFixtures.engine(rules: ["journeys/onboarding.lua": Self.v1, "promotions/hello.lua": alert], store: store)
        #expect(edited.problems.filter { $0.severity == .error }.isEmpty)
        #expect(edited.journeyMigrations.isEmpty)
        try edited.flush()
        let after = try #require(try store.journeyInstances(customerId: "u1").first { $0.journey == "onboarding" })
        #expect(after == before, "the stored instance is not rewritten")

        // Then the journey itself changes ("pause" becomes "breather"): the instance, still naming the
        // first version, continues at the next surviving step, as any instance of that version would.
        let changed = try EngineFixtures.engine(rules: ["journeys/onboarding.lua": Self.v2, "promotions/hello.lua": alert], store: store)
        #expect(changed.journeyMigrations.first { $0.journey == "onboarding" }?.moved == 1)
        try changed.advance(to: EngineFixtures.time("5d"))
        #expect(try templates(changed, "onboarding", customer: "u1") == ["tips", "survey"])
    }

    @Test("sharded: each shard fires its own customers' timers; a merge carries the instance")
    func sharded() throws {
        let root = try Fixtures.temporaryDirectory(files: ["rules/journeys/cart.lua": abandonedCart, "plugins/.keep": ""])
        let store = try CrescentStore()
        let engine = try ShardedEngine(store: store, rulesDirectory: root.appendingPathComponent("rules").path,
                                       pluginsDirectory: root.appendingPathComponent("plugins").path, shards: 2)
        for n in 0..<10 {
            _ = try engine.process(EngineFixtures.identify("user\(n)", traits: ["marketing_consent": true], at: "0s"))
            _ = try engine.process(added("cart\(n)", price: 10, user: "user\(n)", at: "1m"))
        }
        // An anonymous visitor fills a cart, then signs in: the instance follows the customer.
        _ = try engine.process(EngineFixtures.track("Product Added", user: nil, anonymous: "anon-9",
                                                    ["cart_id": "cart-anon", "price": 10], at: "2m"))
        _ = try engine.process(EngineFixtures.identify("merged-user", anonymous: "anon-9", traits: ["marketing_consent": true], at: "3m"))
        try engine.advance(to: EngineFixtures.time("2h"))
        try engine.flush()
        let reminders = try store.outbox(rule: "journey:abandoned_cart").filter { $0.action == "notify" }
        #expect(reminders.count == 11)
        #expect(reminders.contains { $0.customerId == "merged-user" })
    }
}

@Suite("Journeys: a broken rule file strands nothing")
struct BrokenReloadTests {
    @Test("a version whose journey file fails to load keeps the instances waiting; the next good version takes them over")
    func brokenThenFixed() throws {
        let store = try CrescentStore()
        let good = try EngineFixtures.engine(rules: ["journeys/cart.lua": abandonedCart], store: store)
        _ = try good.process(EngineFixtures.identify("u1", traits: ["marketing_consent": true], at: "0s"))
        _ = try good.process(added("c1", price: 10, at: "1m"))
        try good.flush()

        let broken = try EngineFixtures.engine(rules: ["journeys/cart.lua": abandonedCart + "\nthis is not lua"], store: store)
        #expect(broken.problems.contains { $0.file == "rules/journeys/cart.lua" && $0.severity == .error })
        #expect(broken.journeyMigrations.first?.kept == 1)
        try broken.advance(to: EngineFixtures.time("3h"))
        try broken.flush()
        let waiting = try #require(try store.journeyInstances(customerId: "u1").first)
        #expect(waiting.status == "active", "not ended by the broken version")

        let fixed = try EngineFixtures.engine(rules: ["journeys/cart.lua": abandonedCart], store: store)
        try fixed.advance(to: EngineFixtures.time("3h"))
        #expect(try templates(fixed) == ["cart_reminder"])
    }
}
