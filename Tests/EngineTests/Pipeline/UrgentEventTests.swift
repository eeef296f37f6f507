@testable import Engine
import Foundation
import GRDB
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

@Suite("An urgent event goes before the events queued on its shard")
struct UrgentEventTests {
    /// One shard, no rules (or `rules`), its thread held until `release` is signalled (so events queue up behind it).
    static func heldShard(rules: String = "") throws -> (ShardedEngine, DispatchSemaphore) {
        let root = try Fixtures.temporaryDirectory(files: ["rules/none.lua": rules, "plugins/.keep": ""])
        defer { try? FileManager.default.removeItem(at: root) }
        let engine = try ShardedEngine(store: try CrescentStore(), rulesDirectory: root.appendingPathComponent("rules").path,
                                       pluginsDirectory: root.appendingPathComponent("plugins").path, shards: 1)
        let release = DispatchSemaphore(value: 0)
        engine.onShardAsync(0) { _ in release.wait() }
        return (engine, release)
    }

    @Test("a decision submitted behind queued events is processed and committed first")
    func urgentFirst() throws {
        let (engine, release) = try Self.heldShard()
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

    @Test("the same customer's queued events still go before its decision; other customers' wait")
    func customerOrderKept() throws {
        let (engine, release) = try Self.heldShard()
        let order = Collected<String>()
        let done = DispatchGroup()
        func send(_ event: Event, _ label: String, urgent: Bool = false) {
            done.enter()
            engine.submitCommitted(event, urgent: urgent) { _ in order.append(label); done.leave() }
        }
        send(F.track("Product Viewed", user: "b", at: "0s"), "b1")
        send(F.track("Product Viewed", anonymous: "anon-d", at: "1s"), "anon-d")
        send(F.track("Product Viewed", user: "c", at: "2s"), "c1")
        engine.dispatchAllPending()
        send(F.identify("d", anonymous: "anon-d", traits: [:], at: "3s"), "identify-d")
        send(F.track("Product Viewed", user: "b", at: "4s"), "b2")
        send(F.track("Checkout Started", user: "d", at: "5s"), "d-checkout") // still routed, not handed to the shard
        send(F.order("o1", user: "d", total: 10, at: "6s"), "decide", urgent: true)
        engine.dispatchAllPending()
        release.signal()
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(order.values == ["anon-d", "identify-d", "d-checkout", "decide", "b1", "c1", "b2"])
        // The anonymous history was merged before the decision saw the customer.
        let events = try engine.store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE customer_id = 'd'")
        }
        #expect(events == 4)
    }

    @Test("other customers' queued orders on the same card or IP go before the decision, so card velocity counts them")
    func sharedCardGoesFirst() throws {
        let (engine, release) = try Self.heldShard(rules: F.velocityRules)
        let order = Collected<String>()
        let reasons = Collected<[String]>()
        let done = DispatchGroup()
        func send(_ event: Event, _ label: String, urgent: Bool = false) {
            done.enter()
            engine.submitCommitted(event, urgent: urgent) { result in
                order.append(label)
                if urgent, case .success(let outcome) = result { reasons.append(outcome.decision?.reasons ?? []) }
                done.leave()
            }
        }
        let card: [String: JSONValue] = ["card_fingerprint": "fp-stolen"]
        send(F.track("Product Viewed", user: "x", at: "0s"), "x-view")
        send(F.order("o1", user: "x", total: 5, at: "1s", card), "x-order")
        send(F.track("Product Viewed", user: "y", at: "2s"), "y-view")
        var fromTheSameIP = F.track("Checkout Started", user: "z", at: "3s")
        fromTheSameIP.context["ip"] = "203.0.113.9"
        send(fromTheSameIP, "z-checkout")
        send(F.order("o2", user: "w", total: 5, at: "4s", card), "w-order")
        engine.dispatchAllPending()
        var decide = F.order("o3", user: "d", total: 5, at: "5s", card)
        decide.context["ip"] = "203.0.113.9"
        send(decide, "decide", urgent: true)
        engine.dispatchAllPending()
        release.signal()
        #expect(done.wait(timeout: .now() + 60) == .success)
        // x's view goes first too: x's events keep their order. y shares nothing and waits.
        #expect(order.values == ["x-view", "x-order", "z-checkout", "w-order", "decide", "y-view"])
        #expect(reasons.values == [["card used 3 times in the last hour"]], "the third use of the card within the hour")
    }
}
