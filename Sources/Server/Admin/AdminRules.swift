import Engine
import Foundation
import Hummingbird
import NIOCore
import Store

/// Admin calls on the rule set: health, reload, rollback.
extension AdminAPI {
    /// `GET /v1/rules`. `stale`: a live rule that has not fired within
    /// `staleAfter` (ms) of the engine's clock. `errors` holds the running
    /// version's load problems and, while the files hold a rejected version,
    /// its errors and failed scenarios (`"reload": true`).
    func rules(staleAfter: Int64, readings: EngineReadings) -> Response {
        let stats = readings.stats
        let now = readings.clock
        let rules: [JSONValue] = readings.rules.map { d in
            let s = stats[d.id] ?? RuleStats.none
            return .object([
                "name": .string(d.name), "kind": .string(d.kind.rawValue), "id": .string(d.id),
                "file": .string(d.file), "line": .int(Int64(d.line)), "mode": .string(d.isShadow ? "shadow" : "live"),
                "hits": .int(Int64(s.hits)), "shadow_hits": .int(Int64(s.shadowHits)), "errors": .int(Int64(s.errors)),
                "disabled": .bool(s.disabled), "last_error": s.lastError.map(JSONValue.string) ?? .null,
                "last_fired": s.lastHitAt.map { .string(Timestamps.iso($0)) } ?? .null,
                "evaluations": .int(Int64(s.latency.count)), "micros": .int(Int64(s.latency.totalMicros)),
                "stale": .bool(!d.isShadow && [RuleKind.segment, .promotion, .fraud, .journey].contains(d.kind)
                               && (s.lastHitAt.map { now - $0 > staleAfter } ?? true)),
            ])
        }
        let status = reloader.status
        var errors: [JSONValue] = readings.problems.map { Self.problem($0, reload: false) }
        if let failure = status.failure { errors += Self.errors(of: failure) }
        var body: [String: JSONValue] = ["version": .string(readings.version), "rules": .array(rules), "errors": .array(errors)]
        if let last = status.last { body["reload"] = Self.json(last) }
        return APIResponse.json(.ok, JSONValue.object(body).jsonText)
    }

    /// `POST /v1/rules/reload`: check, test and swap in the files now; 422 when rejected.
    func reloadNow() throws -> Response {
        let attempt = reload(nil)
        try recordAudit("rules_reload", subject: "rules", ["result": .string(attempt.result.rawValue),
                                                             "version": attempt.version.map(JSONValue.string) ?? .null, "running": .string(attempt.running)])
        return APIResponse.json(attempt.result == .rejected ? .unprocessableContent : .ok, Self.json(attempt).jsonText)
    }

    /// `POST /v1/rules/rollback` with `{"version": "<hash or prefix>"}`: that
    /// version's files are written back (the folder is backed up first) and
    /// loaded after `crescent check` (its scenarios are not run: the version
    /// ran before, and the scenario files may describe the newer rules).
    func rollback(_ body: ByteBuffer) throws -> Response {
        // Text only, and at least 4 characters: a number (0) or a one-letter prefix would pick a version by accident.
        guard let object = try? JSONValue.parse(Data(buffer: body)).object, case .string(let version)? = object["version"],
              version.count >= 4 else {
            return APIProblem(.badRequest, "invalid_body", "send {\"version\": \"<hash or unique prefix of at least 4 characters>\"}").response
        }
        let done: RulesetRollback
        do {
            done = try RulesetRollback.perform(store: gateway.engine.store, version: version, rulesFolder: configuration.rules)
        } catch let failure as RulesetRollback.Failure {
            return APIProblem(.notFound, "unknown_version", failure.description).response
        }
        let attempt = reload(false)
        try recordAudit("rules_rollback", subject: "rules", ["version": .string(done.version), "backup": .string(done.backup),
                                                               "result": .string(attempt.result.rawValue)])
        let result: JSONValue = .object([
            "version": .string(done.version), "files_written": .int(Int64(done.written)), "files_removed": .int(Int64(done.removed)),
            "backup": .string(done.backup), "reload": Self.json(attempt),
        ])
        return APIResponse.json(attempt.result == .rejected ? .unprocessableContent : .ok, result.jsonText)
    }

    static func problem(_ p: RuleProblem, reload: Bool) -> JSONValue {
        .object(["file": .string(p.file), "line": p.line.map { .int(Int64($0)) } ?? .null,
                 "severity": .string(p.severity.rawValue), "message": .string(p.message), "reload": .bool(reload)])
    }

    static func errors(of attempt: ReloadAttempt) -> [JSONValue] {
        attempt.problems.filter { $0.severity == .error }.map { problem($0, reload: true) } + attempt.failedScenarios.map { s in
            .object(["file": .string(s.file), "line": .int(Int64(s.line)), "severity": .string("error"),
                     "message": .string("scenario \"\(s.name)\" failed: \(s.failure ?? "")"), "reload": .bool(true)])
        }
    }

    static func json(_ attempt: ReloadAttempt) -> JSONValue {
        .object([
            "result": .string(attempt.result.rawValue), "at": .string(Timestamps.iso(attempt.at)),
            "version": attempt.version.map(JSONValue.string) ?? .null, "running": .string(attempt.running),
            "milliseconds": .double(attempt.milliseconds.rounded()),
            "problems": .array(attempt.problems.map { problem($0, reload: true) }),
            "failed_scenarios": .array(attempt.failedScenarios.map { s in
                .object(["file": .string(s.file), "line": .int(Int64(s.line)), "name": .string(s.name),
                         "failure": .string(s.failure ?? ""), "last_event": .array(s.lastEvent.map(JSONValue.string))])
            }),
            "journey_migrations": .array(attempt.migrations.map { .string($0.description) }),
        ])
    }
}
