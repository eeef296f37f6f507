import Engine
import Foundation
import Hummingbird
import Store

/// Admin calls on customer data (export, erasure), segments, decisions and lists.
extension AdminAPI {
    /// `GET /v1/customers/{id}/export`: every row held on the customer.
    func export(_ id: String) throws -> Response {
        rejections.flush() // the refused messages naming them are part of the export
        let store = gateway.engine.store
        let resolved = try store.resolve(alias: id) ?? id
        guard let document = try store.exportCustomer(resolved) else {
            return APIProblem(.notFound, "not_found", "no customer \(id)").response
        }
        return APIResponse.json(.ok, document)
    }

    /// `GET /v1/customers/{id}/recommendations?n=10`: products for the customer, best first, with the reason.
    func recommendations(_ id: String, n: Int) throws -> Response {
        let engine = gateway.engine
        let resolved = try engine.store.resolve(alias: id) ?? id
        guard try engine.store.customer(id: resolved) != nil else {
            return APIProblem(.notFound, "not_found", "no customer \(id)").response
        }
        let recommendations = try engine.recommendations(for: resolved, n: n)
        let items: [JSONValue] = recommendations.items.map {
            .object(["sku": .string($0.sku), "score": .double($0.score), "reason": .string($0.reason)])
        }
        return APIResponse.json(.ok, JSONValue.object([
            "customer": .string(resolved), "personalized": .bool(recommendations.personalized), "items": .array(items),
        ]).jsonText)
    }

    /// `DELETE /v1/customers/{id}`: erase personal data, keep anonymised aggregates, audit it.
    func forget(_ id: String) throws -> Response {
        rejections.flush() // the refused messages naming them are erased too
        let engine = gateway.engine
        let resolved = try engine.store.resolve(alias: id) ?? id
        guard let counts = try engine.forget(customerId: resolved) else {
            return APIProblem(.notFound, "not_found", "no customer \(id)").response
        }
        let body: JSONValue = .object(["erased": .bool(true), "removed": .object(counts.mapValues { .int(Int64($0)) })])
        return APIResponse.json(.ok, body.jsonText)
    }

    func segments() throws -> Response {
        let engine = gateway.engine
        let sizes = try engine.store.segmentSizes()
        let declared = engine.declarations.filter { $0.kind == .segment }
        let items: [JSONValue] = declared.map { d in
            .object(["name": .string(d.name), "size": .int(Int64(sizes[d.name] ?? 0)),
                     "description": d.string("description").map(JSONValue.string) ?? .null, "mode": .string(d.isShadow ? "shadow" : "live")])
        }
        return APIResponse.json(.ok, JSONValue.object(["segments": .array(items)]).jsonText)
    }

    /// A page of a segment's members; `limit` (1 to 1,000) checked by the caller.
    func members(_ segment: String, after: String, limit: Int) throws -> Response {
        let page = try gateway.engine.store.segmentMembers(segment, after: after, limit: limit)
        let members: [JSONValue] = page.map {
            .object(["customer_id": .string($0.customerId), "entered_at": .string(Timestamps.iso($0.enteredAt))])
        }
        var body: [String: JSONValue] = ["segment": .string(segment), "members": .array(members)]
        if page.count == limit, let last = page.last { body["next"] = .string(last.customerId) }
        return APIResponse.json(.ok, JSONValue.object(body).jsonText)
    }

    func decisions(order: String?, customer: String?, verdict: String?, review: String?, limit: Int) throws -> Response {
        if let verdict, FraudDecision.Verdict(rawValue: verdict) == nil {
            return APIProblem(.badRequest, "invalid_decision", "decision must be allow, review or block, not '\(verdict)'").response
        }
        if let review, review != "open", review != "done" {
            return APIProblem(.badRequest, "invalid_review", "review must be open (no review yet) or done, not '\(review)'").response
        }
        let store = gateway.engine.store
        let rows = try store.decisions(orderId: order, customerId: customer, verdict: verdict,
                                       reviewed: review.map { $0 == "done" }, limit: limit)
        let reviews = try store.reviews(orderIds: rows.compactMap(\.orderId))
        let items: [JSONValue] = rows.map { row in
            .object([
                "message_id": .string(row.messageId), "order_id": row.orderId.map(JSONValue.string) ?? .null,
                "customer_id": row.customerId.map(JSONValue.string) ?? .null, "decision": .string(row.decision),
                "score": .double(row.score), "reasons": (try? JSONValue.parse(Data(row.reasons.utf8))) ?? .array([]),
                // Each fraud rule's result, as /v1/decide answers them (stored as JSON text).
                "rules": (try? JSONValue.parse(Data(row.rules.utf8))) ?? .array([]), "ruleset_version": row.rulesetVersion.map(JSONValue.string) ?? .null,
                "at": .string(Timestamps.iso(row.at)), "review": Self.reviewJSON(row.orderId.flatMap { reviews[$0] }),
            ])
        }
        return APIResponse.json(.ok, JSONValue.object(["decisions": .array(items)]).jsonText)
    }

    /// Every list: declared in a rule file, filled through this API, or both.
    func lists() -> Response {
        let engine = gateway.engine
        let sizes = engine.listSizes()
        let declared = engine.declarations.filter { $0.kind == .list }
        let names = (declared.map(\.name) + sizes.keys.sorted()).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let items: [JSONValue] = names.map { name in
            let size = sizes[name] ?? .empty
            let declaration = declared.first { $0.name == name }
            return .object(["name": .string(name), "entries": .int(Int64(size.entries)),
                            "from_files": .int(Int64(size.fromFiles)), "from_rules": .int(Int64(size.fromRules)),
                            "from_admin": .int(Int64(size.entries - size.fromFiles - size.fromRules)),
                            "hits": .int(Int64(size.hits)), "file": declaration.map { .string($0.file) } ?? .null,
                            "description": declaration?.string("description").map(JSONValue.string) ?? .null])
        }
        return APIResponse.json(.ok, JSONValue.object(["lists": .array(items)]).jsonText)
    }

    func list(_ name: String) throws -> Response {
        let hits = gateway.engine.listHits(name)
        let entries: [JSONValue] = try gateway.engine.store.listEntries(name).map {
            .object(["value": .string($0.value), "source": .string($0.source), "added_at": .string(Timestamps.iso($0.addedAt)),
                     "hits": .int(Int64(hits[$0.value] ?? 0))])
        }
        return APIResponse.json(.ok, JSONValue.object(["list": .string(name), "entries": .array(entries)]).jsonText)
    }

    func changeList(_ name: String, _ value: String, add: Bool) throws -> Response {
        let engine = gateway.engine
        let changed: Bool
        do {
            changed = add ? try engine.addListEntry(name, value) : try engine.removeListEntry(name, value)
        } catch let declared as ListEntryDeclared {
            return APIProblem(.conflict, "declared_in_rules", declared.description).response
        }
        if changed { try recordAudit(add ? "list_add" : "list_remove", subject: "list:" + name, ["value": .string(value)]) }
        return APIResponse.json(.ok, JSONValue.object(["list": .string(name), "value": .string(value),
                                                       add ? "added" : "removed": .bool(changed)]).jsonText)
    }
}
