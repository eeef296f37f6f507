/// Everything one group commit writes, in one transaction.
///
/// The engine fills a batch while it processes events and hands it to
/// ``CrescentStore/commit(_:)``; nothing in it is visible, or acknowledged,
/// before that commit returns.
public struct WriteBatch: Sendable {
    public var events: [EventRow] = []
    public var customers: [String: CustomerRow] = [:]
    public var identities: [(alias: String, customerId: String)] = []
    /// Customer `from` merged into customer `into` (an anonymous history joining a user).
    public var merges: [(from: String, into: String)] = []
    /// Of those, the customers first seen in this batch (`from` → `into`):
    /// nothing of theirs is stored yet, so their rows in this batch are
    /// written under the customer they merged into, and no stored row moves.
    public var mergedInBatch: [String: String] = [:]
    public var orders: [String: OrderRow] = [:]
    public var products: [String: ProductRow] = [:]
    public var inventory: [(sku: String, region: String, quantity: Int, at: Int64)] = []
    public var carts: [String: (customerId: String?, value: Double, items: Int, at: Int64)] = [:]
    public var wishlist: [(customerId: String, sku: String, price: Double?, at: Int64)] = []
    public var reviews: [(messageId: String, customerId: String?, sku: String?, rating: Double?, text: String?, at: Int64)] = []
    public var segmentChanges: [SegmentChangeRow] = []
    /// Would-be entries and exits of shadow-mode segments (no history, no events).
    public var shadowSegmentChanges: [SegmentChangeRow] = []
    public var counterHits: [(counter: String, key: String, at: Int64, value: String?)] = []
    /// Counter hits past their counter's window, which no count reads again: deleted.
    public var counterPrunes: [(counter: String, before: Int64)] = []
    public var listAdditions: [(list: String, value: String, source: String, at: Int64)] = []
    /// Entries a rule file declared and no longer does (an entry added through the admin API stays).
    public var listRemovals: [(list: String, value: String)] = []
    public var decisions: [DecisionRow] = []
    /// Promotion fires (and holdouts, as `holdout:NAME`), with the promotion's `key` when it has one.
    public var promotionFires: [(promotion: String, customerId: String, at: Int64, key: String?)] = []
    /// Item graph changes to add: (a, b, weight) and (scope, sku, units).
    public var itemPairDeltas: [(String, String, Double)] = []
    public var itemPopularityDeltas: [(String, String, Double)] = []
    /// Competitor prices seen: (sku, competitor, price, at).
    public var competitorPrices: [(String, String, Double, Int64)] = []
    public var outbox: [OutboxRow] = []
    public var ruleset: (version: String, sources: String, rules: String, at: Int64)?
    /// Journey instances created or changed (the latest state of each).
    public var journeyInstances: [Int64: JourneyInstanceRow] = [:]
    /// Ids of instances not yet in the store (inserted; the others are updated).
    public var newJourneyInstances: Set<Int64> = []
    /// (journey, step, metric) → how much to add to the step's count.
    public var journeyStepCounts: [JourneyStepKey: Int] = [:]
    public var journeyDefinitions: [(version: String, journey: String, steps: String)] = []
    public var scheduleRuns: [(schedule: String, shard: Int, at: Int64)] = []

    public init() {}

    /// True when the batch holds nothing to write.
    public var isEmpty: Bool {
        events.isEmpty && customers.isEmpty && identities.isEmpty && orders.isEmpty && products.isEmpty
            && inventory.isEmpty && carts.isEmpty && wishlist.isEmpty && reviews.isEmpty && segmentChanges.isEmpty && shadowSegmentChanges.isEmpty
            && counterHits.isEmpty && listAdditions.isEmpty && listRemovals.isEmpty && decisions.isEmpty
            && promotionFires.isEmpty && itemPairDeltas.isEmpty && itemPopularityDeltas.isEmpty && competitorPrices.isEmpty && outbox.isEmpty && ruleset == nil && merges.isEmpty
            && journeyInstances.isEmpty && journeyStepCounts.isEmpty && journeyDefinitions.isEmpty && scheduleRuns.isEmpty
    }
}
