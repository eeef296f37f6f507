import Engine
import Foundation
import Store
import TestSupport
import Testing

@Suite("Trending products and competitor prices for rules")
struct MarketSignalsTests {
    typealias F = EngineFixtures

    /// A rule that logs what rules see: trending{} and competitor_prices().
    static let probe = """
        promotion "probe" {
          on = "Probe", marketing = false,
          when = function(e)
            local names = {}
            for _, t in ipairs(trending{ n = 3 }) do names[#names + 1] = t.sku .. "=" .. t.score end
            log("trending " .. table.concat(names, ","))
            local prices = {}
            for _, p in ipairs(competitor_prices(e.properties.sku or "")) do prices[#prices + 1] = p.competitor .. ":" .. p.price end
            log("prices " .. table.concat(prices, ","))
            return false
          end,
          run = function() end,
        }
        """

    @Test("a product viewed far more in the last day than in its usual week is trending; a steady one is not")
    func trending() throws {
        let engine = try F.engine(rules: ["probe.lua": Self.probe])
        // STEADY: 10 views a day for 8 days. HOT: 1 a day for a week, then 30 in the last day.
        for day in 0..<8 {
            for i in 0..<10 { _ = try engine.process(F.track("Product Viewed", user: "s\(i)", ["product_id": "STEADY"], at: "\(day * 24)h")) }
            if day < 7 { _ = try engine.process(F.track("Product Viewed", user: "h", ["product_id": "HOT"], at: "\(day * 24 + 1)h")) }
        }
        for i in 0..<30 { _ = try engine.process(F.track("Product Viewed", user: "x\(i)", ["product_id": "HOT"], at: "\(7 * 24 + 2)h")) }
        _ = try engine.process(F.track("Probe", user: "ops", ["sku": "NONE"], at: "\(7 * 24 + 3)h"))
        let line = try #require(engine.log.first { $0.hasPrefix("trending ") })
        #expect(line.hasPrefix("trending HOT="))
        #expect(!line.contains("STEADY"), "steady traffic is not a trend: \(line)")
    }

    @Test("the latest price of each competitor, cheapest first, kept across a restart")
    func competitorPrices() throws {
        let store = try CrescentStore()
        let first = try F.engine(rules: ["probe.lua": Self.probe], store: store)
        _ = try first.process(F.track("Competitor Price Observed", user: "crawler", ["sku": "SKU-1", "competitor": "acme", "price": 30], at: "0s"))
        _ = try first.process(F.track("Competitor Price Observed", user: "crawler", ["sku": "SKU-1", "competitor": "globex", "price": 27.5], at: "1m"))
        _ = try first.process(F.track("Competitor Price Observed", user: "crawler", ["sku": "SKU-1", "competitor": "acme", "price": 25], at: "2m"))
        // An older observation arriving late does not replace a newer one.
        _ = try first.process(F.track("Competitor Price Observed", user: "crawler", ["sku": "SKU-1", "competitor": "acme", "price": 40], at: "1m"))
        _ = try first.process(F.track("Probe", user: "ops", ["sku": "SKU-1"], at: "3m"))
        #expect(first.log.contains("prices acme:25.0,globex:27.5"))
        try first.flush()
        let second = try F.engine(rules: ["probe.lua": Self.probe], store: store)
        _ = try second.process(F.track("Probe", user: "ops", ["sku": "SKU-1"], at: "4m"))
        #expect(second.log.contains("prices acme:25.0,globex:27.5"))
    }
}
