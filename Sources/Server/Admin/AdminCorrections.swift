import Engine
import Foundation
import Hummingbird
import NIOCore
import Store

/// `PATCH /v1/customers/{id}`: a customer's traits corrected on their
/// behalf (the right to rectification beside export and erasure).
extension AdminAPI {
    /// Largest correction body, as a tracking message.
    static let correctionLimit = 32 * 1024

    /// A request's body of at most `limit` bytes; nil when it is larger.
    static func collect(_ request: Request, upTo limit: Int) async -> ByteBuffer? {
        try? await request.body.collect(upTo: limit)
    }

    /// `{"traits": {...}}` becomes an `identify` from the admin for the
    /// customer's own ids, through the same pipeline as one from the shop:
    /// traits merge (`null` clears one), consent given as `consent` or
    /// `marketing_consent` changes, segments and rules listening to
    /// identifies run, and the event is in their history. Answered after
    /// commit with the customer as `GET` shows them; the audit log records
    /// which traits changed (names, not values).
    func correct(_ id: String, _ request: Request) async -> Response {
        guard isAuthorized(request) else { return Self.unauthorized }
        guard let body = await Self.collect(request, upTo: Self.correctionLimit) else {
            return APIProblem(.badRequest, "message_too_large", "a correction is at most 32 KB").response
        }
        let traits: [String: JSONValue]
        do {
            guard case .object(let fields) = try JSONValue.parse(Data(buffer: body)) else {
                return APIProblem(.badRequest, "invalid_correction", #"a correction is {"traits": {...}}"#).response
            }
            guard case .object(let given)? = fields["traits"], !given.isEmpty else {
                return APIProblem(.badRequest, "invalid_correction", #""traits" must be an object naming at least one trait"#).response
            }
            if let other = fields.keys.first(where: { $0 != "traits" }) {
                return APIProblem(.badRequest, "invalid_correction", #"unknown field "\#(other)": a correction is {"traits": {...}}"#).response
            }
            traits = given
        } catch {
            return APIProblem(.badRequest, "invalid_json", "the body is not JSON: \(error)").response
        }
        do {
            let store = gateway.engine.store
            let resolved = try store.resolve(alias: id) ?? id
            guard let row = try store.customer(id: resolved) else {
                return APIProblem(.notFound, "not_found", "no customer \(id)").response
            }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            var message: [String: JSONValue] = [
                "type": "identify", "traits": .object(traits), "messageId": .string("admin-correction-\(UUID().uuidString)"),
                "timestamp": .int(now), "context": ["library": ["name": "crescent-admin"]],
            ]
            // The customer's own ids, so the identify lands on them and merges nothing new.
            if let user = row.userId { message["userId"] = .string(user) } else { message["anonymousId"] = .string(row.anonymousId ?? resolved) }
            var event: Event
            do {
                event = try Normalizer.normalize(.object(message), now: now)
            } catch {
                return APIProblem(.badRequest, "invalid_correction", "\(error)").response
            }
            event.raw = event.json.jsonText
            let outcomes = try await gateway.ingest([event])
            metrics.ingested([event], outcomes)
            try store.recordAudit(action: "correct", subject: resolved, detail: JSONValue.object([
                "traits": .array(traits.keys.sorted().map(JSONValue.string)), "message_id": .string(event.messageId),
            ]).jsonText, at: now)
            return try customer(resolved)
        } catch let error as IngestError {
            return TrackingAPI.failure(error, metrics)
        } catch {
            return APIProblem(.internalServerError, "internal", "the correction could not be committed: \(error)").response
        }
    }
}
