import Engine
import Foundation
import Hummingbird
import Store

/// The admin API (`Authorization: Bearer <admin token>`; 401 without):
/// customers (read, export, correct, erase), segments, decisions and their reviews, lists, rules, reports, the outbox,
/// the refused messages and the audit log of what this API changed.
struct AdminAPI: Sendable {
    let configuration: ServerConfiguration
    let gateway: IngestGateway
    /// Reloads the rules (scenarios on unless told) and logs the outcome.
    let reload: @Sendable (Bool?) -> ReloadAttempt
    let reloader: RuleReloader
    /// The messages the ingest API refused (`GET /v1/rejected`).
    let rejections: RejectedMessageLog
    /// The shards' figures, without waiting long for busy shards.
    let readings: @Sendable () async -> EngineReadings
    /// The server's counters (a correction is an ingested identify).
    let metrics: ServerMetrics

    func register(on router: Router<BasicRequestContext>) {
        router.get("/v1/customers/:id") { request, context in
            try self.authorized(request) { try self.customer(context.parameters.require("id")) }
        }
        router.get("/v1/customers/:id/export") { request, context in
            try self.authorized(request) { try self.export(context.parameters.require("id")) }
        }
        router.get("/v1/customers/:id/recommendations") { request, context in
            try self.authorized(request) {
                try self.recommendations(context.parameters.require("id"), n: Self.count(request, "n", default: 10, maximum: 100))
            }
        }
        router.patch("/v1/customers/:id") { request, context in
            await self.correct(try context.parameters.require("id"), request)
        }
        router.delete("/v1/customers/:id") { request, context in
            try self.authorized(request) { try self.forget(context.parameters.require("id")) }
        }
        router.get("/v1/segments") { request, _ in
            try self.authorized(request) { try self.segments() }
        }
        router.get("/v1/segments/:name/members") { request, context in
            try self.authorized(request) {
                try self.members(context.parameters.require("name"), after: request.uri.queryParameters.get("after") ?? "",
                                 limit: Self.count(request, "limit", default: 100, maximum: 1000))
            }
        }
        router.get("/v1/decisions") { request, _ in
            try self.authorized(request) {
                try self.decisions(order: request.uri.queryParameters.get("order_id"),
                                   customer: request.uri.queryParameters.get("customer_id"),
                                   verdict: request.uri.queryParameters.get("decision"),
                                   review: request.uri.queryParameters.get("review"),
                                   limit: Self.count(request, "limit", default: 100, maximum: 1000))
            }
        }
        router.post("/v1/orders/:id/review") { request, context in
            await self.review(try context.parameters.require("id"), request)
        }
        router.get("/v1/lists") { request, _ in
            try self.authorized(request) { self.lists() }
        }
        router.get("/v1/lists/:name") { request, context in
            try self.authorized(request) { try self.list(context.parameters.require("name")) }
        }
        router.put("/v1/lists/:name/:value") { request, context in
            try self.authorized(request) {
                try self.changeList(context.parameters.require("name"), context.parameters.require("value"), add: true)
            }
        }
        router.delete("/v1/lists/:name/:value") { request, context in
            try self.authorized(request) {
                try self.changeList(context.parameters.require("name"), context.parameters.require("value"), add: false)
            }
        }
        router.get("/v1/rules") { request, _ in
            guard self.isAuthorized(request) else { return Self.unauthorized }
            let window = request.uri.queryParameters.get("stale_after").flatMap { DurationText.milliseconds(String($0)) }
            return self.rules(staleAfter: window ?? 30 * 86_400_000, readings: await self.readings())
        }
        router.post("/v1/rules/reload") { request, _ in
            try self.authorized(request) { try self.reloadNow() }
        }
        router.post("/v1/rules/rollback") { request, context in
            let body = try await request.body.collect(upTo: 64 * 1024)
            return try self.authorized(request) { try self.rollback(body) }
        }
        router.get("/v1/reports/:name") { request, context in
            try self.authorized(request) {
                let q = request.uri.queryParameters
                let by = q.get("by").flatMap { $0.isEmpty ? nil : String($0) } // `by=` (an empty form field): the default
                return try self.report(context.parameters.require("name"), since: q.get("since"), until: q.get("until"), by: by)
            }
        }
        router.get("/v1/rejected") { request, _ in
            try self.authorized(request) {
                try self.rejected(before: Self.position(request, "before"),
                                  limit: Self.count(request, "limit", default: 100, maximum: 1000))
            }
        }
        router.get("/v1/audit") { request, _ in
            try self.authorized(request) {
                let q = request.uri.queryParameters
                return try self.audit(before: Self.position(request, "before"), action: q.get("action").map { String($0) },
                                      subject: q.get("subject").map { String($0) },
                                      limit: Self.count(request, "limit", default: 100, maximum: 1000))
            }
        }
        router.get("/v1/outbox") { request, _ in
            try self.authorized(request) {
                try self.outbox(status: request.uri.queryParameters.get("status") ?? "pending",
                                before: Self.position(request, "before"))
            }
        }
    }

    func authorized(_ request: Request, _ body: () throws -> Response) throws -> Response {
        guard isAuthorized(request) else { return Self.unauthorized }
        do {
            return try body()
        } catch let problem as APIProblem {
            return problem.response
        }
    }

    /// A count in the query (`limit`, `n`): `fallback` when absent, else a
    /// whole number from 1 to `maximum`, or `400 invalid_NAME`.
    static func count(_ request: Request, _ name: String, default fallback: Int, maximum: Int) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return fallback }
        guard let n = Int(text), (1...maximum).contains(n) else {
            throw APIProblem(.badRequest, "invalid_\(name)", "\(name) must be a whole number from 1 to \(maximum), not '\(text)'")
        }
        return n
    }

    /// A paging position in the query (`before`: an id from the last page): the start when absent, else `400 invalid_NAME`.
    static func position(_ request: Request, _ name: String) throws -> Int64 {
        guard let text = request.uri.queryParameters.get(name) else { return .max }
        guard let n = Int64(text) else {
            throw APIProblem(.badRequest, "invalid_\(name)", "\(name) must be a whole number (an id from the last page), not '\(text)'")
        }
        return n
    }

    static var unauthorized: Response {
        APIProblem(.unauthorized, "unauthorized", "the admin API needs Authorization: Bearer <admin token>").response
    }

    /// Whether the request carries the admin token.
    func isAuthorized(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return false }
        return configuration.acceptsAdminToken(String(header.dropFirst(7)))
    }

    func customer(_ id: String) throws -> Response {
        let store = gateway.engine.store
        let resolved = try store.resolve(alias: id) ?? id
        guard let row = try store.customer(id: resolved) else {
            return APIProblem(.notFound, "not_found", "no customer \(id)").response
        }
        let traits = (try? JSONValue.parse(Data(row.traits.utf8))) ?? .object([:])
        let consent = (try? JSONValue.parse(Data(row.consent.utf8))) ?? .object([:])
        let events = try store.recentEvents(customerId: resolved, limit: 20).map { event -> JSONValue in
            .object(["message_id": .string(event.messageId), "type": .string(event.type), "name": .string(event.name),
                     "timestamp": .string(Timestamps.iso(event.timestamp))])
        }
        let body: JSONValue = .object([
            "id": .string(row.id),
            "user_id": row.userId.map(JSONValue.string) ?? .null,
            "anonymous_id": row.anonymousId.map(JSONValue.string) ?? .null,
            "traits": traits,
            "consent": consent,
            "segments": .array(try store.segments(of: resolved).sorted().map(JSONValue.string)),
            "orders_count": .int(Int64(row.ordersCount)),
            "total_spent": .double(row.totalSpent),
            "first_seen": row.firstSeen.map { .string(Timestamps.iso($0)) } ?? .null,
            "last_seen": row.lastSeen.map { .string(Timestamps.iso($0)) } ?? .null,
            "recent_events": .array(events),
        ])
        return APIResponse.json(.ok, body.jsonText)
    }

    /// Messages the ingest API refused, newest first (`before` = the last id seen).
    func rejected(before: Int64, limit: Int) throws -> Response {
        rejections.flush()
        let entries: [JSONValue] = try gateway.engine.store.rejectedMessages(before: before, limit: limit).map { message in
            .object([
                "id": .int(message.id), "received_at": .string(Timestamps.iso(message.receivedAt)),
                "source": .string(message.source), "code": .string(message.code), "reason": .string(message.reason),
                "message": (try? JSONValue.parse(Data(message.payload.utf8))) ?? .string(message.payload),
            ])
        }
        return APIResponse.json(.ok, JSONValue.object(["entries": .array(entries), "kept": .int(CrescentStore.rejectedMessagesKept),
                                                       "dropped": .int(Int64(rejections.dropped))]).jsonText)
    }

    /// Outbox entries of one status, newest first, 100 a page (`before` = the last id seen).
    func outbox(status: String, before: Int64) throws -> Response {
        guard ["pending", "delivered", "dead", "withheld"].contains(status) else {
            return APIProblem(.badRequest, "invalid_status", "status must be pending, delivered, dead or withheld").response
        }
        let store = gateway.engine.store
        let entries: [JSONValue] = try store.outboxEntries(status: status, before: before).map { entry in
            .object([
                "id": .int(entry.id), "idempotency_key": .string(entry.row.idempotencyKey), "rule": .string(entry.row.rule),
                "action": .string(entry.row.action), "channel": entry.row.channel.map(JSONValue.string) ?? .null,
                "customer_id": entry.row.customerId.map(JSONValue.string) ?? .null, "attempts": .int(Int64(entry.attempts)),
                "last_error": entry.lastError.map(JSONValue.string) ?? .null,
                "consent_purpose": entry.row.consentPurpose.map(JSONValue.string) ?? .null,
                "payload": (try? JSONValue.parse(Data(entry.row.payload.utf8))) ?? .null,
            ])
        }
        let counts = try store.outboxCounts().mapValues { JSONValue.int(Int64($0)) }
        return APIResponse.json(.ok, JSONValue.object(["status": .string(status), "counts": .object(counts),
                                                       "entries": .array(entries)]).jsonText)
    }
}
