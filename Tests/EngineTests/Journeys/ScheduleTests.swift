import Engine
import Foundation
import Store
import TestSupport
import Testing

private func alerts(_ engine: Engine, _ schedule: String) throws -> [(message: String, at: Int64)] {
    try EngineFixtures.committed(engine, rule: "schedule:\(schedule)", field: "message").map { ($0.value, $0.at) }
}

@Suite("Schedules on the virtual clock")
struct ScheduleTests {
    static let rules = """
        schedule "pulse" {
          every = "1h",
          run = function(ctx, act)
            act:alert{ message = ("revenue %d from %d orders"):format(ctx:revenue{ within = "1h" }, ctx:orders{ within = "1h" }) }
          end,
        }
        schedule "morning" {
          at = "08:00", timezone = "Europe/Madrid",
          run = function(ctx, act) act:alert{ message = "good morning" } end,
        }
        """

    @Test("every and at run as virtual time passes, each at its own time, with sales in the context")
    func everyAndAt() throws {
        let engine = try EngineFixtures.engine(rules: ["schedules/pulse.lua": Self.rules])
        _ = try engine.process(EngineFixtures.order("o1", total: 100, at: "30m"))
        try engine.advance(to: EngineFixtures.time("5h"))
        let pulse = try alerts(engine, "pulse")
        #expect(pulse.map(\.at) == (1...5).map { EngineFixtures.time("\($0)h") })
        #expect(pulse.first?.message == "revenue 100 from 1 orders")
        #expect(pulse.last?.message == "revenue 0 from 0 orders")
        try engine.advance(to: EngineFixtures.time("2d"))
        #expect(try alerts(engine, "morning").map(\.at) == [EngineFixtures.time("7h"), EngineFixtures.time("31h")])
    }

    @Test("sales in the context count exactly the window's hours, however long the history")
    func salesWindow() throws {
        let engine = try EngineFixtures.engine(rules: ["schedules/pulse.lua": Self.rules])
        for (index, minute) in [30, 90, 150, 210, 270].enumerated() {
            _ = try engine.process(EngineFixtures.order("o\(index)", total: Double(10 * (index + 1)), at: "\(minute)m"))
        }
        _ = try engine.process(EngineFixtures.order("o5", total: 7, at: "280m"))
        try engine.advance(to: EngineFixtures.time("6h"))
        #expect(try alerts(engine, "pulse").map(\.message) == [
            "revenue 10 from 1 orders", "revenue 20 from 1 orders", "revenue 30 from 1 orders",
            "revenue 40 from 1 orders", "revenue 57 from 2 orders", "revenue 0 from 0 orders",
        ])
    }

    /// A store where an engine ran the schedules for two hours (an order at 30 minutes), then stopped.
    static func stoppedAfterTwoHours() throws -> CrescentStore {
        let store = try CrescentStore()
        let first = try EngineFixtures.engine(rules: ["schedules/pulse.lua": Self.rules], store: store)
        _ = try first.process(EngineFixtures.order("o1", total: 100, at: "30m"))
        try first.advance(to: EngineFixtures.time("2h"))
        try first.flush()
        return store
    }

    @Test("a restarted engine goes on from the last run, without running it again")
    func restart() throws {
        let store = try Self.stoppedAfterTwoHours()
        let second = try EngineFixtures.engine(rules: ["schedules/pulse.lua": Self.rules], store: store)
        try second.advance(to: EngineFixtures.time("4h"))
        #expect(try alerts(second, "pulse").map(\.at) == (1...4).map { EngineFixtures.time("\($0)h") })
    }

    @Test("catching up after a stop runs a schedule once, for its latest due time, and logs the runs it skipped")
    func catchUpAfterStop() throws {
        let store = try Self.stoppedAfterTwoHours()
        // Stopped for three days: `crescent serve` catches up this way when it starts.
        let second = try EngineFixtures.engine(rules: ["schedules/pulse.lua": Self.rules], store: store)
        try second.advance(to: EngineFixtures.time("74h") + 60_000, missedRuns: .latest)
        #expect(try alerts(second, "pulse").map(\.at) == ["1h", "2h", "74h"].map { EngineFixtures.time($0) })
        #expect(second.clockWork.scheduleRunsSkipped == 71)
        #expect(second.log == ["schedule:pulse: 71 runs due from \(Timestamps.iso(EngineFixtures.time("3h"))) missed while stopped; "
                               + "it runs once, for \(Timestamps.iso(EngineFixtures.time("74h")))"])
        // From then on every due time runs, as before.
        try second.advance(to: EngineFixtures.time("76h"))
        #expect(try alerts(second, "pulse").map(\.at).suffix(3) == ["74h", "75h", "76h"].map { EngineFixtures.time($0) })

        // Replays and the ticking clock run every due time (the default).
        let third = try EngineFixtures.engine(rules: ["schedules/pulse.lua": Self.rules], store: store)
        try third.advance(to: EngineFixtures.time("80h"))
        #expect(try alerts(third, "pulse").map(\.at).suffix(4) == ["77h", "78h", "79h", "80h"].map { EngineFixtures.time($0) })
        #expect(third.clockWork.scheduleRunsSkipped == 0)
    }

    @Test("a clock moved by centuries at once (a mistyped year in a replay) runs each schedule at most 100,000 times, then once for the latest")
    func centuriesAtOnce() throws {
        let engine = try EngineFixtures.engine(rules: ["schedules/pulse.lua": Self.rules])
        _ = try engine.process(EngineFixtures.order("o1", total: 100, at: "30m"))
        try engine.advance(to: EngineFixtures.time("5h"))
        _ = try engine.process(EngineFixtures.order("o2", total: 50, at: "146000d")) // 400 years on
        let log = engine.log.joined(separator: "\n")
        #expect(log.contains("schedule:pulse: 35"), "\(log)")
        #expect(log.contains("passed in one move of the clock (more than 100000 at once); it runs once, for"), "\(log)")
        #expect(log.contains("schedule:morning: "), "the daily one too: \(log)")
        try engine.flush()
        #expect(try alerts(engine, "pulse").count == 6, "five hours, then the latest")
        #expect(try alerts(engine, "morning").count == 1, "the latest only")
        // A move of a few years stays below the bound: every run happens.
        let short = try EngineFixtures.engine(rules: ["schedules/pulse.lua": Self.rules])
        try short.advance(to: EngineFixtures.time("0s"))
        try short.advance(to: EngineFixtures.time("1000d"))
        #expect(try alerts(short, "morning").count == 1000)
    }

    @Test("a nightly sweep moves customers into time-based segments, which start journeys")
    func sweep() throws {
        let rules = """
            segment "inactive" { when = function(c) local d = c:days_since_last_order() return d ~= nil and d > 30 end }
            schedule "nightly" { at = "03:00", sweep = "segments" }
            journey "win_back" { segment = "inactive", steps = { send { template = "we_miss_you" } } }
            """
        let engine = try journeyEngine(["segments/inactive.lua": rules])
        _ = try engine.process(EngineFixtures.order("o1", total: 50, at: "0s"))
        try engine.advance(to: EngineFixtures.time("40d"))
        try engine.flush()
        let sent = try engine.store.outbox(rule: "journey:win_back")
        #expect(sent.map(\.createdAt) == [EngineFixtures.time("723h")]) // day 30, 03:00: 30.1 days since the order
        #expect(try engine.store.segmentSizes()["inactive"] == 1)
    }

    @Test("a schedule that fails is counted and logged; the next run goes on")
    func failingSchedule() throws {
        let rules = """
            schedule "broken" { every = "1h", run = function(ctx, act) error("no forecast") end }
            """
        let engine = try EngineFixtures.engine(rules: ["schedules/broken.lua": rules])
        _ = try engine.process(EngineFixtures.track("Page Viewed", at: "0s"))
        try engine.advance(to: EngineFixtures.time("3h"))
        #expect(engine.stats["schedule:broken"]?.errors == 3)
        #expect(engine.log.contains { $0.contains("schedule:broken failed") && $0.contains("no forecast") })
    }

    @Test("bad timing is reported with the file and line", arguments: [
        ("schedule \"x\" { run = function() end }", "give either every"),
        ("schedule \"x\" { at = \"25:00\", run = function() end }", "time of day"),
        ("schedule \"x\" { every = \"1h\", timezone = \"Mars/Base\", run = function() end }", "unknown timezone"),
        ("schedule \"x\" { every = \"1h\" }", "needs run"),
    ])
    func badSchedule(source: String, message: String) throws {
        let engine = try EngineFixtures.engine(rules: ["schedules/bad.lua": source])
        let problem = try #require(engine.problems.first)
        #expect(problem.file == "rules/schedules/bad.lua")
        #expect(problem.line == 1)
        #expect(problem.message.contains(message))
    }
}
