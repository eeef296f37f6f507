import Engine
import Foundation
import Store
import TestSupport
import Testing

@Suite("Recommendations")
struct RecommenderTests {
    typealias F = EngineFixtures

    static func order(_ id: String, _ user: String, _ skus: [String], at: String) -> Event {
        F.track("Order Completed", user: user, ["order_id": .string(id), "total": .double(Double(skus.count * 10)),
                                               "products": .array(skus.map { .object(["sku": .string($0), "price": 10, "quantity": 1]) })],
                at: at)
    }

    static let probe = """
        segment "lipstick_fans" { when = function(c) return c.orders_count >= 1 end }
        promotion "suggest" {
          on = "Probe", marketing = false,
          run = function(e, c, act) act:alert{ channel = "test", message = table.concat(c:recommend{ n = 3 }, ",") } end,
        }
        """

    @Test("bought together: the partner of what a customer bought or viewed comes first, never what they own")
    func coOccurrence() throws {
        let engine = try F.engine(rules: ["r.lua": Self.probe])
        // Lipstick and liner are bought together again and again; mascara is a best seller on its own.
        for i in 0..<6 { _ = try engine.process(Self.order("t\(i)", "u\(i)", ["LIPSTICK", "LINER"], at: "\(i)m")) }
        for i in 0..<10 { _ = try engine.process(Self.order("m\(i)", "m\(i)", ["MASCARA"], at: "\(10 + i)m")) }
        _ = try engine.process(F.identify("ana", traits: ["marketing_consent": true], at: "59m"))
        _ = try engine.process(Self.order("a1", "ana", ["LIPSTICK"], at: "1h"))
        let recs = try engine.recommendations(for: "ana", n: 3).items
        #expect(recs.first?.sku == "LINER")
        #expect(recs.first?.reason == "bought or viewed with LIPSTICK")
        #expect(!recs.map(\.sku).contains("LIPSTICK"), "not what she already bought")
        #expect(recs.map(\.sku).contains("MASCARA"), "filled from popularity")
        // Rules see the same through c:recommend{}.
        let outcome = try engine.process(F.track("Probe", user: "ana", at: "2h"))
        #expect(outcome.actions.first?.payload["message"]?.stringValue?.hasPrefix("LINER") == true)
    }

    @Test("no personalizing without consent: best sellers for everyone; a no to personalization outweighs a yes to marketing")
    func consent() throws {
        let engine = try F.engine(rules: ["r.lua": Self.probe])
        for i in 0..<6 { _ = try engine.process(Self.order("t\(i)", "u\(i)", ["LIPSTICK", "LINER"], at: "\(i)m")) }
        for i in 0..<10 { _ = try engine.process(Self.order("m\(i)", "m\(i)", ["MASCARA"], at: "\(10 + i)m")) }
        _ = try engine.process(F.identify("ana", traits: ["gender": "f"], at: "59m"))
        _ = try engine.process(Self.order("a1", "ana", ["LIPSTICK"], at: "1h"))
        let unasked = try engine.recommendations(for: "ana", n: 3)
        #expect(!unasked.personalized)
        #expect(unasked.items.map(\.sku) == ["MASCARA", "LIPSTICK", "LINER"], "best sellers, hers included: nothing of hers is read")
        #expect(unasked.items.allSatisfy { $0.reason == "popular" })
        #expect(unasked.items.map(\.sku) == (try engine.recommendations(for: "m1", n: 3)).items.map(\.sku), "the same for everyone")
        // Rules get the same list: what the shop shows them is not shaped by their history either.
        let probe = try engine.process(F.track("Probe", user: "ana", at: "2h"))
        #expect(probe.actions.first?.payload["message"]?.stringValue == unasked.items.map(\.sku).joined(separator: ","))
        _ = try engine.process(F.identify("ana", traits: ["marketing_consent": true, "consent": ["personalization": false]], at: "3h"))
        #expect(try !engine.recommendations(for: "ana", n: 3).personalized, "personalization's own answer comes first")
        _ = try engine.process(F.identify("ana", traits: ["consent": ["personalization": true]], at: "4h"))
        let consented = try engine.recommendations(for: "ana", n: 3)
        #expect(consented.personalized && consented.items.first?.sku == "LINER")
    }

    @Test("views count: a product viewed right after another is suggested to someone viewing the first")
    func views() throws {
        let engine = try F.engine(rules: ["r.lua": Self.probe])
        for i in 0..<4 {
            _ = try engine.process(F.track("Product Viewed", user: "v\(i)", ["product_id": "SERUM"], at: "\(i)m"))
            _ = try engine.process(F.track("Product Viewed", user: "v\(i)", ["product_id": "CREAM"], at: "\(i)m"))
        }
        _ = try engine.process(F.identify("bo", traits: ["consent": ["personalization": true]], at: "59m"))
        _ = try engine.process(F.track("Product Viewed", user: "bo", ["product_id": "SERUM"], at: "1h"))
        #expect(try engine.recommendations(for: "bo", n: 1).items.first?.sku == "CREAM")
    }

    @Test("cold start: a new customer gets what is popular in their segment and demographic, then overall")
    func coldStart() throws {
        let engine = try F.engine(rules: ["r.lua": Self.probe])
        for i in 0..<3 {
            _ = try engine.process(F.identify("f\(i)", traits: ["gender": "f"], at: "0s"))
            _ = try engine.process(Self.order("f\(i)", "f\(i)", ["PERFUME_F"], at: "\(i)m"))
        }
        for i in 0..<5 { _ = try engine.process(Self.order("g\(i)", "g\(i)", ["SOAP"], at: "\(10 + i)m")) }
        _ = try engine.process(F.identify("new", traits: ["gender": "F", "marketing_consent": true], at: "1h"))
        let recs = try engine.recommendations(for: "new", n: 2).items
        #expect(recs.map(\.sku) == ["PERFUME_F", "SOAP"])
        #expect(recs.first?.reason == "popular in trait gender=f")
        #expect(recs.last?.reason == "popular")
    }

    @Test("the graph is kept in the store: a restarted engine recommends the same")
    func durable() throws {
        let store = try CrescentStore()
        let first = try F.engine(rules: ["r.lua": Self.probe], store: store)
        for i in 0..<4 { _ = try first.process(Self.order("t\(i)", "u\(i)", ["A", "B"], at: "\(i)m")) }
        _ = try first.process(F.identify("zoe", traits: ["marketing_consent": true], at: "59m"))
        _ = try first.process(Self.order("x", "zoe", ["A"], at: "1h"))
        try first.flush()
        let before = try first.recommendations(for: "zoe", n: 3)
        let second = try F.engine(rules: ["r.lua": Self.probe], store: store)
        #expect(try second.recommendations(for: "zoe", n: 3) == before)
        #expect(before.items.first?.sku == "B")
    }
}
