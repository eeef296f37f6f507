import Engine
import Foundation
import Hummingbird
import Store

/// The audit log over the admin API: what was done through it to customers
/// (erasures, corrections), orders (reviews), lists and the rule set, and
/// when; `GET /v1/audit` reads it.
extension AdminAPI {
    /// `GET /v1/audit?action=&subject=&before=&limit=`: entries newest first;
    /// `next` is the `before` of the next page.
    func audit(before: Int64, action: String?, subject: String?, limit: Int) throws -> Response {
        if let action, !Self.auditActions.contains(action) {
            throw APIProblem(.badRequest, "invalid_action",
                             "action must be one of \(Self.auditActions.joined(separator: ", ")), not '\(action)'")
        }
        let entries = try gateway.engine.store.auditLog(before: before, action: action, subject: subject, limit: limit)
        let items: [JSONValue] = entries.map { entry in
            .object([
                "id": .int(entry.id), "at": .string(Timestamps.iso(entry.at)), "action": .string(entry.action),
                "subject": .string(entry.subject),
                "detail": (try? JSONValue.parse(Data(entry.detail.utf8))) ?? .string(entry.detail),
            ])
        }
        var body: [String: JSONValue] = ["entries": .array(items)]
        if entries.count == limit, let last = entries.last { body["next"] = .int(last.id) }
        return APIResponse.json(.ok, JSONValue.object(body).jsonText)
    }

    /// What the audit log records.
    static let auditActions = ["erase", "correct", "review", "list_add", "list_remove", "rules_reload", "rules_rollback"]

    /// Records an act of the admin API in the audit log, at the server's time.
    func recordAudit(_ action: String, subject: String, _ detail: [String: JSONValue]) throws {
        try gateway.engine.store.recordAudit(action: action, subject: subject, detail: JSONValue.object(detail).jsonText,
                                             at: Int64(Date().timeIntervalSince1970 * 1000))
    }
}
