import Foundation
import GRDB
import Store

/// Sales, inventory and consultants: what sells, what runs out, who sells it.
extension Reports {
    /// Orders (not cancelled) created in the period, grouped; revenue from
    /// order totals (by day, campaign) or item lines (by category, product);
    /// refunded orders' value shown apart.
    func sales(_ db: Database, _ q: ReportQuery, by: String) throws -> ReportTable {
        let title = "Sales by \(by)"
        switch by {
        case "day", "campaign":
            let key = by == "day" ? "strftime('%Y-%m-%d', o.created_at / 1000, 'unixepoch')"
                : "COALESCE(NULLIF(o.campaign, ''), json_extract(c.first_touch, '$.name'), '(none)')"
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(key) AS k, COUNT(*), ROUND(SUM(o.total), 2), ROUND(SUM(CASE WHEN o.status = 'refunded' THEN o.total ELSE 0 END), 2),
                       ROUND(SUM(CASE WHEN o.status = 'refunded' THEN 0 ELSE o.total END), 2), ROUND(AVG(o.total), 2)
                FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
                WHERE o.status != 'cancelled' AND o.created_at >= ? AND o.created_at < ?
                GROUP BY k ORDER BY \(by == "day" ? "k" : "3 DESC")
                """, arguments: [q.from, q.to])
            return ReportTable(title: title, columns: [by, "orders", "revenue", "refunded", "net", "average_order"], rows: rows.map(cells))
        default:
            let key = by == "category" ? "COALESCE(i.category, p.category, '(none)')" : "COALESCE(i.sku, '(none)')"
            let name = by == "product" ? ", COALESCE(MAX(i.name), MAX(p.name), '')" : ""
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(key) AS k\(name), COUNT(DISTINCT o.id), SUM(COALESCE(i.quantity, 1)),
                       ROUND(SUM(COALESCE(i.price, 0) * COALESCE(i.quantity, 1)), 2)
                FROM order_items i JOIN orders o ON o.id = i.order_id LEFT JOIN products p ON p.sku = i.sku
                WHERE o.status != 'cancelled' AND o.created_at >= ? AND o.created_at < ?
                GROUP BY k ORDER BY \(by == "product" ? 5 : 4) DESC
                """, arguments: [q.from, q.to])
            let columns = by == "product" ? ["product", "name", "orders", "units", "revenue"] : ["category", "orders", "units", "revenue"]
            return ReportTable(title: title, columns: columns, rows: rows.map(cells))
        }
    }

    /// Stock by SKU and region against the last 14 days of sales (to the
    /// period's end) in that region: daily rate, days of cover, stockout risk.
    func inventory(_ db: Database, _ q: ReportQuery, by: String) throws -> ReportTable {
        let end = try periodEnd(db, q)
        let start = end - 14 * 86_400_000
        let rows = try Row.fetchAll(db, sql: """
            WITH sold AS (
              SELECT i.sku, COALESCE(o.region, '') AS region, SUM(COALESCE(i.quantity, 1)) AS units
              FROM order_items i JOIN orders o ON o.id = i.order_id
              WHERE o.status != 'cancelled' AND o.created_at >= ? AND o.created_at < ?
              GROUP BY i.sku, region),
            sold_any AS (SELECT sku, SUM(units) AS units FROM sold GROUP BY sku)
            SELECT v.sku, v.region, COALESCE(p.name, ''), v.quantity,
                   COALESCE(s.units, (SELECT a.units FROM sold_any a WHERE a.sku = v.sku) / (SELECT COUNT(*) FROM inventory w WHERE w.sku = v.sku), 0) AS units
            FROM inventory v LEFT JOIN products p ON p.sku = v.sku LEFT JOIN sold s ON s.sku = v.sku AND s.region = v.region
            """, arguments: [start, end + 1])
        var table: [[ReportCell]] = rows.map { row in
            let quantity = Double(row[3] as Int64? ?? 0)
            let daily = (row[4] as Double? ?? 0) / 14
            let cover: Double? = daily > 0 ? quantity / daily : nil
            let risk = quantity <= 0 ? "out of stock" : cover.map { $0 < 7 ? "high" : $0 < 14 ? "medium" : "low" } ?? "no recent sales"
            return [.text(row[0]), .text(row[1]), .text(row[2]), .number(quantity), .number((daily * 100).rounded() / 100),
                    ReportCell(cover.map { ($0 * 10).rounded() / 10 }), .text(risk)]
        }
        let order = ["out of stock": 0, "high": 1, "medium": 2, "low": 3, "no recent sales": 4]
        table.sort { a, b in
            let (ra, rb) = (order[a[6].display] ?? 9, order[b[6].display] ?? 9)
            if ra != rb { return ra < rb }
            if by == "region" && a[1].display != b[1].display { return a[1].display < b[1].display }
            return (a[5].number ?? .infinity) < (b[5].number ?? .infinity)
        }
        return ReportTable(title: "Inventory: days of cover from the 14 days of sales to \(ReportTime.iso(end))",
                           columns: ["sku", "region", "name", "stock", "daily_sales", "days_of_cover", "stockout_risk"], rows: table)
    }

    /// Orders by consultant (or region): revenue, average ticket; conversion:
    /// the share of `Consultation Started` events naming the consultant that
    /// the customer followed with an order within 7 days; rating from
    /// `Consultant Rated` events (`properties.rating`).
    func consultants(_ db: Database, _ q: ReportQuery, by: String) throws -> ReportTable {
        let key = by == "region" ? "region" : "consultant"
        let rows = try Row.fetchAll(db, sql: """
            WITH sales AS (
              SELECT \(key) AS k, MAX(region) AS region, COUNT(*) AS orders, COUNT(DISTINCT customer_id) AS customers,
                     SUM(total) AS revenue, AVG(total) AS ticket
              FROM orders WHERE \(key) IS NOT NULL AND \(key) != '' AND status != 'cancelled' AND created_at >= ? AND created_at < ?
              GROUP BY k),
            consultations AS (
              SELECT json_extract(e.payload, '$.properties.\(key)') AS k, COUNT(*) AS n,
                     SUM(EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = e.customer_id AND o.status != 'cancelled'
                                 AND o.created_at >= e.timestamp AND o.created_at < e.timestamp + 604800000)) AS converted
              FROM events e
              WHERE e.name = 'Consultation Started' AND e.timestamp >= ? AND e.timestamp < ? GROUP BY k),
            ratings AS (
              SELECT json_extract(payload, '$.properties.\(key)') AS k, AVG(CAST(json_extract(payload, '$.properties.rating') AS REAL)) AS rating,
                     COUNT(*) AS n FROM events
              WHERE name = 'Consultant Rated' AND timestamp >= ? AND timestamp < ? GROUP BY k)
            SELECT s.k, s.region, s.orders, s.customers, ROUND(s.revenue, 2), ROUND(s.ticket, 2),
                   CASE WHEN c.n > 0 THEN ROUND(1.0 * c.converted / c.n, 4) END, ROUND(r.rating, 2), r.n
            FROM sales s LEFT JOIN consultations c ON c.k = s.k LEFT JOIN ratings r ON r.k = s.k
            ORDER BY s.revenue DESC
            """, arguments: [q.from, q.to, q.from, q.to, q.from, q.to])
        let columns = by == "region" ? ["region", "-", "orders", "customers", "revenue", "average_ticket", "conversion", "rating", "ratings"]
            : ["consultant", "region", "orders", "customers", "revenue", "average_ticket", "conversion", "rating", "ratings"]
        var table = ReportTable(title: "Consultants by \(by)", columns: columns, rows: rows.map(cells))
        if by == "region" {
            table.columns.remove(at: 1)
            table.rows = table.rows.map { var r = $0; r.remove(at: 1); return r }
        }
        return table
    }
}
