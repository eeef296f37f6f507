import Engine
import Foundation
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

/// The schedules under rules/schedules/ (the nightly segment sweep is
/// exercised by the win-back journey in ``ShippedJourneysTests``).
@Suite("Shipped schedules")
struct ShippedSchedulesTests {
    /// A week of orders of 800 at 09:30 every day (UTC), then `today`'s orders on the eighth day.
    func week(today: [String]) throws -> Engine {
        let engine = try F.shippedEngine()
        for day in 0..<7 {
            _ = try engine.process(F.order("o\(day)", user: "c\(day)", total: 800, at: "\(day)d9h30m"))
        }
        for (index, at) in today.enumerated() {
            _ = try engine.process(F.order("t\(index)", user: "t\(index)", total: 800, at: at))
        }
        try engine.advance(to: F.time("7d12h"))
        return engine
    }

    func paceAlerts(_ engine: Engine) throws -> [(message: String, at: Int64)] {
        try F.committed(engine, rule: "schedule:sales_pace", action: "alert", field: "message").map { ($0.value, $0.at) }
    }

    @Test("sales_pace alerts every hour once today falls under 70% of the week's average by this hour")
    func behindPace() throws {
        let alerts = try paceAlerts(try week(today: []))
        #expect(alerts.map(\.at) == [F.time("7d10h"), F.time("7d11h"), F.time("7d12h")])
        #expect(alerts.first?.message == "sales behind pace: 0 so far today against 800 expected by now")
    }

    @Test("sales_pace stays quiet on pace, and while the week's average is too small to judge")
    func onPace() throws {
        // Days 1–6 build the average up from nothing (under 500 until day 5): no alert on any of them either.
        #expect(try paceAlerts(try week(today: ["7d9h30m"])).isEmpty)
    }
}
