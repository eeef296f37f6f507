@testable import Engine
import Foundation
import GRDB
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

@Suite("A segment sweep in slices lets the events queued behind it through")
struct SweepSliceTests {
    static let rules = """
        schedule "nightly" { at = "03:00", timezone = "UTC", sweep = "segments" }
        segment "browsing" { when = function(c) return c:count{ event = "Product Viewed", within = "1h" } >= 1 end }
        """

    static func options(slice: Int) -> EngineOptions {
        var options = EngineOptions()
        options.sweepSlice = slice
        return options
    }

    static func history(_ store: CrescentStore) throws -> [String] {
        try store.read { db in
            try Row.fetchAll(db, sql: "SELECT customer_id, change, at FROM segment_history ORDER BY at, customer_id")
                .map { "\($0["customer_id"] as String) \($0["change"] as String) @\(($0["at"] as Int64 - F.time()) / 60_000)m" }
        }
    }

    static func lastRuns(_ store: CrescentStore) throws -> [Int64] {
        try store.read { db in try Int64.fetchAll(db, sql: "SELECT last_run FROM schedule_runs WHERE schedule = 'nightly'") }
    }

    @Test("each customer once, at the clock's time when its slice runs; the run is recorded with the last slice")
    func slices() throws {
        let engine = try F.engine(rules: ["segments.lua": Self.rules], options: Self.options(slice: 2))
        for user in ["a", "b", "c", "d", "e"] {
            _ = try engine.process(F.track("Product Viewed", user: user, ["product_id": "p1"], at: "0s"))
        }
        try engine.advance(to: F.time("3h"))
        #expect(engine.sweepWaiting == 5, "the sweep due at 03:00 has started, no customer evaluated yet")
        engine.runSweepSlice()
        #expect(engine.sweepWaiting == 3)
        try engine.flush()
        #expect(try Self.lastRuns(engine.store) == [], "a sweep half done is not recorded as run")
        // An event between slices moves the clock: the customers left are evaluated at its time.
        _ = try engine.process(F.track("Page Viewed", user: "f", at: "4h"))
        engine.runSweepSlice()
        engine.runSweepSlice()
        #expect(engine.sweepWaiting == 0)
        engine.runSweepSlice() // nothing left: nothing happens
        try engine.flush()
        #expect(try Self.history(engine.store) == [
            "a entered @0m", "b entered @0m", "c entered @0m", "d entered @0m", "e entered @0m",
            "a exited @180m", "b exited @180m",
            "c exited @240m", "d exited @240m", "e exited @240m",
        ])
        #expect(try Self.lastRuns(engine.store) == [F.time("3h")])
        #expect(engine.clockWork.customersSwept == 5)
        #expect(engine.log.first == "schedule:nightly: sweeping 5 customers in slices of 2, between other work")
        #expect(engine.log.last?.hasPrefix("schedule:nightly: swept 5 customers in ") == true, "\(engine.log)")
    }

    @Test("a sweep left unfinished at a stop is not recorded, so it runs again after the start")
    func unfinishedSweepRunsAgain() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sweep.db").path
        var options = Self.options(slice: 2)
        options.reuseSegmentResults = false // every customer at every sweep
        do {
            let engine = try F.engine(rules: ["segments.lua": Self.rules], options: options, store: try CrescentStore(path: path))
            for user in ["a", "b", "c", "d", "e"] {
                _ = try engine.process(F.track("Product Viewed", user: user, ["product_id": "p1"], at: "0s"))
            }
            try engine.advance(to: F.time("3h")) // the first night's sweep, to its end
            for _ in 0..<10 where engine.sweepWaiting > 0 { engine.runSweepSlice() }
            try engine.advance(to: F.time("27h")) // the second night's: one slice, then the stop
            engine.runSweepSlice()
            #expect(engine.sweepWaiting == 3)
            try engine.flush()
            #expect(try Self.lastRuns(engine.store) == [F.time("3h")])
        }
        let store = try CrescentStore(path: path)
        let restarted = try F.engine(rules: ["segments.lua": Self.rules], options: options, store: store)
        try restarted.advance(to: F.time("28h"), missedRuns: .latest)
        #expect(restarted.sweepWaiting == 5, "the second night's sweep again, every customer")
        for _ in 0..<10 where restarted.sweepWaiting > 0 { restarted.runSweepSlice() }
        try restarted.flush()
        #expect(try Self.lastRuns(store) == [F.time("27h")])
    }

    @Test("a sweep still going when the next is due ends first, whole")
    func nextSweepFinishesTheLast() throws {
        var options = Self.options(slice: 2)
        options.reuseSegmentResults = false // every customer at every sweep
        let engine = try F.engine(rules: ["segments.lua": Self.rules], options: options)
        for user in ["a", "b", "c"] {
            _ = try engine.process(F.track("Product Viewed", user: user, ["product_id": "p1"], at: "0s"))
        }
        try engine.advance(to: F.time("3h"))
        engine.runSweepSlice()
        #expect(engine.sweepWaiting == 1)
        try engine.advance(to: F.time("27h")) // the next night's sweep: c first, then all three again
        #expect(engine.sweepWaiting == 3)
        for _ in 0..<10 where engine.sweepWaiting > 0 { engine.runSweepSlice() }
        try engine.flush()
        #expect(engine.clockWork.customersSwept == 6)
        #expect(try Self.history(engine.store).filter { $0.contains("exited") } == ["a exited @180m", "b exited @180m", "c exited @1620m"])
        #expect(try Self.lastRuns(engine.store) == [F.time("27h")])
    }

    @Test("a small sweep runs whole; without slices every sweep does")
    func wholeSweeps() throws {
        for slice in [10, nil] as [Int?] {
            var options = EngineOptions()
            options.sweepSlice = slice
            let engine = try F.engine(rules: ["segments.lua": Self.rules], options: options)
            for user in ["a", "b", "c"] {
                _ = try engine.process(F.track("Product Viewed", user: user, ["product_id": "p1"], at: "0s"))
            }
            try engine.advance(to: F.time("3h"))
            #expect(engine.sweepWaiting == 0)
            try engine.flush()
            #expect(try Self.history(engine.store).filter { $0.contains("exited") } == ["a exited @180m", "b exited @180m", "c exited @180m"])
        }
    }

    @Test("on a shard, queued work takes turns with the slices")
    func turnsOnAShard() throws {
        let root = try Fixtures.temporaryDirectory(files: ["rules/segments.lua": Self.rules, "plugins/.keep": ""])
        defer { try? FileManager.default.removeItem(at: root) }
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: root.appendingPathComponent("rules").path,
                                       pluginsDirectory: root.appendingPathComponent("plugins").path,
                                       options: Self.options(slice: 2), shards: 1)
        for user in ["a", "b", "c", "d", "e", "f", "g"] {
            _ = try engine.process(F.track("Product Viewed", user: user, ["product_id": "p1"], at: "0s"))
        }
        // Hold the shard while the sweep, an event and two probes queue behind it.
        let release = DispatchSemaphore(value: 0)
        engine.onShardAsync(0) { _ in release.wait() }
        let started = DispatchSemaphore(value: 0)
        engine.startAdvance(to: F.time("3h"), missedRuns: .each) { _ in started.signal() }
        let seen = Collected<Int>()
        let processed = DispatchSemaphore(value: 0)
        engine.submit(F.track("Page Viewed", user: "z", at: "3h")) { _ in processed.signal() }
        engine.dispatchAllPending()
        engine.onShardAsync(0) { seen.append($0.sweepWaiting) }
        engine.onShardAsync(0) { seen.append($0.sweepWaiting) }
        release.signal()
        #expect(started.wait(timeout: .now() + 60) == .success)
        #expect(processed.wait(timeout: .now() + 60) == .success)
        try engine.flush() // queued behind the probes: they have run
        #expect(seen.values == [3, 1], "after the sweep started: a slice, the event, a slice, a probe, a slice, a probe")
        let deadline = ContinuousClock.now + .seconds(60)
        while engine.readingsNow().sweepWaiting > 0 && ContinuousClock.now < deadline {}
        #expect(engine.readingsNow().sweepWaiting == 0, "the shard ends the sweep once nothing else is queued")
        try engine.flush()
        #expect(try Self.history(engine.store).filter { $0.contains("exited") }.count == 7)
    }
}
