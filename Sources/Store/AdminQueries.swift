import GRDB

/// Reads and small writes behind the admin API: segment members, decisions,
/// list entries.
extension CrescentStore {
    /// Members of a segment, by customer id, `limit` after `after`.
    public func segmentMembers(_ segment: String, after: String = "", limit: Int = 100) throws -> [(customerId: String, enteredAt: Int64)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT customer_id, entered_at FROM segment_members WHERE segment = ? AND customer_id > ?
                ORDER BY customer_id LIMIT ?
                """, arguments: [segment, after, limit]).map { ($0["customer_id"], $0["entered_at"]) }
        }
    }

    /// Decisions, newest first: about one order, one customer, with one verdict, or all (each filter given narrows them).
    /// `reviewed`: true keeps decisions on orders with a review (``FraudReview``), false those on orders without one.
    public func decisions(orderId: String? = nil, customerId: String? = nil, verdict: String? = nil,
                          reviewed: Bool? = nil, limit: Int = 100) throws -> [DecisionRow] {
        let filters = [("order_id", orderId), ("customer_id", customerId), ("decision", verdict)].compactMap { column, value in
            value.map { (column, $0) }
        }
        var clauses = filters.map { "\($0.0) = ?" }
        if let reviewed {
            clauses.append("order_id IS NOT NULL AND order_id \(reviewed ? "IN" : "NOT IN") (\(Self.reviewedOrdersSQL))")
        }
        let conditions = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let arguments = StatementArguments(filters.map(\.1)) + [limit]
        return try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM decisions \(conditions) ORDER BY at DESC LIMIT ?", arguments: arguments).map {
                DecisionRow(messageId: $0["message_id"], customerId: $0["customer_id"], orderId: $0["order_id"],
                            decision: $0["decision"], score: $0["score"], reasons: $0["reasons"], rules: $0["rules"],
                            rulesetVersion: $0["ruleset_version"], at: $0["at"])
            }
        }
    }

    /// The entries of one list with where each came from.
    public func listEntries(_ list: String) throws -> [(value: String, source: String, addedAt: Int64)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT value, source, added_at FROM list_entries WHERE list = ? ORDER BY value", arguments: [list])
                .map { ($0["value"], $0["source"], $0["added_at"]) }
        }
    }

    /// Adds a list entry; false when it was there.
    public func addListEntry(_ list: String, _ value: String, source: String, at time: Int64) throws -> Bool {
        try writer.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO list_entries (list, value, source, added_at) VALUES (?, ?, ?, ?)",
                           arguments: [list, value, source, time])
            return db.changesCount == 1
        }
    }

    /// Removes a list entry; false when it was not there.
    public func removeListEntry(_ list: String, _ value: String) throws -> Bool {
        try writer.write { db in
            try db.execute(sql: "DELETE FROM list_entries WHERE list = ? AND value = ?", arguments: [list, value])
            return db.changesCount == 1
        }
    }
}
