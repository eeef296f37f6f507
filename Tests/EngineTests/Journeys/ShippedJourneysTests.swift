import Engine
import Foundation
import Store
import TestSupport
import Testing

private typealias F = EngineFixtures

/// The journeys under rules/journeys/, with the shipped messaging policy
/// (quiet hours 21:00–08:00 Madrid, three journey messages a day).
@Suite("Shipped journeys")
struct ShippedJourneysTests {
    func engine() throws -> Engine {
        let engine = try F.shippedEngine()
        _ = try engine.process(F.identify("u1", traits: ["email": "ana@example.com", "marketing_consent": true]))
        return engine
    }

    /// Journey sends to u1: template and time.
    func sent(_ engine: Engine, _ journey: String) throws -> [(String, Int64)] {
        try F.committed(engine, rule: "journey:\(journey)", action: "notify", customer: "u1", field: "template").map { ($0.value, $0.at) }
    }

    @Test("abandoned cart: a reminder after an hour, the offer a day later for a cart over 50; none once bought")
    func abandonedCart() throws {
        let engine = try engine()
        _ = try engine.process(F.track("Product Added", ["cart_id": "big", "price": 80, "quantity": 1], at: "9h"))
        _ = try engine.process(F.track("Product Added", ["cart_id": "bought", "price": 80, "quantity": 1], at: "9h"))
        _ = try engine.process(F.order("o1", total: 80, at: "9h30m", ["cart_id": "bought"]))
        try engine.advance(to: F.time("3d"))
        let messages = try sent(engine, "abandoned_cart")
        #expect(messages.map(\.0) == ["cart_reminder", "cart_discount"])
        #expect(messages.map(\.1) == [F.time("10h"), F.time("33h")])
        // Buying is the journey's goal: that cart's instance ended converted, the other completed without.
        let instances = try engine.store.journeyInstances(customerId: "u1").filter { $0.journey == "abandoned_cart" }
        #expect(instances.first { $0.key == "bought" }.map { ($0.converted, $0.status) } ?? (false, "") == (true, "completed"))
        #expect(instances.first { $0.key == "big" }?.converted == false)
    }

    @Test("review request: asked after 7 days, reminded when no review comes, not when one does")
    func reviewRequest() throws {
        let engine = try engine()
        _ = try engine.process(F.order("o1", total: 30, at: "9h"))
        _ = try engine.process(F.order("o2", total: 30, at: "10h"))
        try engine.advance(to: F.time("8d"))
        _ = try engine.process(F.track("Product Reviewed", ["order_id": "o2", "rating": 5], at: "8d"))
        try engine.advance(to: F.time("20d"))
        #expect(try sent(engine, "review_request").map(\.0) == ["review_request", "review_request", "review_reminder"])
        let instances = try engine.store.journeyInstances(customerId: "u1").filter { $0.journey == "review_request" }
        #expect(instances.first { $0.key == "o2" }?.converted == true)
    }

    @Test("win-back: the nightly sweep finds an at-risk customer; the offer follows a week later")
    func winBack() throws {
        let engine = try engine()
        _ = try engine.process(F.order("o1", total: 30, at: "9h"))
        try engine.advance(to: F.time("80d"))
        let messages = try sent(engine, "win_back")
        #expect(messages.map(\.0) == ["we_miss_you", "come_back_offer"])
        // The sweep runs at 03:00 Madrid, inside quiet hours: the note waits for 08:00 Madrid (07:00 UTC).
        let day = F.time("1d") - F.time()
        let note = try #require(messages.first)
        let hourOfDay: Int64 = (note.1 - F.time()) % day / 3_600_000
        #expect(hourOfDay == 7)
    }

    @Test("win-back: none for a customer who ordered again before turning at-risk")
    func noWinBackWhenOrdering() throws {
        let engine = try engine()
        _ = try engine.process(F.order("o1", total: 30, at: "9h"))
        _ = try engine.process(F.order("o2", total: 30, at: "50d"))
        try engine.advance(to: F.time("80d"))
        #expect(try sent(engine, "win_back").isEmpty)
        #expect(try engine.store.journeyInstances(customerId: "u1").filter { $0.journey == "win_back" }.isEmpty)
    }

    @Test("gold welcome: tagged VIP at once, perks two days later")
    func goldWelcome() throws {
        let engine = try engine()
        _ = try engine.process(F.order("o1", total: 600, at: "10h"))
        try engine.advance(to: F.time("3d"))
        #expect(try sent(engine, "gold_welcome").map(\.1) == [F.time("58h")])
        let customer = try #require(try engine.store.customer(id: "u1"))
        #expect(customer.traits.contains("\"vip\""))
    }

    @Test("gold welcome: none for a customer whose spend stays under gold")
    func noGoldWelcomeUnderGold() throws {
        let engine = try engine()
        _ = try engine.process(F.order("o1", total: 200, at: "10h"))
        try engine.advance(to: F.time("3d"))
        #expect(try sent(engine, "gold_welcome").isEmpty)
        let customer = try #require(try engine.store.customer(id: "u1"))
        #expect(!customer.traits.contains("\"vip\""))
    }
}
