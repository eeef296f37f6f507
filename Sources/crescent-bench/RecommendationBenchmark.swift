import Engine
import EventGenerator
import Foundation
import Store

/// Offline quality of recommendations: generated traffic split in time
/// (the first 80% of the span trains, the rest tests); for every known
/// customer who orders in the test span, a hit when any of the ten
/// recommended products is among what they then bought. Beside it, the
/// baseline: the ten best sellers they do not own yet.
enum RecommendationBenchmark {
    static func run(events count: Int) throws {
        let root = BenchFiles.root
        let file = try BenchFiles.events(count).file
        var messages: [(time: Int64, json: JSONValue)] = []
        for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") {
            guard let json = try? JSONValue.parse(bytes: Array(line.utf8)) else { continue }
            let items: [JSONValue]
            if case .array(let batch)? = json["batch"] { items = batch } else { items = [json] }
            for item in items {
                guard let event = try? Normalizer.normalize(item, now: 0) else { continue }
                messages.append((event.timestamp, item))
            }
        }
        let times = messages.map(\.time).sorted()
        let split = times[times.count * 8 / 10]
        let engine = try Engine(store: try CrescentStore(), rulesDirectory: root.appendingPathComponent("rules").path,
                                pluginsDirectory: root.appendingPathComponent("plugins").path)
        var known: Set<String> = []
        var bought: [String: Set<String>] = [:]
        for message in messages {
            guard let event = try? Normalizer.normalize(message.json, now: message.time) else { continue }
            if message.time < split {
                _ = try engine.process(event)
                if let user = event.userId { known.insert(user) }
            } else if event.name == "Order Completed", let user = event.userId, case .array(let products)? = event.properties["products"] {
                for case .object(let p) in products {
                    if let sku = p["sku"]?.stringValue ?? p["product_id"]?.stringValue { bought[user, default: []].insert(sku) }
                }
            }
        }
        try engine.flush()
        let popular = try engine.store.itemPopularity().filter { $0.0 == "all" }.sorted { $0.2 != $1.2 ? $0.2 > $1.2 : $0.1 < $1.1 }.map(\.1)
        var users = 0, hits = 0, baselineHits = 0, withoutConsent = 0
        for (user, skus) in bought where known.contains(user) {
            let recommended = try engine.recommendations(for: user, n: 10)
            // Only customers who consent to personalization get the item-to-item list.
            guard recommended.personalized else { withoutConsent += 1; continue }
            users += 1
            if recommended.items.contains(where: { skus.contains($0.sku) }) { hits += 1 }
            let owned = Set(try engine.store.purchasedSkus(customerId: user, limit: 1000))
            if popular.filter({ !owned.contains($0) }).prefix(10).contains(where: { skus.contains($0) }) { baselineHits += 1 }
        }
        print("Recommendations, hit-rate@10 on a time split of \(messages.count) generated events (train before \(Timestamps.iso(split))):")
        print(String(format: "  item-to-item + popularity fill  %5.1f%%  (%d of %d customers who ordered in the test span)",
                     100 * Double(hits) / Double(max(1, users)), hits, users))
        print(String(format: "  best sellers not yet owned      %5.1f%%", 100 * Double(baselineHits) / Double(max(1, users))))
        print("  (\(withoutConsent) customers without consent to personalization left out: they are shown the best sellers)")
    }
}
