import Engine
import Foundation
import Hummingbird
import NIOCore
import Store

/// The review queue's other half: `POST /v1/orders/{id}/review` records an
/// analyst's verdict on an order the fraud rules flagged.
extension AdminAPI {
    /// Largest review body.
    static let reviewLimit = 8 * 1024
    /// Longest `note` or `analyst`.
    static let reviewTextLimit = 2_000

    /// `{"outcome": "fraud" | "legitimate", "note": "...", "analyst": "..."}`
    /// becomes a `Fraud Confirmed` or `Fraud Cleared` track event for the
    /// order's customer, through the same pipeline as the shop's events: it
    /// is a fraud label for reports and backtests (the latest review of an
    /// order wins), rules listening to it run, a cleared block stops holding
    /// the customer's promotions back, and `GET /v1/decisions` shows it.
    /// Answered after commit; the audit log records it.
    func review(_ orderId: String, _ request: Request) async -> Response {
        guard isAuthorized(request) else { return Self.unauthorized }
        guard let body = await Self.collect(request, upTo: Self.reviewLimit) else {
            return APIProblem(.badRequest, "message_too_large", "a review is at most 8 KB").response
        }
        let outcome: String
        var properties: [String: JSONValue] = ["order_id": .string(orderId), "source": "review"]
        do {
            guard case .object(let fields) = try JSONValue.parse(Data(buffer: body)) else {
                return Self.invalidReview(#"a review is {"outcome": "fraud" or "legitimate", "note": "...", "analyst": "..."}"#)
            }
            if let other = fields.keys.sorted().first(where: { !["outcome", "note", "analyst"].contains($0) }) {
                return Self.invalidReview(#"unknown field "\#(other)": a review has "outcome", "note" and "analyst""#)
            }
            guard let given = fields["outcome"]?.stringValue, ["fraud", "legitimate"].contains(given) else {
                return Self.invalidReview(#""outcome" must be "fraud" or "legitimate""#)
            }
            outcome = given
            for field in ["note", "analyst"] {
                guard let value = fields[field], value != .null else { continue }
                guard case .string(let text) = value, text.unicodeScalars.count <= Self.reviewTextLimit else {
                    return Self.invalidReview(#""\#(field)" must be text of at most \#(Self.reviewTextLimit) characters"#)
                }
                properties[field] = .string(text)
            }
        } catch {
            return APIProblem(.badRequest, "invalid_json", "the body is not JSON: \(error)").response
        }
        do {
            let store = gateway.engine.store
            guard let decision = try store.decisions(orderId: orderId, limit: 1).first else {
                return APIProblem(.notFound, "not_found", "no decision for order \(orderId): only decided orders are reviewed").response
            }
            properties["decision"] = .string(decision.decision)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            var message: [String: JSONValue] = [
                "type": "track", "event": .string(outcome == "fraud" ? "Fraud Confirmed" : "Fraud Cleared"),
                "properties": .object(properties), "messageId": .string("admin-review-\(UUID().uuidString)"),
                "timestamp": .int(now), "context": ["library": ["name": "crescent-admin"]],
            ]
            // The decided customer's own ids, so the event lands on them.
            let customerId = decision.customerId ?? "unknown"
            if let row = try store.customer(id: customerId), row.userId == nil {
                message["anonymousId"] = .string(row.anonymousId ?? customerId)
            } else {
                message["userId"] = .string(customerId)
            }
            var event = try Normalizer.normalize(.object(message), now: now)
            event.raw = event.json.jsonText
            let outcomes = try await gateway.ingest([event])
            metrics.ingested([event], outcomes)
            try store.recordAudit(action: "review", subject: customerId, detail: JSONValue.object([
                "order_id": .string(orderId), "outcome": .string(outcome), "message_id": .string(event.messageId),
            ]).jsonText, at: now)
            return APIResponse.json(.ok, JSONValue.object([
                "order_id": .string(orderId), "outcome": .string(outcome), "decision": .string(decision.decision),
                "customer_id": .string(customerId), "message_id": .string(event.messageId), "at": .string(Timestamps.iso(now)),
            ]).jsonText)
        } catch let error as IngestError {
            return TrackingAPI.failure(error, metrics)
        } catch {
            return APIProblem(.internalServerError, "internal", "the review could not be committed: \(error)").response
        }
    }

    static func invalidReview(_ message: String) -> Response {
        APIProblem(.badRequest, "invalid_review", message).response
    }

    /// A review as `GET /v1/decisions` shows it.
    static func reviewJSON(_ review: FraudReview?) -> JSONValue {
        guard let review else { return .null }
        return .object([
            "outcome": .string(review.outcome), "at": .string(Timestamps.iso(review.at)), "message_id": .string(review.messageId),
            "note": review.note.map(JSONValue.string) ?? .null, "analyst": review.analyst.map(JSONValue.string) ?? .null,
        ])
    }
}
