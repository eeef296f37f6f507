import Foundation
import GRDB

/// The stored item graph behind recommendations (see migration v5).
extension CrescentStore {
    /// Every co-occurring pair with its weight.
    public func itemPairs() throws -> [(String, String, Double)] {
        try read { db in try Row.fetchAll(db, sql: "SELECT a, b, weight FROM item_pairs").map { ($0[0], $0[1], $0[2]) } }
    }

    /// Units bought per scope and SKU.
    public func itemPopularity() throws -> [(String, String, Double)] {
        try read { db in try Row.fetchAll(db, sql: "SELECT scope, sku, count FROM item_popularity").map { ($0[0], $0[1], $0[2]) } }
    }

    /// SKUs a customer bought, newest first (at most `limit`).
    public func purchasedSkus(customerId: String, limit: Int = 50) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: """
                SELECT i.sku FROM order_items i JOIN orders o ON o.id = i.order_id
                WHERE o.customer_id = ? AND i.sku IS NOT NULL AND o.status != 'cancelled'
                GROUP BY i.sku ORDER BY MAX(o.created_at) DESC LIMIT ?
                """, arguments: [customerId, limit])
        }
    }
}

/// The latest price a competitor was seen at for a product.
public struct CompetitorPriceRow: Sendable {
    public var sku: String
    public var competitor: String
    public var price: Double
    public var at: Int64
}

extension CrescentStore {
    /// Every competitor price on record.
    public func competitorPrices() throws -> [CompetitorPriceRow] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT sku, competitor, price, at FROM competitor_prices").map {
                CompetitorPriceRow(sku: $0[0], competitor: $0[1], price: $0[2], at: $0[3])
            }
        }
    }
}

extension CrescentStore {
    /// Every product of the catalog the events described.
    public func products() throws -> [ProductRow] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT sku, name, category, brand, price, updated_at FROM products").map {
                ProductRow(sku: $0[0], name: $0[1], category: $0[2], brand: $0[3], price: $0[4], updatedAt: $0[5] ?? 0)
            }
        }
    }
}
