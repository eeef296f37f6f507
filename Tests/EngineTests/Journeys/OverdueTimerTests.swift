@testable import Engine
import Foundation
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

@Suite("Journey timers due while stopped fire in slices after the start")
struct OverdueTimerTests {
    static let users = ["a", "b", "c", "d", "e", "f", "g"]

    /// A database where every user put a 30 cart aside at 0s (a reminder due
    /// at 1h, then the last call at 24h), and the engine stopped right after.
    static func stoppedDatabase() throws -> (dir: URL, path: String) {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("journeys.db").path
        let engine = try F.engine(rules: ["journeys/cart.lua": abandonedCart], store: try CrescentStore(path: path))
        for user in users {
            _ = try engine.process(F.identify(user, traits: ["marketing_consent": true], at: "-1m"))
            _ = try engine.process(added("cart-\(user)", price: 30, user: user, at: "0s"))
        }
        try engine.flush()
        return (dir, path)
    }

    static func restarted(_ path: String, slice: Int?) throws -> Engine {
        var options = EngineOptions()
        options.timerSlice = slice
        return try F.engine(rules: ["journeys/cart.lua": abandonedCart], options: options, store: try CrescentStore(path: path))
    }

    /// Every message the journey sent: customer, template, minutes after 0s; in the order they were written.
    static func sent(_ engine: Engine) throws -> [String] {
        try engine.flush()
        return try engine.store.outbox(rule: "journey:abandoned_cart").filter { $0.action == "notify" }.map {
            let template = (try JSONValue.parse(Data($0.payload.utf8)))["template"]?.stringValue ?? "?"
            return "\($0.customerId ?? "?") \(template) @\(($0.createdAt - F.time()) / 60_000)m"
        }
    }

    @Test("a slice at a time, each at its due time; a customer's own fire before their event; the same messages as all at once")
    func slices() throws {
        let (dir, path) = try Self.stoppedDatabase()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("whole.db").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)

        let engine = try Self.restarted(path, slice: 3)
        try engine.advance(to: F.time("2d"), missedRuns: .latest)
        #expect(engine.timersOverdue == 7, "set aside, none fired yet")
        #expect(try Self.sent(engine).isEmpty)
        engine.runTimerSlice()
        #expect(engine.timersOverdue == 4)
        #expect(try Self.sent(engine) == ["a cart_reminder @60m", "b cart_reminder @60m", "c cart_reminder @60m"])
        // g's event goes before the slices left, but after g's own overdue timers.
        let outcome = try engine.process(F.track("Page Viewed", user: "g", at: "2d"))
        #expect(outcome.customerId == "g")
        #expect(try Self.sent(engine).suffix(2) == ["g cart_reminder @60m", "g cart_last_call @1440m"])
        for _ in 0..<10 where engine.timersOverdue > 0 { engine.runCatchUpSlice() }
        #expect(engine.timersOverdue == 0)
        #expect(engine.log.first == "journeys: 7 timers due while stopped fire in slices of 3, between other work")
        #expect(engine.log.last?.hasPrefix("journeys: the 7 timers due while stopped have fired, in ") == true, "\(engine.log)")
        // The last calls of a, b and c (due at 24h) went back on the clock: its next move fires them.
        try engine.advance(to: F.time("2d") + 1)
        let sliced = try Self.sent(engine)

        let whole = try Self.restarted(copy, slice: nil)
        try whole.advance(to: F.time("2d"), missedRuns: .latest)
        #expect(whole.timersOverdue == 0)
        let allAtOnce = try Self.sent(whole)
        #expect(allAtOnce.count == 14)
        #expect(sliced.sorted() == allAtOnce.sorted(), "each customer's reminder at 1h and last call at 24h, once")
    }

    @Test("timers left at a stop stay due: the next start fires them")
    func stopMidway() throws {
        let (dir, path) = try Self.stoppedDatabase()
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let engine = try Self.restarted(path, slice: 3)
            try engine.advance(to: F.time("2d"), missedRuns: .latest)
            engine.runTimerSlice()
            try engine.flush()
        }
        let again = try Self.restarted(path, slice: 3)
        try again.advance(to: F.time("2d"), missedRuns: .latest)
        #expect(again.timersOverdue == 7, "a, b and c's last calls, and the four reminders never sent")
        for _ in 0..<10 where again.timersOverdue > 0 { again.runTimerSlice() }
        try again.advance(to: F.time("2d") + 1)
        let sent = try Self.sent(again)
        #expect(sent.count == 14)
        #expect(Set(sent).count == 14, "nothing sent twice")
    }

    @Test("a reload keeps the timers set aside")
    func reloadKeepsThem() throws {
        let (dir, path) = try Self.stoppedDatabase()
        defer { try? FileManager.default.removeItem(at: dir) }
        let engine = try Self.restarted(path, slice: 3)
        try engine.advance(to: F.time("2d"), missedRuns: .latest)
        engine.runTimerSlice()
        let rules = try Fixtures.temporaryDirectory(files: ["rules/journeys/cart.lua": abandonedCart + "\n-- edited\n", "plugins/.keep": ""])
        defer { try? FileManager.default.removeItem(at: rules) }
        _ = try engine.reload(rulesDirectory: rules.appendingPathComponent("rules").path,
                              pluginsDirectory: rules.appendingPathComponent("plugins").path)
        #expect(engine.timersOverdue == 7, "the reload handed them back to the slices (a, b and c's last calls too), not to the clock")
        try engine.advance(to: F.time("2d") + 1)
        #expect(engine.timersOverdue == 7)
        #expect(try Self.sent(engine).count == 3)
        for _ in 0..<10 where engine.timersOverdue > 0 { engine.runTimerSlice() }
        try engine.advance(to: F.time("2d") + 2)
        #expect(try Self.sent(engine).count == 14)
    }

    @Test("on a shard, the slices take turns with queued work, and end once nothing else is queued")
    func turnsOnAShard() throws {
        let (dir, path) = try Self.stoppedDatabase()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = try Fixtures.temporaryDirectory(files: ["rules/journeys/cart.lua": abandonedCart, "plugins/.keep": ""])
        defer { try? FileManager.default.removeItem(at: root) }
        var options = EngineOptions()
        options.timerSlice = 2
        let engine = try ShardedEngine(store: try CrescentStore(path: path), rulesDirectory: root.appendingPathComponent("rules").path,
                                       pluginsDirectory: root.appendingPathComponent("plugins").path, options: options, shards: 1)
        let release = DispatchSemaphore(value: 0)
        engine.onShardAsync(0) { _ in release.wait() }
        let started = DispatchSemaphore(value: 0)
        engine.startAdvance(to: F.time("2d"), missedRuns: .latest) { _ in started.signal() }
        let processed = DispatchSemaphore(value: 0)
        engine.submit(F.track("Page Viewed", user: "z", at: "2d")) { _ in processed.signal() }
        engine.dispatchAllPending()
        let seen = Collected<Int>()
        engine.onShardAsync(0) { seen.append($0.timersOverdue) }
        engine.onShardAsync(0) { seen.append($0.timersOverdue) }
        release.signal()
        #expect(started.wait(timeout: .now() + 60) == .success)
        #expect(processed.wait(timeout: .now() + 60) == .success)
        try engine.flush()
        #expect(seen.values == [3, 1], "a slice, the event, a slice, a probe, a slice, a probe")
        let deadline = ContinuousClock.now + .seconds(60)
        while engine.readingsNow().timersOverdue > 0 && ContinuousClock.now < deadline {}
        #expect(engine.readingsNow().timersOverdue == 0)
        try engine.advance(to: F.time("2d") + 1)
        try engine.flush()
        #expect(try engine.store.outbox(rule: "journey:abandoned_cart").filter { $0.action == "notify" }.count == 14)
    }
}
