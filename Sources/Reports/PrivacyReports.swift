import Foundation
import GRDB
import Store

/// Privacy: where consent stands, and what customers asked and the host
/// held back in the period.
extension Reports {
    /// Two tables: consent by purpose as it stands now (customers who
    /// answered, granted, declined or withdrawn; and customers with no
    /// answer at all, who get no marketing and no personalizing); then, in
    /// the period, erasures and corrections (the audit log), unsubscribes
    /// and spam complaints, marketing actions made under consent, and those
    /// withheld at delivery because the consent was withdrawn meanwhile.
    func privacy(_ db: Database, _ q: ReportQuery) throws -> [ReportTable] {
        // Customers as they stand: not merged into another, not erased.
        var consent = try Row.fetchAll(db, sql: """
            SELECT j.key, COUNT(*), SUM(j.value = 1), SUM(j.value = 0)
            FROM customers c, json_each(c.consent) j WHERE c.merged_into IS NULL AND c.id NOT LIKE 'erased-%'
            GROUP BY j.key ORDER BY j.key
            """).map { row -> [ReportCell] in
            let answered = Double(row[1] as Int64), granted = Double(row[2] as Int64)
            return [.text(row[0]), .number(answered), .number(granted), .number(Double(row[3] as Int64)), Self.ratio(granted, answered)]
        }
        let unanswered = try Int.fetchOne(db, sql: """
            SELECT COUNT(*) FROM customers WHERE merged_into IS NULL AND id NOT LIKE 'erased-%' AND consent IN ('{}', '')
            """) ?? 0
        consent.append([.text("(no answer)"), .number(Double(unanswered)), .number(0), .number(0), .empty])

        func count(_ sql: String) throws -> ReportCell {
            .number(Double(try Int.fetchOne(db, sql: sql, arguments: [q.from, q.to]) ?? 0))
        }
        let period: [[ReportCell]] = [
            [.text("erasures"), try count("SELECT COUNT(*) FROM audit_log WHERE action = 'erase' AND at >= ? AND at < ?")],
            [.text("corrections"), try count("SELECT COUNT(*) FROM audit_log WHERE action = 'correct' AND at >= ? AND at < ?")],
            [.text("unsubscribes and spam complaints"),
             try count("SELECT COUNT(*) FROM events WHERE name IN ('Unsubscribed', 'Email Marked as Spam') AND timestamp >= ? AND timestamp < ?")],
            [.text("marketing actions made under consent"),
             try count("SELECT COUNT(*) FROM outbox WHERE consent_purpose = 'marketing' AND created_at >= ? AND created_at < ?")],
            [.text("withheld at delivery: consent withdrawn meanwhile"),
             try count("SELECT COUNT(*) FROM outbox WHERE status = 'withheld' AND created_at >= ? AND created_at < ?")],
        ]
        return [
            ReportTable(title: "Consent by purpose, as it stands", columns: ["purpose", "customers", "granted", "declined", "granted_share"],
                        rows: consent),
            ReportTable(title: "Privacy requests and safeguards in the period", columns: ["what", "count"], rows: period),
        ]
    }
}
