import Foundation
import Store

/// The shop's own products as the events describe them (name, category,
/// brand and price from product properties, the latest value of each kept),
/// for rules: `catalog.product(sku)` and `catalog.category(name)`. Loaded
/// from the store's `products` table at start; shared by every shard.
final class ProductCatalog: @unchecked Sendable {
    /// What the catalog knows of one product.
    struct Product: Equatable {
        var name: String?
        var category: String?
        var brand: String?
        var price: Double?
    }

    /// A category's size and prices (over its products with a price).
    struct CategorySummary: Equatable {
        var products: Int
        var averagePrice: Double?
        var minPrice: Double?
        var maxPrice: Double?
    }

    private let lock = NSLock()
    private var products: [String: Product] = [:]
    /// category → its SKUs
    private var categories: [String: Set<String>] = [:]

    init(store: CrescentStore) throws {
        for row in try store.products() { learn(row) }
    }

    /// Merges what an event says of a product: a field it leaves out keeps its known value.
    func learn(_ row: ProductRow) {
        lock.withLock {
            let known = products[row.sku]
            var product = known ?? Product()
            product.name = row.name ?? product.name
            product.brand = row.brand ?? product.brand
            if let price = row.price, price.isFinite, price >= 0 { product.price = price }
            if let category = row.category, !category.isEmpty, category != product.category {
                if let old = product.category { categories[old]?.remove(row.sku) }
                categories[category, default: []].insert(row.sku)
                product.category = category
            }
            if product != known { products[row.sku] = product }
        }
    }

    func product(_ sku: String) -> Product? { lock.withLock { products[sku] } }

    /// Nil when the shop has no product in that category. The cost grows with the category's size.
    func category(_ name: String) -> CategorySummary? {
        lock.withLock {
            guard let skus = categories[name], !skus.isEmpty else { return nil }
            let prices = skus.compactMap { products[$0]?.price }
            return CategorySummary(products: skus.count,
                                   averagePrice: prices.isEmpty ? nil : prices.reduce(0, +) / Double(prices.count),
                                   minPrice: prices.min(), maxPrice: prices.max())
        }
    }
}
