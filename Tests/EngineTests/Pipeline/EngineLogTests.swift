import Engine
import Foundation
import Store
import TestSupport
import Testing

/// Lines a sink received, from whichever thread wrote them.
private final class ReceivedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

@Suite("The engine's log")
struct EngineLogTests {
    static let loud = """
        segment "loud" { when = function(c) log("saw", c.id, 1.5) return false end }
        """

    @Test("every line reaches the sink as it is written; memory keeps only the latest")
    func sinkAndBound() throws {
        let received = ReceivedLines()
        var options = EngineOptions()
        options.logSink = { received.append($0) }
        options.logLinesKept = 3
        let engine = try EngineFixtures.engine(rules: ["loud.lua": Self.loud], options: options)
        for i in 0..<10 { _ = try engine.process(EngineFixtures.track("Page Viewed", user: "u\(i)", at: "\(i)m")) }
        #expect(received.all == (0..<10).map { "saw u\($0) 1.5" })
        #expect(engine.log == ["saw u7 1.5", "saw u8 1.5", "saw u9 1.5"])
    }

    @Test("a sharded engine's shards write to the same sink")
    func shards() throws {
        let received = ReceivedLines()
        var options = EngineOptions()
        options.logSink = { received.append($0) }
        let root = try Fixtures.temporaryDirectory(files: ["rules/loud.lua": Self.loud, "plugins/.keep": ""])
        defer { try? FileManager.default.removeItem(at: root) }
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: root.appendingPathComponent("rules").path,
                                       pluginsDirectory: root.appendingPathComponent("plugins").path, options: options, shards: 2)
        for i in 0..<20 { _ = try engine.process(EngineFixtures.track("Page Viewed", user: "u\(i)", at: "\(i)m")) }
        try engine.flush()
        #expect(Set(received.all) == Set((0..<20).map { "saw u\($0) 1.5" }))
    }

    @Test("a sweep that every shard skips after a stop is counted and logged once")
    func skippedSweepOnShards() throws {
        let received = ReceivedLines()
        var options = EngineOptions()
        options.logSink = { received.append($0) }
        let root = try Fixtures.temporaryDirectory(files: [
            "rules/nightly.lua": """
                segment "any" { when = function(c) return true end }
                schedule "nightly" { at = "03:00", timezone = "UTC", sweep = "segments" }
                """,
            "plugins/.keep": "",
        ])
        defer { try? FileManager.default.removeItem(at: root) }
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: root.appendingPathComponent("rules").path,
                                       pluginsDirectory: root.appendingPathComponent("plugins").path, options: options, shards: 2)
        for i in 0..<4 { _ = try engine.process(EngineFixtures.track("Page Viewed", user: "u\(i)", at: "\(i)m")) }
        try engine.advance(to: EngineFixtures.time("5d"), missedRuns: .latest)
        #expect(received.all.filter { $0.hasPrefix("schedule:nightly: ") }
                == ["schedule:nightly: 4 runs due from 2026-01-01T03:00:00.000Z missed while stopped; it runs once, for 2026-01-05T03:00:00.000Z"])
        #expect(engine.clockWork.scheduleRunsSkipped == 4)
        #expect(engine.clockWork.schedulesRun == 2, "the latest sweep, once on each shard")
    }
}
