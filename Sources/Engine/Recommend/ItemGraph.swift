import Foundation
import Store

/// Item-to-item co-occurrence and popularity, maintained as events arrive
/// and shared by every shard: products bought in the same order (weight 1
/// per pair) or viewed one after the other by a customer (weight 0.25 for
/// each of the last three viewed), and units bought per scope (`all`,
/// `segment:<name>`, `trait:<key>=<value>` for the demographic traits).
/// Changes are kept as deltas until a batch takes them to the store.
final class ItemGraph: @unchecked Sendable {
    private let lock = NSLock()
    private var pairs: [String: [String: Double]] = [:]
    private var popularity: [String: [String: Double]] = [:]
    /// Changes not yet taken by a batch, keyed by (a, b) and (scope, sku).
    private var pendingPairs: [KeyPair: Double] = [:]
    private var pendingPopularity: [KeyPair: Double] = [:]

    private struct KeyPair: Hashable {
        let first: String
        let second: String
    }
    /// Traits that make a demographic scope for cold-start popularity.
    static let demographicTraits = ["gender", "age_group", "country"]
    static let viewWeight = 0.25

    init(store: CrescentStore) throws {
        for (a, b, weight) in try store.itemPairs() { pairs[a, default: [:]][b] = weight }
        for (scope, sku, count) in try store.itemPopularity() { popularity[scope, default: [:]][sku] = count }
    }

    /// An order's products: every pair co-occurs; each unit counts towards popularity in the customer's scopes.
    func recordOrder(_ items: [(sku: String, quantity: Int)], scopes: [String]) {
        let skus = Array(Set(items.map(\.sku))).sorted()
        lock.withLock {
            for a in skus { for b in skus where a != b { addPair(a, b, 1) } }
            for item in items {
                for scope in ["all"] + scopes { addPopularity(scope, item.sku, Double(max(1, item.quantity))) }
            }
        }
    }

    /// A product viewed after `previous` (the customer's recently viewed, newest first).
    func recordView(_ sku: String, previous: [String]) {
        lock.withLock {
            for other in previous.prefix(3) where other != sku {
                addPair(sku, other, Self.viewWeight)
                addPair(other, sku, Self.viewWeight)
            }
        }
    }

    private func addPair(_ a: String, _ b: String, _ weight: Double) {
        pairs[a, default: [:]][b, default: 0] += weight
        pendingPairs[KeyPair(first: a, second: b), default: 0] += weight
    }

    private func addPopularity(_ scope: String, _ sku: String, _ count: Double) {
        popularity[scope, default: [:]][sku, default: 0] += count
        pendingPopularity[KeyPair(first: scope, second: sku), default: 0] += count
    }

    /// Neighbours of an item with their weights.
    func neighbours(_ sku: String) -> [String: Double] { lock.withLock { pairs[sku] ?? [:] } }

    /// The most popular items of a scope, best first.
    func popular(_ scope: String, limit: Int) -> [(sku: String, count: Double)] {
        lock.withLock {
            (popularity[scope] ?? [:]).sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .prefix(limit).map { ($0.key, $0.value) }
        }
    }

    /// How often an item was bought (all scopes), for normalizing co-occurrence.
    func count(_ sku: String) -> Double { lock.withLock { popularity["all"]?[sku] ?? 0 } }

    /// Takes the changes made since the last call, for the store.
    func takeDeltas() -> (pairs: [(String, String, Double)], popularity: [(String, String, Double)]) {
        lock.withLock {
            let p = pendingPairs.map { ($0.key.first, $0.key.second, $0.value) }
            let q = pendingPopularity.map { ($0.key.first, $0.key.second, $0.value) }
            pendingPairs.removeAll(keepingCapacity: true)
            pendingPopularity.removeAll(keepingCapacity: true)
            return (p, q)
        }
    }
}
