import Foundation
import GRDB

/// One stored event, as a backtest reads it back.
public struct StoredEvent: Sendable {
    public var rowId: Int64
    public var messageId: String
    public var timestamp: Int64
    public var payload: String
}

/// A recorded fraud decision, as a backtest compares against it.
public struct RecordedDecision: Sendable {
    public var messageId: String
    public var orderId: String?
    public var decision: String
    public var at: Int64
}

/// Reading a database's history without changing it: events in the order
/// they were processed, the decisions on record, and fraud labels.
extension CrescentStore {
    /// Opens an existing database read-only (no migration, no write).
    public convenience init(readOnly path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError("\(path): no such database") }
        Self.configureSQLite()
        var configuration = Configuration()
        configuration.readonly = true
        try self.init(writer: try DatabaseQueue(path: path, configuration: configuration), path: path)
    }

    /// Up to `limit` events after the row `after`, in the order they were committed.
    public func events(after rowId: Int64, limit: Int) throws -> [StoredEvent] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT rowid, message_id, timestamp, payload FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?",
                             arguments: [rowId, limit]).map {
                StoredEvent(rowId: $0[0], messageId: $0[1], timestamp: $0[2], payload: $0[3])
            }
        }
    }

    /// The time of the newest stored event, if any.
    public func latestEventTime() throws -> Int64? {
        try read { db in try Int64.fetchOne(db, sql: "SELECT MAX(timestamp) FROM events") }
    }

    /// Decisions recorded at or after `since`.
    public func recordedDecisions(since: Int64) throws -> [RecordedDecision] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT message_id, order_id, decision, at FROM decisions WHERE at >= ?", arguments: [since]).map {
                RecordedDecision(messageId: $0[0], orderId: $0[1], decision: $0[2], at: $0[3])
            }
        }
    }

    /// Orders known to be fraud: refunded with a reason that names fraud or a
    /// chargeback, or named by a `Fraud Confirmed` event's `order_id`; not
    /// those whose latest review cleared them (`Fraud Cleared`).
    public func fraudLabels() throws -> Set<String> {
        try read { db in
            let refunded = try String.fetchAll(db, sql: """
                SELECT id FROM orders WHERE lower(refund_reason) LIKE '%fraud%' OR lower(refund_reason) LIKE '%chargeback%'
                """)
            let confirmed = try String.fetchAll(db, sql: """
                SELECT json_extract(payload, '$.properties.order_id') FROM events
                WHERE name = 'Fraud Confirmed' AND json_extract(payload, '$.properties.order_id') IS NOT NULL
                """)
            let cleared = try String.fetchAll(db, sql: Self.clearedOrdersSQL)
            return Set(refunded + confirmed).subtracting(cleared)
        }
    }
}

/// A store that cannot be opened as asked.
public struct StoreError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
