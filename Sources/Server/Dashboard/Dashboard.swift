import Engine
import Foundation
import Reports
import Store

/// The live dashboard at `/`: events per second, decisions, segment sizes,
/// revenue by category, product, region and consultant, SKUs competitors
/// undercut, top rules, low stock and journey funnels, as one
/// HTML page with SVG charts drawn here; it reloads itself every 5 seconds.
struct Dashboard {
    let engine: ShardedEngine
    /// The shards' figures (``CrescentServer/readings()``).
    let readings: EngineReadings
    let rate: EventRate

    func html() throws -> String {
        let store = engine.store
        let reports = Reports(store: store)
        let perSecond = rate.lastMinute()
        let current = perSecond.suffix(10).reduce(0, +) / Double(max(1, min(10, perSecond.count)))
        let decisions: [(label: String, value: Double)] = try reports.run(.fraud, ReportQuery())[0].rows.map { ($0[0].display, $0[1].number ?? 0) }
        let segments = try store.segmentSizes()
        let declared = readings.ruleIds.filter { $0.hasPrefix("segment:") }.map { String($0.dropFirst(8)) }
        let segmentBars: [(label: String, value: Double)] = declared.map { ($0, Double(segments[$0] ?? 0)) }.sorted { $0.value > $1.value }
        let revenue: [(label: String, value: Double)] = try reports.run(.sales, ReportQuery(by: "category"))[0].rows.map { ($0[0].display, $0[3].number ?? 0) }
        let stats = readings.stats
        let hits: [(label: String, value: Double)] = stats.map { (label: $0.key, value: Double($0.value.hits)) }
        let topRules = hits.filter { $0.value > 0 }.sorted { a, b in a.value != b.value ? a.value > b.value : a.label < b.label }
        let inventory = try reports.run(.inventory, ReportQuery())[0]
        let lowStock: [(label: String, value: Double)] = inventory.rows.filter { ["out of stock", "high"].contains($0[6].display) }.prefix(10)
            .map { ("\($0[0].display) \($0[1].display)", $0[3].number ?? 0) }
        let products = try reports.run(.sales, ReportQuery(by: "product"))[0]
        let topProducts: [(label: String, value: Double)] = products.rows.prefix(10).map { row in
            let (sku, name) = (row[0].display, row[1].display)
            return (name.isEmpty ? sku : name.contains(sku) ? name : "\(sku) \(name)", row[4].number ?? 0)
        }
        let byRegion: [(label: String, value: Double)] = try reports.run(.consultants, ReportQuery(by: "region"))[0].rows
            .map { ($0[0].display, $0[3].number ?? 0) }
        let byConsultant: [(label: String, value: Double)] = try reports.run(.consultants, ReportQuery())[0].rows.prefix(10)
            .map { ($0[0].display, $0[4].number ?? 0) }
        // The SKUs competitors undercut most, by how many percent.
        let undercut: [(label: String, value: Double)] = try reports.run(.competitors, ReportQuery())[0].rows
            .filter { ($0[7].number ?? 0) < 0 }.prefix(10)
            .map { ("\($0[0].display) \($0[5].display)", (-($0[7].number ?? 0) * 100).rounded()) }
        let funnels = try reports.run(.journeys, ReportQuery())[0].rows
        var journeyCharts = ""
        var journeyNames: [String] = []
        for row in funnels where !journeyNames.contains(row[0].display) { journeyNames.append(row[0].display) }
        for journey in journeyNames {
            let steps: [(label: String, value: Double)] = funnels.filter { $0[0].display == journey }.map { ($0[1].display, $0[2].number ?? 0) }
            journeyCharts += "<h3>\(SVGChart.escape(journey))</h3>" + SVGChart.bars("funnel-\(journey)", steps)
        }
        let counts = try (events: store.count("events"), customers: store.count("customers"), orders: store.count("orders"))
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
            <title>Crescent</title>
            <style>
              body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2433; background: #f6f7fb; }
              h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 0 0 10px; } h3 { font-size: 13px; margin: 10px 0 4px; }
              .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
              section { background: #fff; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
              .kpis { display: flex; gap: 28px; margin: 12px 0 18px; } .kpi b { display: block; font-size: 26px; }
              .chart rect { fill: #5b6cf0; } .chart .label, .chart .value { font-size: 12px; fill: #1d2433; }
              .spark polyline { stroke: #5b6cf0; } .empty { color: #888; } small { color: #667; }
            </style></head><body>
            <h1>Crescent</h1><small>rule set \(readings.version) · refreshed \(Timestamps.iso(Int64(Date().timeIntervalSince1970 * 1000)))</small>
            <div class="kpis">
              <div class="kpi" id="events-per-second" data-value="\(SVGChart.number((current * 10).rounded() / 10))"><b>\(SVGChart.number((current * 10).rounded() / 10))</b>events/s (last 10 s)</div>
              <div class="kpi" id="events-total" data-value="\(counts.events)"><b>\(counts.events)</b>events stored</div>
              <div class="kpi" id="customers-total" data-value="\(counts.customers)"><b>\(counts.customers)</b>customers</div>
              <div class="kpi" id="orders-total" data-value="\(counts.orders)"><b>\(counts.orders)</b>orders</div>
            </div>
            <div class="grid">
            <section><h2>Events per second, last minute</h2>\(SVGChart.sparkline("events-rate", perSecond))</section>
            <section><h2>Decisions</h2>\(SVGChart.bars("decisions", decisions))</section>
            <section><h2>Segment sizes</h2>\(SVGChart.bars("segments", segmentBars))</section>
            <section><h2>Revenue by category</h2>\(SVGChart.bars("revenue", revenue))</section>
            <section><h2>Top products by revenue</h2>\(SVGChart.bars("top-products", topProducts))</section>
            <section><h2>Revenue by region</h2>\(SVGChart.bars("revenue-by-region", byRegion))</section>
            <section><h2>Revenue by consultant</h2>\(SVGChart.bars("revenue-by-consultant", byConsultant))</section>
            <section><h2>Undercut by competitors (their cheapest price, % below ours)</h2>\(SVGChart.bars("undercut", undercut, unit: "%"))</section>
            <section><h2>Top rules (hits since start)</h2>\(SVGChart.bars("rules", Array(topRules.prefix(10))))</section>
            <section><h2>Low stock</h2>\(SVGChart.bars("low-stock", Array(lowStock), unit: " left"))</section>
            <section><h2>Journey funnels</h2>\(journeyCharts.isEmpty ? "<p class=\"empty\">no journey has run yet</p>" : journeyCharts)</section>
            </div></body></html>
            """
    }
}

/// Events accepted per second over the last minute (wall clock).
final class EventRate: @unchecked Sendable {
    private let lock = NSLock()
    private var buckets: [Int64: Double] = [:]

    func add(_ count: Int, at time: Date = Date()) {
        let second = Int64(time.timeIntervalSince1970)
        lock.withLock {
            buckets[second, default: 0] += Double(count)
            if buckets.count > 120 { buckets = buckets.filter { $0.key > second - 60 } }
        }
    }

    /// Sixty values, oldest first, ending with the second before now.
    func lastMinute(now: Date = Date()) -> [Double] {
        let current = Int64(now.timeIntervalSince1970)
        return lock.withLock { (1...60).reversed().map { buckets[current - Int64($0)] ?? 0 } }
    }
}
