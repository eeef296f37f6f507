import Foundation
import Store

/// One recommended product and why.
public struct Recommendation: Sendable, Equatable, Codable {
    public var sku: String
    public var score: Double
    public var reason: String
}

extension ItemGraph {
    /// The popularity scopes a customer belongs to: their segments and demographic traits.
    static func scopes(of customer: CustomerState) -> [String] {
        customer.segments.sorted().map { "segment:" + $0 }
            + demographicTraits.compactMap { key in customer.traits[key]?.stringValue.map { "trait:\(key)=\($0.lowercased())" } }
    }
}

extension EngineState {
    /// Recommendations for a customer: items that co-occur with what they
    /// viewed (recent ones weigh more) and bought, normalized by both items'
    /// popularity (so best sellers do not win by default); then what is
    /// popular in their segments and demographic (cold start); then what is
    /// popular overall. Items they already bought are left out.
    func recommend(_ customerId: String, n: Int) throws -> [Recommendation] {
        guard n > 0 else { return [] }
        let customer = try self.customer(customerId)
        if customer.storedPurchases == nil {
            customer.storedPurchases = freshStore ? [] : try store.purchasedSkus(customerId: customerId)
        }
        var purchased = customer.recentPurchases
        for sku in customer.storedPurchases ?? [] where !purchased.contains(sku) { purchased.append(sku) }
        let owned = Set(purchased)
        let graph = shared.items
        var seeds: [(sku: String, weight: Double)] = []
        for (i, sku) in customer.viewed.prefix(10).enumerated() { seeds.append((sku, pow(0.85, Double(i)))) }
        for (i, sku) in purchased.prefix(10).enumerated() { seeds.append((sku, 1.2 * pow(0.85, Double(i)))) }
        var scores: [String: Double] = [:]
        var because: [String: (seed: String, share: Double)] = [:]
        for seed in seeds {
            let seedCount = max(1, graph.count(seed.sku))
            for (other, weight) in graph.neighbours(seed.sku) where !owned.contains(other) {
                let share = seed.weight * weight / (seedCount * max(1, graph.count(other))).squareRoot()
                scores[other, default: 0] += share
                if share > (because[other]?.share ?? 0) { because[other] = (seed.sku, share) }
            }
        }
        var result = scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(n).map {
            Recommendation(sku: $0.key, score: ($0.value * 1000).rounded() / 1000,
                           reason: "bought or viewed with \(because[$0.key]?.seed ?? "?")")
        }
        var taken = Set(result.map(\.sku)).union(owned)
        for scope in ItemGraph.scopes(of: customer) + ["all"] where result.count < n {
            for item in graph.popular(scope, limit: n + taken.count) where result.count < n && !taken.contains(item.sku) {
                taken.insert(item.sku)
                let label = scope == "all" ? "popular" : "popular in " + scope.replacingOccurrences(of: ":", with: " ")
                result.append(Recommendation(sku: item.sku, score: 0, reason: label))
            }
        }
        return result
    }
}

extension Engine {
    /// Recommendations for a customer (see ``EngineState/recommend(_:n:)``).
    public func recommendations(for customerId: String, n: Int) throws -> [Recommendation] {
        try state.recommend(customerId, n: n)
    }
}

extension ShardedEngine {
    /// Recommendations for a customer, from the shard that holds them.
    public func recommendations(for customerId: String, n: Int) throws -> [Recommendation] {
        try onShard(shard(of: customerId)) { try $0.recommendations(for: customerId, n: n) }
    }
}
