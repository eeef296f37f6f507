import GRDB

/// An outbox row with its delivery state.
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var row: OutboxRow
    /// `pending`, `delivered` or `dead`.
    public var status: String
    public var attempts: Int
    public var nextAttemptAt: Int64
    public var lastError: String?
    public var deliveredAt: Int64?
}

extension CrescentStore {
    /// Pending entries due by `now`, oldest first; only those of `channels` when given.
    public func dueOutbox(now: Int64, limit: Int, channels: [String]? = nil) throws -> [OutboxEntry] {
        guard let channels else {
            return try outboxEntries("status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?", [now, limit])
        }
        if channels.isEmpty { return [] }
        let marks = Array(repeating: "?", count: channels.count).joined(separator: ",")
        var arguments = StatementArguments([now])
        arguments += StatementArguments(channels)
        arguments += [limit]
        return try outboxEntries("status = 'pending' AND next_attempt_at <= ? AND channel IN (\(marks)) ORDER BY id LIMIT ?", arguments)
    }

    /// Entries by status (`pending`, `delivered`, `dead`), newest first, paged by id.
    public func outboxEntries(status: String, before: Int64 = .max, limit: Int = 100) throws -> [OutboxEntry] {
        try outboxEntries("status = ? AND id < ? ORDER BY id DESC LIMIT ?", [status, before, limit])
    }

    /// Outbox entries by status.
    public func outboxCounts() throws -> [String: Int] {
        try read { db in
            var counts: [String: Int] = [:]
            // Kept by triggers as entries come, change status and go (migration v15): no scan of the outbox.
            for row in try Row.fetchAll(db, sql: "SELECT status, n FROM outbox_counts WHERE n > 0") {
                counts[row["status"]] = row["n"]
            }
            return counts
        }
    }

    /// Age at `now` (ms; 0 when none) of the oldest among the first 1,000
    /// pending entries in delivery order, and the failed attempts so far.
    /// Both read indexes only, so a scrape costs the same however many
    /// actions the outbox has kept.
    public func outboxHealth(now: Int64) throws -> (lag: Int64, failedAttempts: Int) {
        try read { db in
            let oldest = try Int64.fetchOne(db, sql: OutboxQueries.oldestPending)
            let failed = try Int.fetchOne(db, sql: OutboxQueries.failedAttempts) ?? 0
            return (oldest.map { max(0, now - $0) } ?? 0, failed)
        }
    }

    public func markDelivered(id: Int64, at time: Int64) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?",
                           arguments: [time, id])
        }
    }

    /// Marks an entry `withheld`: not delivered, and never to be (the
    /// consent it was made under was withdrawn before it went).
    public func markWithheld(id: Int64, reason: String) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE outbox SET status = 'withheld', last_error = ? WHERE id = ?", arguments: [reason, id])
        }
    }

    /// Records a failed attempt: retried at `retryAt`, or dead when nil.
    public func markFailed(id: Int64, error: String, retryAt: Int64?) throws {
        try writer.write { db in
            if let retryAt {
                try db.execute(sql: "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                               arguments: [error, retryAt, id])
            } else {
                try db.execute(sql: "UPDATE outbox SET attempts = attempts + 1, last_error = ?, status = 'dead' WHERE id = ?",
                               arguments: [error, id])
            }
        }
    }

    private func outboxEntries(_ condition: String, _ arguments: StatementArguments) throws -> [OutboxEntry] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE \(condition)", arguments: arguments).map {
                OutboxEntry(id: $0["id"],
                            row: OutboxRow(idempotencyKey: $0["idempotency_key"], messageId: $0["message_id"],
                                           customerId: $0["customer_id"], rule: $0["rule"], action: $0["action"],
                                           channel: $0["channel"], payload: $0["payload"], createdAt: $0["created_at"],
                                           consentPurpose: $0["consent_purpose"]),
                            status: $0["status"], attempts: $0["attempts"], nextAttemptAt: $0["next_attempt_at"],
                            lastError: $0["last_error"], deliveredAt: $0["delivered_at"])
            }
        }
    }
}

/// The outbox's health reads for `/metrics`, which must not grow with the outbox.
enum OutboxQueries {
    /// Entries with failed attempts: every attempt but a delivery failed.
    static let hasFailures = "attempts > (status = 'delivered')"
    /// Through the partial index `outbox_retried`, which holds only those entries.
    static let failedAttempts = "SELECT COALESCE(SUM(attempts - (status = 'delivered')), 0) FROM outbox WHERE \(hasFailures)"
    /// The head of the delivery queue (`outbox_by_status`), not every pending entry.
    static let oldestPending = """
        SELECT MIN(created_at) FROM (SELECT created_at FROM outbox WHERE status = 'pending' ORDER BY id LIMIT 1000)
        """
}
