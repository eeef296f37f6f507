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
    /// Every SKU and scope seen, by a small number: the graph's dictionaries
    /// hash integers, and a product view hashes each SKU once (it used to hash
    /// SKU strings up to 24 times).
    private var numbers: [String: UInt32] = [:]
    private var names: [String] = []
    private var pairs: [UInt32: [UInt32: Double]] = [:]
    private var popularity: [UInt32: [UInt32: Double]] = [:]
    /// Changes not yet taken by a batch, keyed by (a, b) and (scope, sku).
    private var pendingPairs: [UInt64: Double] = [:]
    private var pendingPopularity: [UInt64: Double] = [:]

    /// Traits that make a demographic scope for cold-start popularity.
    static let demographicTraits = ["gender", "age_group", "country"]
    static let viewWeight = 0.25

    init(store: CrescentStore) throws {
        for (a, b, weight) in try store.itemPairs() { pairs[number(a), default: [:]][number(b)] = weight }
        for (scope, sku, count) in try store.itemPopularity() { popularity[number(scope), default: [:]][number(sku)] = count }
    }

    /// The number of a SKU or scope, given on first sight (under the lock).
    private func number(_ name: String) -> UInt32 {
        if let known = numbers[name] { return known }
        let next = UInt32(names.count)
        numbers[name] = next
        names.append(name)
        return next
    }

    private static func key(_ a: UInt32, _ b: UInt32) -> UInt64 { UInt64(a) << 32 | UInt64(b) }

    /// An order's products: every pair co-occurs; each unit counts towards popularity in the customer's scopes.
    func recordOrder(_ items: [(sku: String, quantity: Int)], scopes: [String]) {
        let skus = Array(Set(items.map(\.sku))).sorted()
        lock.withLock {
            let numbered = skus.map(number)
            for a in numbered { for b in numbered where a != b { addPair(a, b, 1) } }
            let scopeNumbers = (["all"] + scopes).map(number)
            for item in items {
                let sku = number(item.sku)
                for scope in scopeNumbers { addPopularity(scope, sku, Double(max(1, item.quantity))) }
            }
        }
    }

    /// A product viewed after `previous` (the customer's recently viewed, newest first).
    func recordView(_ sku: String, previous: [String]) {
        lock.withLock {
            var viewed: UInt32?
            for other in previous.prefix(3) where other != sku {
                let a = viewed ?? number(sku), b = number(other)
                viewed = a
                addPair(a, b, Self.viewWeight)
                addPair(b, a, Self.viewWeight)
            }
        }
    }

    private func addPair(_ a: UInt32, _ b: UInt32, _ weight: Double) {
        pairs[a, default: [:]][b, default: 0] += weight
        pendingPairs[Self.key(a, b), default: 0] += weight
    }

    private func addPopularity(_ scope: UInt32, _ sku: UInt32, _ count: Double) {
        popularity[scope, default: [:]][sku, default: 0] += count
        pendingPopularity[Self.key(scope, sku), default: 0] += count
    }

    /// Neighbours of an item with their weights.
    func neighbours(_ sku: String) -> [String: Double] {
        lock.withLock {
            guard let number = numbers[sku], let row = pairs[number] else { return [:] }
            return Dictionary(uniqueKeysWithValues: row.map { (names[Int($0.key)], $0.value) })
        }
    }

    /// The most popular items of a scope, best first.
    func popular(_ scope: String, limit: Int) -> [(sku: String, count: Double)] {
        lock.withLock {
            guard let number = numbers[scope], let row = popularity[number] else { return [] }
            return row.map { (sku: names[Int($0.key)], count: $0.value) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.sku < $1.sku }
                .prefix(limit).map { $0 }
        }
    }

    /// How often an item was bought (all scopes), for normalizing co-occurrence.
    func count(_ sku: String) -> Double {
        lock.withLock {
            guard let all = numbers["all"], let number = numbers[sku] else { return 0 }
            return popularity[all]?[number] ?? 0
        }
    }

    /// Takes the changes made since the last call, for the store.
    func takeDeltas() -> (pairs: [(String, String, Double)], popularity: [(String, String, Double)]) {
        lock.withLock {
            let p = pendingPairs.map { (names[Int($0.key >> 32)], names[Int($0.key & 0xFFFF_FFFF)], $0.value) }
            let q = pendingPopularity.map { (names[Int($0.key >> 32)], names[Int($0.key & 0xFFFF_FFFF)], $0.value) }
            pendingPairs.removeAll(keepingCapacity: true)
            pendingPopularity.removeAll(keepingCapacity: true)
            return (p, q)
        }
    }
}
