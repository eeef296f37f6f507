import Foundation
import GRDB

/// The latest verdict on a flagged order: a `Fraud Confirmed` or `Fraud
/// Cleared` event naming it (`properties.order_id`), sent by an analyst
/// through `POST /v1/orders/{id}/review` or by the shop (a chargeback feed).
public struct FraudReview: Sendable, Equatable {
    public var orderId: String
    /// `fraud` or `legitimate`.
    public var outcome: String
    public var messageId: String
    public var at: Int64
    public var note: String?
    public var analyst: String?
}

extension CrescentStore {
    /// Each reviewed order's latest review event (by time, then arrival).
    static let latestReviewsSQL = """
        SELECT order_id, name, message_id, timestamp, note, analyst FROM (
          SELECT CAST(json_extract(payload, '$.properties.order_id') AS TEXT) AS order_id, name, message_id, timestamp,
                 json_extract(payload, '$.properties.note') AS note, json_extract(payload, '$.properties.analyst') AS analyst,
                 ROW_NUMBER() OVER (PARTITION BY json_extract(payload, '$.properties.order_id') ORDER BY timestamp DESC, seq DESC) AS nth
          FROM events WHERE name IN ('Fraud Confirmed', 'Fraud Cleared'))
        WHERE nth = 1 AND order_id IS NOT NULL
        """

    /// The orders whose latest review cleared them: not fraud labels, and no longer a fraud block.
    public static let clearedOrdersSQL = "SELECT order_id FROM (\(latestReviewsSQL)) WHERE name = 'Fraud Cleared'"

    /// The orders with any review.
    public static let reviewedOrdersSQL = "SELECT order_id FROM (\(latestReviewsSQL))"

    /// The latest review of each of these orders that has one.
    public func reviews(orderIds: [String]) throws -> [String: FraudReview] {
        let wanted = Set(orderIds)
        guard !wanted.isEmpty else { return [:] }
        return try read { db in
            var found: [String: FraudReview] = [:]
            for row in try Row.fetchAll(db, sql: Self.latestReviewsSQL) {
                let order: String = row["order_id"]
                guard wanted.contains(order) else { continue }
                found[order] = FraudReview(orderId: order, outcome: (row["name"] as String) == "Fraud Cleared" ? "legitimate" : "fraud",
                                           messageId: row["message_id"], at: row["timestamp"],
                                           note: row["note"] as String?, analyst: row["analyst"] as String?)
            }
            return found
        }
    }
}
