import Foundation
import Store

/// What the market does around each product, for rules: views and units
/// bought per hour over the last 8 days (trending: the last 24 hours
/// against the product's own daily average over the 7 days before), and the
/// latest price each competitor was seen at (`Competitor Price Observed`,
/// stored, so it survives restarts). Shared by every shard.
final class MarketSignals: @unchecked Sendable {
    private let lock = NSLock()
    /// sku → hour index → (views, units)
    private var hourly: [String: [Int64: (views: Double, units: Double)]] = [:]
    /// sku → competitor → (price, at)
    private var prices: [String: [String: (price: Double, at: Int64)]] = [:]
    private static let hour: Int64 = 3_600_000
    private static let keptHours: Int64 = 8 * 24

    init(store: CrescentStore) throws {
        for row in try store.competitorPrices() { prices[row.sku, default: [:]][row.competitor] = (row.price, row.at) }
    }

    func recordView(_ sku: String, at time: Int64) { add(sku, at: time, views: 1, units: 0) }
    func recordPurchase(_ sku: String, units: Int, at time: Int64) { add(sku, at: time, views: 0, units: Double(max(1, units))) }

    private func add(_ sku: String, at time: Int64, views: Double, units: Double) {
        let bucket = time / Self.hour
        lock.withLock {
            // Mutated in place: reading the series out and storing it back
            // copied the whole dictionary on every view.
            hourly[sku, default: [:]][bucket, default: (0, 0)].views += views
            hourly[sku]![bucket]!.units += units
            if hourly[sku]!.count > Int(Self.keptHours) + 24 {
                hourly[sku] = hourly[sku]!.filter { $0.key > bucket - Self.keptHours }
            }
        }
    }

    /// Products whose last 24 hours beat their own daily average of the 7
    /// days before, best first. Score: (views + 5 × units in the last day + 1)
    /// ÷ (the same per day before + 1).
    func trending(now: Int64, limit: Int) -> [(sku: String, score: Double, views: Double, units: Double)] {
        let current = now / Self.hour
        let snapshot = lock.withLock { hourly }
        var result: [(String, Double, Double, Double)] = []
        for (sku, series) in snapshot {
            var recent = (views: 0.0, units: 0.0), before = (views: 0.0, units: 0.0)
            for (bucket, counts) in series {
                let age = current - bucket
                if age >= 0 && age < 24 { recent.views += counts.views; recent.units += counts.units }
                else if age >= 24 && age < Self.keptHours { before.views += counts.views; before.units += counts.units }
            }
            let activity = recent.views + 5 * recent.units
            let baseline = (before.views + 5 * before.units) / 7
            let score = (activity + 1) / (baseline + 1)
            if activity > 0 && score > 1 { result.append((sku, (score * 100).rounded() / 100, recent.views, recent.units)) }
        }
        return result.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(limit).map { ($0.0, $0.1, $0.2, $0.3) }
    }

    /// Records a competitor's price; false when an observation newer than this one is already known.
    func observe(sku: String, competitor: String, price: Double, at time: Int64) -> Bool {
        lock.withLock {
            if let known = prices[sku]?[competitor], known.at > time { return false }
            prices[sku, default: [:]][competitor] = (price, time)
            return true
        }
    }

    /// The latest price of each competitor for a product, cheapest first.
    func competitorPrices(_ sku: String) -> [(competitor: String, price: Double, at: Int64)] {
        lock.withLock {
            (prices[sku] ?? [:]).map { ($0.key, $0.value.price, $0.value.at) }
                .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        }
    }
}
