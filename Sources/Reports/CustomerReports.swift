import Foundation
import GRDB
import Store

/// Acquisition and retention: where customers come from and whether they stay.
extension Reports {
    /// Customers first seen in the period by first-touch source, medium or
    /// campaign: buyers, conversion, repurchase, revenue; ad spend from
    /// `Ad Spend` events (`properties.source|medium|campaign`, `amount`) gives
    /// cost per acquisition (spend ÷ buyers).
    func acquisition(_ db: Database, _ q: ReportQuery, by: String) throws -> ReportTable {
        let field = by == "campaign" ? "name" : by
        let rows = try Row.fetchAll(db, sql: """
            WITH acquired AS (
              SELECT COALESCE(json_extract(first_touch, '$.\(field)'), '(direct)') AS k, COUNT(*) AS customers,
                     SUM(orders_count > 0) AS buyers, SUM(orders_count > 1) AS repeaters, SUM(total_spent) AS revenue
              FROM customers WHERE merged_into IS NULL AND first_seen >= ? AND first_seen < ? GROUP BY k),
            spend AS (
              SELECT json_extract(payload, '$.properties.\(by)') AS k,
                     SUM(CAST(COALESCE(json_extract(payload, '$.properties.amount'), json_extract(payload, '$.properties.cost')) AS REAL)) AS spent
              FROM events WHERE name = 'Ad Spend' AND timestamp >= ? AND timestamp < ? GROUP BY k)
            SELECT a.k, a.customers, a.buyers, a.repeaters, ROUND(a.revenue, 2), s.spent
            FROM acquired a LEFT JOIN spend s ON s.k = a.k ORDER BY a.revenue DESC
            """, arguments: [q.from, q.to, q.from, q.to])
        let table: [[ReportCell]] = rows.map { row in
            let customers = Double(row[1] as Int64), buyers = Double(row[2] as Int64? ?? 0), repeaters = Double(row[3] as Int64? ?? 0)
            let spent = row[5] as Double?
            return [.text(row[0]), .number(customers), .number(buyers), Self.ratio(buyers, customers), Self.ratio(repeaters, buyers),
                    .number(row[4] as Double? ?? 0), ReportCell(spent), spent.map { Self.ratio($0, buyers) } ?? .empty]
        }
        return ReportTable(title: "Acquisition by first-touch \(by)",
                           columns: [by, "customers", "buyers", "conversion", "repurchase", "revenue", "ad_spend", "cost_per_acquisition"],
                           rows: table)
    }

    /// Monthly cohorts by first order (those starting in the period): size,
    /// share active in each later month, repurchase rate, revenue per
    /// customer (CLV to date); lifecycle at the period's end (active: last
    /// order within 45 days, at risk: 45–90, churned: over 90); RFM scores.
    func retention(_ db: Database, _ q: ReportQuery) throws -> [ReportTable] {
        let end = try periodEnd(db, q)
        let orders = try Row.fetchAll(db, sql: """
            SELECT customer_id, created_at, total FROM orders
            WHERE status != 'cancelled' AND customer_id IS NOT NULL AND created_at <= ? ORDER BY created_at
            """, arguments: [end])
        struct Buyer { var first: Int64; var last: Int64; var months: Set<Int> = []; var orders = 0; var spent = 0.0 }
        var buyers: [String: Buyer] = [:]
        for row in orders {
            let id: String = row[0], at: Int64 = row[1], total: Double = row[2]
            var b = buyers[id] ?? Buyer(first: at, last: at)
            b.last = at
            b.months.insert(Self.monthIndex(at))
            b.orders += 1
            b.spent += total
            buyers[id] = b
        }
        var cohorts: [Int: [Buyer]] = [:]
        for b in buyers.values where b.first >= q.from && b.first < q.to { cohorts[Self.monthIndex(b.first), default: []].append(b) }
        let horizon = 6
        let cohortRows: [[ReportCell]] = cohorts.keys.sorted().map { month in
            let members = cohorts[month]!
            let size = Double(members.count)
            var row: [ReportCell] = [.text(Self.monthName(month)), .number(size),
                                     Self.ratio(Double(members.filter { $0.orders > 1 }.count), size)]
            for k in 1...horizon {
                row.append(month + k > Self.monthIndex(end) ? .empty
                           : Self.ratio(Double(members.filter { $0.months.contains(month + k) }.count), size))
            }
            row.append(.number((members.map(\.spent).reduce(0, +) / size * 100).rounded() / 100))
            return row
        }
        let day: Int64 = 86_400_000
        let everyone = buyers.values.filter { $0.first <= end }
        let lifecycle: [[ReportCell]] = [
            ("active", everyone.filter { end - $0.last <= 45 * day }.count),
            ("at_risk", everyone.filter { end - $0.last > 45 * day && end - $0.last <= 90 * day }.count),
            ("churned", everyone.filter { end - $0.last > 90 * day }.count),
        ].map { [.text($0.0), .number(Double($0.1)), Self.ratio(Double($0.1), Double(everyone.count))] }
        // RFM: recency by days since the last order, frequency by orders, monetary by quintile of spend.
        let spends = everyone.map(\.spent).sorted()
        func quintile(_ v: Double) -> Int {
            guard !spends.isEmpty else { return 1 }
            let below = spends.firstIndex { $0 >= v } ?? spends.count
            return min(5, 1 + below * 5 / spends.count)
        }
        var distribution = Array(repeating: [0, 0, 0], count: 5)
        for b in everyone {
            let days = (end - b.last) / day
            let r = days <= 30 ? 5 : days <= 60 ? 4 : days <= 90 ? 3 : days <= 180 ? 2 : 1
            let f = b.orders >= 6 ? 5 : b.orders >= 4 ? 4 : b.orders
            distribution[r - 1][0] += 1
            distribution[f - 1][1] += 1
            distribution[quintile(b.spent) - 1][2] += 1
        }
        let rfm: [[ReportCell]] = (1...5).reversed().map { s in
            [.number(Double(s))] + distribution[s - 1].map { .number(Double($0)) }
        }
        return [
            ReportTable(title: "Retention: monthly cohorts by first order (share active in each later month)",
                        columns: ["cohort", "customers", "repurchase_rate"] + (1...horizon).map { "month_\($0)" } + ["revenue_per_customer"],
                        rows: cohortRows),
            ReportTable(title: "Lifecycle at \(ReportTime.iso(end)) (last order: active ≤ 45 days, at risk 45–90, churned > 90)",
                        columns: ["state", "customers", "share"], rows: lifecycle),
            ReportTable(title: "RFM distribution (customers per score; 5 is best)",
                        columns: ["score", "recency", "frequency", "monetary"], rows: rfm),
        ]
    }

    static func monthIndex(_ ms: Int64) -> Int {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date(timeIntervalSince1970: Double(ms) / 1000))
        return c.year! * 12 + c.month! - 1
    }

    static func monthName(_ index: Int) -> String { String(format: "%04d-%02d", index / 12, index % 12 + 1) }
}
