import Crypto
import Foundation
import GRDB

/// A customer's right to see and erase their data: everything held on a
/// customer as one document, and erasure that keeps only anonymised
/// aggregates, recorded in the audit log.
extension CrescentStore {
    /// Tables that hold rows about a customer, with the column that names them.
    static let customerTables: [(table: String, column: String)] = [
        ("customers", "id"), ("identities", "customer_id"), ("events", "customer_id"), ("orders", "customer_id"),
        ("carts", "customer_id"), ("wishlist", "customer_id"), ("reviews", "customer_id"),
        ("segment_members", "customer_id"), ("shadow_segment_members", "customer_id"), ("segment_history", "customer_id"), ("decisions", "customer_id"),
        ("promotion_fires", "customer_id"), ("outbox", "customer_id"), ("journey_instances", "customer_id"),
    ]

    /// Every row held on the customer, table by table (JSON text; JSON columns stay JSON).
    public func exportCustomer(_ id: String) throws -> String? {
        try read { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM customers WHERE id = ?)", arguments: [id]) == true else {
                return nil
            }
            var document: [String: Any] = ["customer_id": id, "exported_by": "crescent"]
            for (table, column) in Self.customerTables {
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM \(table) WHERE \(column) = ?", arguments: [id])
                document[table] = rows.map(Self.jsonObject)
            }
            let orderIds = try String.fetchAll(db, sql: "SELECT id FROM orders WHERE customer_id = ?", arguments: [id])
            var items: [[String: Any]] = []
            for order in orderIds {
                items += try Row.fetchAll(db, sql: "SELECT * FROM order_items WHERE order_id = ?", arguments: [order]).map(Self.jsonObject)
            }
            document["order_items"] = items
            // What the admin API did about them (a correction, a review): theirs to see as well.
            document["audit_log"] = try Row.fetchAll(db, sql: "SELECT * FROM audit_log WHERE subject = ? ORDER BY id", arguments: [id])
                .map(Self.jsonObject)
            let refs = try Self.identifiers(of: id, db)
            let marks = Array(repeating: "?", count: refs.count).joined(separator: ",")
            document["rejected_messages"] = try Row.fetchAll(db, sql: """
                SELECT * FROM rejected_messages WHERE user_id IN (\(marks)) OR anonymous_id IN (\(marks)) ORDER BY id
                """, arguments: StatementArguments(refs + refs)).map(Self.jsonObject)
            let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
    }

    static func jsonObject(_ row: Row) -> [String: Any] {
        var object: [String: Any] = [:]
        for (column, value) in row {
            switch value.storage {
            case .null: object[column] = NSNull()
            case .int64(let i): object[column] = i
            case .double(let d): object[column] = d
            case .string(let s):
                // JSON columns (traits, payloads, rules) are exported as JSON, not as strings.
                if let first = s.first, first == "{" || first == "[",
                   let parsed = try? JSONSerialization.jsonObject(with: Data(s.utf8)) {
                    object[column] = parsed
                } else {
                    object[column] = s
                }
            case .blob(let data): object[column] = data.base64EncodedString()
            }
        }
        return object
    }

    /// Erases a customer: events, identities, carts, wishlist, reviews, segment
    /// history, pending actions and journey instances are deleted; orders,
    /// decisions and the customer's aggregates stay under an anonymous id
    /// (`erased-<hash>`) without personal fields. Returns what was done, also
    /// written to the audit log; nil when the customer is unknown.
    public func eraseCustomer(_ id: String, at time: Int64) throws -> [String: Int]? {
        let anonymous = "erased-" + SHA256.hash(data: Data(id.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return try writer.write { db -> [String: Int]? in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM customers WHERE id = ?)", arguments: [id]) == true else {
                return nil
            }
            var counts: [String: Int] = [:]
            // Anonymous histories merged into the customer go with them.
            let merged = try String.fetchAll(db, sql: "SELECT id FROM customers WHERE merged_into = ?", arguments: [id])
            let refs = try ([id] + merged).flatMap { try Self.identifiers(of: $0, db) }
            for other in merged {
                for (table, column) in Self.customerTables {
                    try db.execute(sql: "DELETE FROM \(table) WHERE \(column) = ?", arguments: [other])
                }
            }
            counts["merged_profiles"] = merged.count
            // Messages refused at ingest that named the customer (any of their ids).
            let marks = Array(repeating: "?", count: refs.count).joined(separator: ",")
            try db.execute(sql: "DELETE FROM rejected_messages WHERE user_id IN (\(marks)) OR anonymous_id IN (\(marks))",
                           arguments: StatementArguments(refs + refs))
            counts["rejected_messages"] = db.changesCount
            for table in ["events", "identities", "carts", "wishlist", "reviews", "segment_members", "shadow_segment_members", "segment_history",
                          "promotion_fires", "journey_instances"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE customer_id = ?", arguments: [id])
                counts[table] = db.changesCount
            }
            try db.execute(sql: "DELETE FROM outbox WHERE customer_id = ? AND status = 'pending'", arguments: [id])
            counts["outbox_pending"] = db.changesCount
            try db.execute(sql: "UPDATE outbox SET customer_id = ?, payload = '{}' WHERE customer_id = ?", arguments: [anonymous, id])
            counts["outbox_anonymised"] = db.changesCount
            try db.execute(sql: """
                UPDATE orders SET customer_id = ?, payment = NULL, shipping = NULL, consultant = NULL WHERE customer_id = ?
                """, arguments: [anonymous, id])
            counts["orders_anonymised"] = db.changesCount
            try db.execute(sql: "UPDATE decisions SET customer_id = ?, reasons = '[]' WHERE customer_id = ?", arguments: [anonymous, id])
            counts["decisions_anonymised"] = db.changesCount
            try db.execute(sql: "DELETE FROM customers WHERE id = ?", arguments: [anonymous])
            try db.execute(sql: """
                UPDATE customers SET id = ?, user_id = NULL, anonymous_id = NULL, traits = '{}', consent = '{}',
                    first_touch = NULL, last_touch = NULL, merged_into = NULL WHERE id = ?
                """, arguments: [anonymous, id])
            let detail = String(decoding: try JSONSerialization.data(withJSONObject: counts, options: [.sortedKeys]), as: UTF8.self)
            // Earlier entries (corrections) no longer name them either.
            try db.execute(sql: "UPDATE audit_log SET subject = ? WHERE subject = ?", arguments: [anonymous, id])
            try db.execute(sql: "INSERT INTO audit_log (at, action, subject, detail) VALUES (?, 'erase', ?, ?)",
                           arguments: [time, anonymous, detail])
            return counts
        }
    }

    /// Every id the customer is known by: their own, and the aliases and
    /// anonymous ids resolved to them.
    static func identifiers(of id: String, _ db: Database) throws -> [String] {
        [id] + (try String.fetchAll(db, sql: "SELECT alias FROM identities WHERE customer_id = ? AND alias != ?", arguments: [id, id]))
    }

    /// Records an administrative act on a customer in the audit log
    /// (`detail` is JSON; an erasure later renames `subject` to the anonymous id).
    public func recordAudit(action: String, subject: String, detail: String, at time: Int64) throws {
        try writer.write { db in
            try db.execute(sql: "INSERT INTO audit_log (at, action, subject, detail) VALUES (?, ?, ?, ?)",
                           arguments: [time, action, subject, detail])
        }
    }

    /// The audit log, newest first: entries with an id below `before`, of
    /// one `action` and one `subject` when given.
    public func auditLog(before: Int64 = .max, action: String? = nil, subject: String? = nil, limit: Int = 100) throws -> [AuditEntry] {
        try read { db in
            var sql = "SELECT id, at, action, subject, detail FROM audit_log WHERE id < ?"
            var arguments: StatementArguments = [before]
            if let action {
                sql += " AND action = ?"
                arguments += [action]
            }
            if let subject {
                sql += " AND subject = ?"
                arguments += [subject]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY id DESC LIMIT ?", arguments: arguments + [limit]).map {
                AuditEntry(id: $0["id"], at: $0["at"], action: $0["action"], subject: $0["subject"], detail: $0["detail"])
            }
        }
    }
}

/// One administrative act in the audit log: what (`erase`, `correct`,
/// `review`, `list_add`, `list_remove`, `rules_reload`, `rules_rollback`),
/// on whom or what, when, and its details as JSON text.
public struct AuditEntry: Sendable, Equatable {
    public var id: Int64
    public var at: Int64
    public var action: String
    public var subject: String
    public var detail: String
}
