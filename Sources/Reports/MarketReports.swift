import Foundation
import GRDB
import Store

/// Competitors: where they undercut the shop, and what they launched.
extension Reports {
    /// The latest price each competitor was seen at in the period
    /// (`Competitor Price Observed`) against the shop's own (the
    /// observation's `our_price`, else the catalog's price), by SKU or by
    /// competitor; then the competitors' launches in the period
    /// (`Competitor Product Launched`) beside the shop's products in that category.
    func competitors(_ db: Database, _ q: ReportQuery, by: String) throws -> [ReportTable] {
        let latest = """
            WITH seen AS (
              SELECT json_extract(payload, '$.properties.sku') AS sku, json_extract(payload, '$.properties.competitor') AS competitor,
                     CAST(json_extract(payload, '$.properties.price') AS REAL) AS price,
                     CAST(json_extract(payload, '$.properties.our_price') AS REAL) AS our_price, timestamp,
                     ROW_NUMBER() OVER (PARTITION BY json_extract(payload, '$.properties.sku'), json_extract(payload, '$.properties.competitor')
                                        ORDER BY timestamp DESC, seq DESC) AS nth
              FROM events WHERE name = 'Competitor Price Observed' AND timestamp >= ? AND timestamp < ?),
            prices AS (
              SELECT s.sku, COALESCE(s.competitor, 'unknown') AS competitor, s.price, COALESCE(s.our_price, p.price) AS ours,
                     s.timestamp, p.name, p.category
              FROM seen s LEFT JOIN products p ON p.sku = s.sku
              WHERE s.nth = 1 AND s.sku IS NOT NULL AND s.price IS NOT NULL)
            """
        let table: ReportTable
        if by == "competitor" {
            let rows = try Row.fetchAll(db, sql: latest + """
                SELECT competitor, COUNT(*), SUM(ours > 0 AND price < ours),
                       ROUND(AVG(CASE WHEN ours > 0 THEN price / ours - 1 END), 4), ROUND(MIN(CASE WHEN ours > 0 THEN price / ours - 1 END), 4),
                       MAX(timestamp)
                FROM prices GROUP BY competitor ORDER BY 3 DESC, 4, competitor
                """, arguments: [q.from, q.to])
            table = ReportTable(title: "Competitors by competitor: the latest price seen for each SKU against ours",
                                columns: ["competitor", "skus_watched", "cheaper_on", "average_gap", "deepest_gap", "last_seen"],
                                rows: rows.map { row in var c = cells(row); c[5] = .text(ReportTime.iso(row[5] as Int64)); return c })
        } else {
            let rows = try Row.fetchAll(db, sql: latest + """
                , ranked AS (
                  SELECT *, ROW_NUMBER() OVER (PARTITION BY sku ORDER BY price, competitor) AS place FROM prices)
                SELECT sku, COALESCE(MAX(name), ''), COALESCE(MAX(category), ''), MAX(CASE WHEN place = 1 THEN ours END), COUNT(*),
                       MAX(CASE WHEN place = 1 THEN competitor END), MAX(CASE WHEN place = 1 THEN price END),
                       SUM(ours > 0 AND price < ours), MAX(timestamp)
                FROM ranked GROUP BY sku
                """, arguments: [q.from, q.to])
            var result: [[ReportCell]] = rows.map { row in
                let ours = row[3] as Double?, cheapest = row[6] as Double?
                let gap: Double? = ours.flatMap { ours in cheapest.flatMap { ours > 0 ? (($0 / ours - 1) * 10_000).rounded() / 10_000 : nil } }
                return [.text(row[0]), .text(row[1]), .text(row[2]), ReportCell(ours), .number(Double(row[4] as Int64)),
                        .text(row[5]), ReportCell(cheapest), ReportCell(gap), .number(Double(row[7] as Int64? ?? 0)),
                        .text(ReportTime.iso(row[8] as Int64))]
            }
            result.sort { a, b in
                let (ga, gb) = (a[7].number ?? .infinity, b[7].number ?? .infinity)
                return ga != gb ? ga < gb : a[0].display < b[0].display
            }
            table = ReportTable(title: "Competitors by sku: the latest price of each competitor against ours, most undercut first",
                                columns: ["sku", "name", "category", "our_price", "competitors", "cheapest_competitor", "cheapest_price",
                                          "gap", "undercut_by", "last_seen"],
                                rows: result)
        }
        let launches = try Row.fetchAll(db, sql: """
            WITH ours AS (SELECT category, COUNT(*) AS n, AVG(price) AS average FROM products WHERE category IS NOT NULL GROUP BY category)
            SELECT e.timestamp, COALESCE(json_extract(e.payload, '$.properties.competitor'), 'unknown'),
                   COALESCE(json_extract(e.payload, '$.properties.name'), ''), COALESCE(json_extract(e.payload, '$.properties.category'), ''),
                   CAST(json_extract(e.payload, '$.properties.price') AS REAL), COALESCE(o.n, 0), ROUND(o.average, 2)
            FROM events e LEFT JOIN ours o ON o.category = json_extract(e.payload, '$.properties.category')
            WHERE e.name = 'Competitor Product Launched' AND e.timestamp >= ? AND e.timestamp < ?
            ORDER BY e.timestamp DESC, e.seq DESC
            """, arguments: [q.from, q.to])
        let launchTable = ReportTable(title: "Competitor launches, newest first, beside our products in the category",
                                      columns: ["at", "competitor", "name", "category", "price", "our_products", "our_average_price"],
                                      rows: launches.map { row in var c = cells(row); c[0] = .text(ReportTime.iso(row[0] as Int64)); return c })
        return [table, launchTable]
    }
}
