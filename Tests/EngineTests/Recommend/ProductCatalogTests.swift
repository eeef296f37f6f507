import Engine
import Foundation
import GRDB
import Store
import TestSupport
import Testing

@Suite("The shop's catalog for rules: catalog.product and catalog.category")
struct ProductCatalogTests {
    typealias F = EngineFixtures

    /// A rule that logs what `catalog` answers for the probe's sku and category.
    static let probe = """
        promotion "probe" {
          on = "Probe", marketing = false,
          when = function(e)
            local p = catalog.product(e.properties.sku or "")
            log("product " .. (p and (p.name .. "/" .. p.category .. "/" .. p.price) or "nil"))
            local k = catalog.category(e.properties.category or "")
            log("category " .. (k and (k.products .. " " .. k.min_price .. "-" .. k.max_price .. " avg " .. k.average_price) or "nil"))
            return false
          end,
          run = function() end,
        }
        """

    @Test("products learned from views and order items, the latest price kept, a recategorised product moved, across a restart")
    func learnedAndKept() throws {
        let store = try CrescentStore()
        let first = try F.engine(rules: ["probe.lua": Self.probe], store: store)
        _ = try first.process(F.track("Product Viewed", user: "a", ["sku": "S1", "name": "Day Cream", "category": "skincare", "price": 20], at: "0s"))
        _ = try first.process(F.track("Product Viewed", user: "b", ["sku": "S2", "name": "Lip Ink", "category": "skincare", "price": 12], at: "1m"))
        _ = try first.process(F.track("Order Completed", user: "c", ["order_id": "o1", "total": 50,
            "products": [["sku": "S3", "name": "Night Cream", "category": "skincare", "price": 40, "quantity": 1]]], at: "2m"))
        // S2 is really makeup; a later view says so, without a name (the name is kept).
        _ = try first.process(F.track("Product Viewed", user: "d", ["sku": "S2", "category": "makeup", "price": 14], at: "3m"))
        // A competitor's launch describes their product, not ours.
        _ = try first.process(F.track("Competitor Product Launched", user: "watch", ["sku": "X1", "name": "Serum", "category": "skincare", "price": 1], at: "4m"))
        _ = try first.process(F.track("Probe", user: "ops", ["sku": "S2", "category": "skincare"], at: "5m"))
        #expect(first.log.contains("product Lip Ink/makeup/14.0"))
        #expect(first.log.contains("category 2 20.0-40.0 avg 30.0"))
        _ = try first.process(F.track("Probe", user: "ops", ["sku": "X1", "category": "menswear"], at: "6m"))
        #expect(first.log.contains("product nil") && first.log.contains("category nil"))
        try first.flush()

        let second = try F.engine(rules: ["probe.lua": Self.probe], store: store)
        _ = try second.process(F.track("Probe", user: "ops", ["sku": "S3", "category": "skincare"], at: "7m"))
        #expect(second.log.contains("product Night Cream/skincare/40.0"))
        #expect(second.log.contains("category 2 20.0-40.0 avg 30.0"))
    }

    @Test("the stored catalog keeps what each event of a batch says: a name from a view, a category from the stock feed, no price from it")
    func storedAcrossOneBatch() throws {
        let store = try CrescentStore()
        let engine = try F.engine(rules: ["probe.lua": Self.probe], store: store)
        _ = try engine.process(F.track("Product Viewed", user: "a", ["sku": "S1", "name": "Day Cream", "category": "skincare", "price": 20], at: "0s"))
        _ = try engine.process(F.track("Product Added", user: "a", ["sku": "S1", "price": 20, "quantity": 1, "cart_id": "c1"], at: "1m"))
        _ = try engine.process(F.track("Inventory Updated", user: "feed", ["sku": "S9", "name": "Hair Oil", "category": "haircare",
                                                                            "price": 999, "quantity": 4, "region": "east"], at: "2m"))
        // A feed line with only a count teaches the catalog nothing.
        _ = try engine.process(F.track("Inventory Updated", user: "feed", ["sku": "S8", "quantity": 2, "region": "east"], at: "3m"))
        try engine.flush()
        let stored = try store.read { db in
            try Row.fetchAll(db, sql: "SELECT sku, name, category, price FROM products ORDER BY sku").map {
                "\($0["sku"] as String) \(($0["name"] as String?) ?? "-") \(($0["category"] as String?) ?? "-") \(($0["price"] as Double?).map { "\($0)" } ?? "-")"
            }
        }
        #expect(stored == ["S1 Day Cream skincare 20.0", "S9 Hair Oil haircare -"])
    }
}
