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

/// Recommendations for one customer, and whether they are personal.
public struct Recommendations: Sendable, Equatable {
    public var items: [Recommendation]
    /// False when the customer has not consented to personalization: the
    /// items are then the shop's best sellers, the same for everyone.
    public var personalized: Bool
}

extension CustomerState {
    /// Whether the customer's history and traits may shape what they are
    /// shown: their `personalization` consent, or, when they never answered
    /// that purpose, their `marketing` consent. No answer at all is a no.
    var consentsToPersonalization: Bool {
        consent["personalization"] ?? consent["marketing"] ?? false
    }
}

extension EngineState {
    /// Recommendations for a customer who consents to personalization
    /// (``CustomerState/consentsToPersonalization``): items that co-occur
    /// with what they viewed (recent ones weigh more) and bought, normalized
    /// by both items' popularity (so best sellers do not win by default);
    /// then what is popular in their segments and demographic (cold start);
    /// then what is popular overall. Items they already bought are left out.
    /// Without consent: what is popular overall, and nothing of theirs is read.
    func recommend(_ customerId: String, n: Int) throws -> Recommendations {
        guard n > 0 else { return Recommendations(items: [], personalized: false) }
        let customer = try self.customer(customerId)
        guard customer.consentsToPersonalization else {
            let items = shared.items.popular("all", limit: n).map { Recommendation(sku: $0.sku, score: 0, reason: "popular") }
            return Recommendations(items: Array(items.prefix(n)), personalized: false)
        }
        if customer.storedPurchases == nil {
            customer.storedPurchases = mayBeStored(customer: customerId) ? try store.purchasedSkus(customerId: customerId) : []
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
        return Recommendations(items: result, personalized: true)
    }
}

extension Engine {
    /// Recommendations for a customer (see ``EngineState/recommend(_:n:)``).
    public func recommendations(for customerId: String, n: Int) throws -> Recommendations {
        try state.recommend(customerId, n: n)
    }
}

extension ShardedEngine {
    /// Recommendations for a customer, from the shard that holds them.
    public func recommendations(for customerId: String, n: Int) throws -> Recommendations {
        try onShard(shard(of: customerId)) { try $0.recommendations(for: customerId, n: n) }
    }
}
