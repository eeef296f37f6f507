import Engine
import Foundation
import Store
import TestSupport
import Testing

/// Sent notify actions of a journey with their times.
private func sends(_ engine: Engine, _ journey: String, customer: String) throws -> [(template: String, at: Int64)] {
    try EngineFixtures.committed(engine, rule: "journey:\(journey)", action: "notify", customer: customer, field: "template")
        .map { ($0.value, $0.at) }
}

@Suite("Journeys: frequency caps and quiet hours defer, never drop")
struct MessagingTests {
    static let drip = """
        journey "drip" {
          on = "Signed Up",
          cap = { max = 1, per = "1d" },
          quiet_hours = false,
          steps = {
            send { template = "one" },
            wait "1h",
            send { template = "two" },
          },
        }
        """

    @Test("a capped message is deferred to the first allowed time, then sent; the deferral is visible")
    func capDefers() throws {
        let engine = try journeyEngine(["journeys/drip.lua": Self.drip])
        _ = try engine.process(EngineFixtures.track("Signed Up", at: "0s"))
        try engine.advance(to: EngineFixtures.time("2h"))
        #expect(try sends(engine, "drip", customer: "u1").map(\.template) == ["one"])
        let waiting = try #require(try engine.store.journeyInstances(customerId: "u1").first)
        #expect(waiting.step == "send_2")
        #expect(waiting.wakeAt == EngineFixtures.time("1d"))
        #expect(waiting.note?.contains("journey cap 1 per 24h") == true)
        let report = try #require(try engine.store.journeyReports().first)
        #expect(report.steps.first { $0.step == "send_2" }?.counts["deferred"] == 1)
        #expect(report.steps.first { $0.step == "send_2" }?.counts["waiting"] == 1)
        try engine.advance(to: EngineFixtures.time("1d"))
        let all = try sends(engine, "drip", customer: "u1")
        #expect(all.map(\.template) == ["one", "two"])
        #expect(all.last?.at == EngineFixtures.time("1d"))
    }

    @Test("a global cap counts every journey's messages to the customer")
    func globalCap() throws {
        let rules = """
            messaging { cap = { max = 2, per = "1d" } }
            journey "a" { on = "Signed Up", steps = { send { template = "a" } } }
            journey "b" { on = "Signed Up", steps = { send { template = "b" } } }
            journey "c" { on = "Signed Up", steps = { send { template = "c" } } }
            """
        let engine = try journeyEngine(["journeys/three.lua": rules])
        _ = try engine.process(EngineFixtures.track("Signed Up", at: "1h"))
        #expect(try sends(engine, "a", customer: "u1").count == 1)
        #expect(try sends(engine, "b", customer: "u1").count == 1)
        #expect(try sends(engine, "c", customer: "u1").isEmpty)
        try engine.advance(to: EngineFixtures.time("25h"))
        #expect(try sends(engine, "c", customer: "u1").map(\.at) == [EngineFixtures.time("25h")])
    }

    static let quiet = """
        messaging { timezone = "UTC", quiet_hours = { from = "21:00", to = "08:00" } }
        journey "late_offer" {
          on = "Cart Viewed",
          steps = { wait "2h", send { template = "offer" } },
        }
        """

    /// 2026-01-01 is a winter day: Madrid is UTC+1, New York UTC-5.
    @Test("quiet hours defer across midnight in the customer's time zone",
          arguments: [("Europe/Madrid", "22h", "31h"), ("America/New_York", "3h", "13h"), ("America/New_York", "14h", "16h")])
    func quietHours(zone: String, viewedAt: String, expected: String) throws {
        let engine = try EngineFixtures.engine(rules: ["journeys/late.lua": Self.quiet])
        _ = try engine.process(EngineFixtures.identify("u1", traits: ["marketing_consent": true, "timezone": .string(zone)], at: "0s"))
        _ = try engine.process(EngineFixtures.track("Cart Viewed", at: viewedAt))
        try engine.advance(to: EngineFixtures.time("3d"))
        let sent = try sends(engine, "late_offer", customer: "u1")
        #expect(sent.map(\.at) == [EngineFixtures.time(expected)])
    }

    @Test("the policy's zone applies when the customer has none")
    func defaultZone() throws {
        let engine = try journeyEngine(["journeys/late.lua": Self.quiet])
        _ = try engine.process(EngineFixtures.track("Cart Viewed", at: "20h"))
        try engine.advance(to: EngineFixtures.time("1d"))
        try engine.flush()
        let waiting = try #require(try engine.store.journeyInstances(customerId: "u1").first)
        #expect(waiting.wakeAt == EngineFixtures.time("32h"))
        #expect(waiting.note?.contains("quiet hours 21:00–08:00 UTC") == true)
        try engine.advance(to: EngineFixtures.time("2d"))
        #expect(try sends(engine, "late_offer", customer: "u1").map(\.at) == [EngineFixtures.time("32h")])
    }
}
