import Foundation
import GRDB
import Store

/// Promotions, fraud and journeys: what the rules did and what came of it.
extension Reports {
    /// Per promotion, fires in the period: sent, customers reached, coupons
    /// redeemed (orders or `Coupon Applied` events carrying a code the
    /// promotion issued), customers who ordered within 7 days and that
    /// revenue; with a declared `holdout`, the same for the held-out
    /// customers and the uplift in conversion (percentage points).
    func promotions(_ db: Database, _ q: ReportQuery) throws -> ReportTable {
        let rows = try Row.fetchAll(db, sql: """
            WITH f AS (
              SELECT promotion, customer_id, MIN(at) AS at, COUNT(*) AS n FROM promotion_fires
              WHERE at >= ? AND at < ? GROUP BY promotion, customer_id),
            conv AS (
              SELECT f.promotion, f.customer_id, SUM(o.total) AS revenue FROM f
              JOIN orders o ON o.customer_id = f.customer_id AND o.created_at > f.at AND o.created_at <= f.at + 604800000
                          AND o.status != 'cancelled'
              GROUP BY f.promotion, f.customer_id)
            SELECT f.promotion, SUM(f.n), COUNT(*), COUNT(conv.customer_id), ROUND(COALESCE(SUM(conv.revenue), 0), 2)
            FROM f LEFT JOIN conv ON conv.promotion = f.promotion AND conv.customer_id = f.customer_id
            GROUP BY f.promotion ORDER BY f.promotion
            """, arguments: [q.from, q.to])
        // Codes that came back, read once (json_extract per event), then matched by lookup.
        let redeemed = try Row.fetchAll(db, sql: """
            WITH used AS MATERIALIZED (
              SELECT DISTINCT COALESCE(json_extract(payload, '$.properties.coupon'), json_extract(payload, '$.properties.coupon_id')) AS code
              FROM events WHERE name IN ('Order Completed', 'Coupon Applied') AND timestamp >= ?)
            SELECT substr(rule, 11) AS promotion, COUNT(DISTINCT json_extract(payload, '$.code')) FROM outbox
            WHERE action = 'coupon' AND created_at >= ? AND created_at < ? AND json_extract(payload, '$.code') IN (SELECT code FROM used)
            GROUP BY promotion
            """, arguments: [q.from, q.from, q.to])
        let redemptions = Dictionary(redeemed.map { ($0[0] as String, $0[1] as Int64) }) { a, _ in a }
        var byName: [String: Row] = [:]
        for row in rows { byName[row[0]] = row }
        let table: [[ReportCell]] = byName.keys.filter { !$0.hasPrefix("holdout:") }.sorted().map { name in
            let row = byName[name]!
            let customers = Double(row[2] as Int64), converted = Double(row[3] as Int64)
            var cells: [ReportCell] = [.text(name), .number(Double(row[1] as Int64)), .number(customers),
                                       .number(Double(redemptions[name] ?? 0)), .number(converted), Self.ratio(converted, customers),
                                       .number(row[4] as Double)]
            if let holdout = byName["holdout:" + name] {
                let held = Double(holdout[2] as Int64), heldConverted = Double(holdout[3] as Int64)
                let uplift = held > 0 && customers > 0 ? (converted / customers - heldConverted / held) * 100 : nil
                cells += [.number(held), Self.ratio(heldConverted, held), ReportCell(uplift.map { ($0 * 100).rounded() / 100 })]
            } else {
                cells += [.empty, .empty, .empty]
            }
            return cells
        }
        return ReportTable(title: "Promotions (conversion: an order within 7 days of the first fire)",
                           columns: ["promotion", "sent", "customers", "redeemed", "converted", "conversion", "revenue_7d",
                                     "holdout_customers", "holdout_conversion", "uplift_points"], rows: table)
    }

    /// Decisions in the period by outcome; the fraud rules that hit most;
    /// flagged orders (review or block) against fraud labels (refunds naming
    /// fraud or a chargeback, `Fraud Confirmed` events; not orders whose latest
    /// review is `Fraud Cleared`). Flagged orders without a label nor a review
    /// count as false positives, and apart as `unreviewed_false_positives`.
    func fraud(_ db: Database, _ q: ReportQuery) throws -> [ReportTable] {
        let outcomes = try Row.fetchAll(db, sql: """
            SELECT decision, COUNT(*), ROUND(AVG(score), 2) FROM decisions WHERE at >= ? AND at < ? GROUP BY decision
            """, arguments: [q.from, q.to])
        let total = Double(outcomes.map { $0[1] as Int64 }.reduce(0, +))
        let outcomeRows: [[ReportCell]] = ["allow", "review", "block"].map { verdict in
            let row = outcomes.first { ($0[0] as String) == verdict }
            let n = Double(row.map { $0[1] as Int64 } ?? 0)
            return [.text(verdict), .number(n), Self.ratio(n, total), ReportCell(row.flatMap { $0[2] as Double? })]
        }
        let top = try Row.fetchAll(db, sql: """
            SELECT json_extract(r.value, '$.rule') AS rule, COUNT(*), ROUND(AVG(json_extract(r.value, '$.score')), 2),
                   SUM(d.decision != 'allow')
            FROM decisions d, json_each(d.rules) r
            WHERE d.at >= ? AND d.at < ? AND json_extract(r.value, '$.outcome') = 'hit'
            GROUP BY rule ORDER BY 2 DESC LIMIT 20
            """, arguments: [q.from, q.to])
        let labelled = try Row.fetchOne(db, sql: """
            WITH labels AS (
              SELECT id AS order_id FROM orders WHERE lower(refund_reason) LIKE '%fraud%' OR lower(refund_reason) LIKE '%chargeback%'
              UNION SELECT json_extract(payload, '$.properties.order_id') FROM events WHERE name = 'Fraud Confirmed'
              EXCEPT \(CrescentStore.clearedOrdersSQL)),
            reviewed AS (\(CrescentStore.reviewedOrdersSQL)),
            judged AS (
              SELECT order_id, MAX(decision != 'allow') AS flagged FROM decisions
              WHERE order_id IS NOT NULL AND at >= ? AND at < ? GROUP BY order_id)
            SELECT SUM(flagged AND order_id IN labels), SUM(flagged AND order_id NOT IN labels),
                   SUM(NOT flagged AND order_id IN labels), SUM(NOT flagged AND order_id NOT IN labels),
                   SUM(flagged AND order_id NOT IN labels AND order_id NOT IN reviewed)
            FROM judged
            """, arguments: [q.from, q.to])
        let (tp, fp, fn, tn) = (Double(labelled?[0] as Int64? ?? 0), Double(labelled?[1] as Int64? ?? 0),
                                Double(labelled?[2] as Int64? ?? 0), Double(labelled?[3] as Int64? ?? 0))
        let open = Double(labelled?[4] as Int64? ?? 0)
        return [
            ReportTable(title: "Fraud decisions by outcome", columns: ["decision", "count", "share", "average_score"], rows: outcomeRows),
            ReportTable(title: "Fraud rules that hit most", columns: ["rule", "hits", "average_score", "in_flagged_decisions"],
                        rows: top.map(cells)),
            ReportTable(title: "Flagged orders against fraud labels",
                        columns: ["true_positives", "false_positives", "false_negatives", "true_negatives", "precision", "recall",
                                  "false_positive_rate", "unreviewed_false_positives"],
                        rows: [[.number(tp), .number(fp), .number(fn), .number(tn), Self.ratio(tp, tp + fp), Self.ratio(tp, tp + fn),
                                Self.ratio(fp, fp + tn), .number(open)]]),
        ]
    }

    /// Each journey's funnel, step by step in the latest definition's order:
    /// reached, sent, deferred, suppressed, converted, errors, and the share
    /// of the first step's entries that reached each step. Counters are
    /// cumulative (the period does not apply).
    func journeys(_ db: Database) throws -> ReportTable {
        let counts = try Row.fetchAll(db, sql: "SELECT journey, step, metric, count FROM journey_steps")
        var byStep: [String: [String: [String: Int64]]] = [:]
        for row in counts { byStep[row[0], default: [:]][row[1], default: [:]][row[2]] = row[3] }
        let definitions = try Row.fetchAll(db, sql: """
            SELECT d.journey, d.steps FROM journey_definitions d JOIN rulesets r ON r.version = d.ruleset_version
            ORDER BY r.loaded_at
            """)
        var order: [String: [String]] = [:]
        for row in definitions {
            let steps: String = row[1]
            order[row[0]] = steps.split(separator: "\n").map(String.init)
        }
        var table: [[ReportCell]] = []
        for journey in byStep.keys.sorted() {
            let steps = (order[journey] ?? []) + byStep[journey]!.keys.sorted().filter { !(order[journey] ?? []).contains($0) }
            let first = Double(steps.first.flatMap { byStep[journey]![$0]?["reached"] } ?? 0)
            for step in steps {
                let m = byStep[journey]![step] ?? [:]
                let reached = Double(m["reached"] ?? 0)
                table.append([.text(journey), .text(step), .number(reached)]
                             + ["sent", "deferred", "suppressed", "converted", "error"].map { .number(Double(m[$0] ?? 0)) }
                             + [Self.ratio(reached, first)])
            }
        }
        return ReportTable(title: "Journey funnels",
                           columns: ["journey", "step", "reached", "sent", "deferred", "suppressed", "converted", "errors", "of_entries"],
                           rows: table)
    }
}
