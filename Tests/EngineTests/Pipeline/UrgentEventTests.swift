@testable import Engine
import Foundation
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

@Suite("An urgent event goes before the events queued on its shard")
struct UrgentEventTests {
    @Test("a decision submitted behind queued events is processed and committed first")
    func urgentFirst() throws {
        let root = try Fixtures.temporaryDirectory(files: ["rules/none.lua": "", "plugins/.keep": ""])
        defer { try? FileManager.default.removeItem(at: root) }
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: root.appendingPathComponent("rules").path,
                                       pluginsDirectory: root.appendingPathComponent("plugins").path, shards: 1)
        let release = DispatchSemaphore(value: 0)
        engine.onShardAsync(0) { _ in release.wait() }
        let order = Collected<Int>()
        let done = DispatchGroup()
        for (index, user) in ["a", "b", "c"].enumerated() {
            done.enter()
            engine.submitCommitted(F.track("Product Viewed", user: user, at: "\(index)s")) { _ in order.append(index); done.leave() }
        }
        engine.dispatchAllPending()
        done.enter()
        engine.submitCommitted(F.order("o1", user: "d", total: 10, at: "3s"), urgent: true) { _ in order.append(3); done.leave() }
        engine.dispatchAllPending()
        release.signal()
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(order.values == [3, 0, 1, 2])
        #expect(try engine.store.count("events") == 4)
    }
}
