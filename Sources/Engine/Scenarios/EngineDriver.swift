import Foundation
import LuaKit
import Store

/// Drives one engine from Lua on a virtual clock: sends messages (each
/// stamped with the clock and a fresh message id), advances time, and reads
/// customers, journeys and actions back as Lua tables. Scenario tests and
/// the REPL both use it.
public final class EngineDriver {
    /// The engine driven (nil until a scenario starts).
    public var engine: Engine?
    /// The virtual time (ms since 1970) given to the next message.
    public var clock: Int64
    /// The last event's explanation: every rule that did not miss, one per line.
    public var lastExplanation: [String] = []
    /// How far ``advance(_:)`` may move the clock (nil: no bound). Scenario
    /// tests run before every reload, and the REPL waits for its answer: a
    /// move by centuries would run an hourly schedule millions of times and
    /// hold the reload, or the person typing, for hours.
    public var bound: ClockBound?
    private var sequence = 0
    private let prefix: String

    public init(engine: Engine? = nil, clock: Int64, messagePrefix: String = "scenario") {
        self.engine = engine
        self.clock = clock
        self.prefix = messagePrefix
    }

    public func send(_ message: LuaValue) throws -> LuaValue {
        guard let engine else { throw LuaHostError("no scenario is running") }
        guard case .object(var fields) = JSONValue(message) else { throw LuaHostError("a message must be a table") }
        sequence += 1
        fields["messageId"] = .string("\(prefix)-\(sequence)")
        fields["timestamp"] = .int(clock)
        let event: Event
        do {
            event = try Normalizer.normalize(.object(fields), now: clock)
        } catch {
            throw LuaHostError("invalid message: \(error)")
        }
        let outcome = try engine.process(event)
        let shown = outcome.results.filter { $0.outcome != .miss }
        let missed = outcome.results.count - shown.count
        lastExplanation = ["\(event.name) at \(Timestamps.iso(clock)):"] + shown.map { result in
            var line = "  \(result.outcome.rawValue) \(result.rule)"
            if let score = result.score, score != 0 { line += " +\(score)" }
            if let reason = result.reason { line += " (\(reason))" }
            return line
        } + (missed > 0 ? ["  (\(missed) other rules did not hit)"] : [])
        return Self.table(outcome)
    }

    public func advance(_ ms: Int64) throws {
        guard let engine else { return }
        if let bound, ms > bound.latest - clock {
            throw LuaHostError("advance: \(bound.subject) covers at most \(bound.span / 86_400_000 / 365) years of "
                + "virtual time from its start (\(Timestamps.iso(bound.start)) to \(Timestamps.iso(bound.latest)))")
        }
        // A fresh engine's clock starts at its first event or move: start it
        // where the session starts, so that a first move runs the schedules
        // due on the way, as it does after an event.
        if engine.state.clock == 0 { try engine.advance(to: clock) }
        clock += max(0, ms)
        try engine.advance(to: clock)
    }

    /// The customer as stored; an anonymous id or alias linked to a user
    /// gives that user (as the admin API does).
    public func customer(_ alias: String) throws -> LuaValue {
        guard let engine else { return .nil }
        try engine.flush()
        let id = try engine.store.resolve(alias: alias) ?? alias
        guard let row = try engine.store.customer(id: id) else { return .nil }
        let traits = (try? JSONValue.parse(Data(row.traits.utf8))) ?? .object([:])
        var segments: [LuaValue: LuaValue] = [:]
        for name in try engine.store.segments(of: id) { segments[.string(LuaString(name))] = .boolean(true) }
        let consent = (try? JSONValue.parse(Data(row.consent.utf8))) ?? .object([:])
        var fields: [LuaValue: LuaValue] = [
            "id": .string(LuaString(row.id)), "orders_count": .integer(Int64(row.ordersCount)), "total_spent": .number(row.totalSpent),
            "segments": .table(segments), "traits": traits.luaValue, "consent": consent.luaValue,
        ]
        let times: [(String, Int64?)] = [("first_seen", row.firstSeen), ("last_seen", row.lastSeen), ("last_order_at", row.lastOrderAt)]
        for (name, time) in times { if let time { fields[.string(LuaString(name))] = .string(LuaString(Timestamps.iso(time))) } }
        let touches: [(String, String?)] = [("first_touch", row.firstTouch), ("last_touch", row.lastTouch)]
        for (name, text) in touches {
            if let text, let touch = try? JSONValue.parse(Data(text.utf8)) { fields[.string(LuaString(name))] = touch.luaValue }
        }
        return .table(fields)
    }

    public func journey(_ alias: String, _ name: String) throws -> LuaValue {
        guard let engine else { return .nil }
        try checkRule("journey:" + name)
        try engine.flush()
        let user = try engine.store.resolve(alias: alias) ?? alias
        guard let row = try engine.store.journeyInstances(customerId: user).first(where: { $0.journey == name }) else { return .nil }
        var fields: [LuaValue: LuaValue] = [
            "status": .string(LuaString(row.status)), "step": .string(LuaString(row.step)), "converted": .boolean(row.converted),
            "key": .string(LuaString(row.key)),
        ]
        if let reason = row.exitReason { fields["exit_reason"] = .string(LuaString(reason)) }
        if let wake = row.wakeAt { fields["wake_at"] = .string(LuaString(Timestamps.iso(wake))) }
        if let note = row.note { fields["note"] = .string(LuaString(note)) } // why a message waits: quiet hours, a cap
        return .table(fields)
    }

    /// Throws when the rule set declares no rule `rule` (`kind:name`), so a
    /// misspelt name in an expectation fails instead of never matching.
    public func checkRule(_ rule: String) throws {
        if let problem = ruleProblem(rule) { throw LuaHostError(problem) }
    }

    /// Why `rule` names no rule of the rule set, with a hint; nil when it does.
    public func ruleProblem(_ rule: String) -> String? {
        guard let engine else { return nil }
        let declared = engine.rules.declarations.map(\.ruleId)
        if declared.contains(rule) { return nil }
        let name = rule.split(separator: ":", maxSplits: 1).last.map(String.init) ?? rule
        let hint: String
        if let qualified = declared.first(where: { $0.hasSuffix(":" + name) }) ?? NameSuggestion.closest(to: rule, among: declared) {
            hint = "did you mean \(qualified)?"
        } else if let kind = rule.split(separator: ":", maxSplits: 1).first, rule.contains(":") {
            let same = declared.filter { $0.hasPrefix(kind + ":") }.sorted()
            hint = same.isEmpty ? "rules are named kind:name, such as \(declared.sorted().first ?? "promotion:welcome")"
                : "the \(kind) rules are \(same.joined(separator: ", "))"
        } else {
            hint = "rules are named kind:name, such as \(declared.sorted().first ?? "promotion:welcome")"
        }
        return "no rule '\(rule)' in the rule set: \(hint)"
    }

    public func sent(_ rule: String?) throws -> LuaValue {
        guard let engine else { return .array([]) }
        if let rule { try checkRule(rule) } // (a scenario checks first, to point at its own line)
        try engine.flush()
        let rows = try rule.map { try engine.store.outbox(rule: $0) } ?? engine.store.outboxEntries(status: "pending", limit: 1000).map(\.row).reversed()
        return .array(rows.map { row in
            var payload = (try? JSONValue.parse(Data(row.payload.utf8)))?.object ?? [:]
            payload["rule"] = .string(row.rule)
            payload["customer_id"] = row.customerId.map(JSONValue.string) ?? .null
            return JSONValue.object(payload).luaValue
        })
    }

    public static func table(_ outcome: EventOutcome) -> LuaValue {
        var results: [LuaValue: LuaValue] = [:]
        for result in outcome.results {
            var fields: [LuaValue: LuaValue] = ["outcome": .string(LuaString(result.outcome.rawValue))]
            if let reason = result.reason { fields["reason"] = .string(LuaString(reason)) }
            if let score = result.score { fields["score"] = .number(score) }
            results[.string(LuaString(result.rule))] = .table(fields)
        }
        var table: [LuaValue: LuaValue] = [
            "message_id": .string(LuaString(outcome.messageId)),
            "duplicate": .boolean(outcome.duplicate),
            "results": .table(results),
            "entered": .array(outcome.segmentChanges.filter(\.1).map { .string(LuaString($0.0)) }),
            "exited": .array(outcome.segmentChanges.filter { !$0.1 }.map { .string(LuaString($0.0)) }),
            "actions": .array(outcome.actions.map { action in
                var payload = action.payload.object ?? [:]
                payload["rule"] = .string(action.rule)
                return JSONValue.object(payload).luaValue
            }),
        ]
        if let decision = outcome.decision {
            table["decision"] = .string(LuaString(decision.verdict.rawValue))
            table["score"] = .number(decision.score)
            table["reasons"] = .array(decision.reasons.map { .string(LuaString($0)) })
        }
        return .table(table)
    }
}

/// How far an ``EngineDriver``'s clock may move from where it started, and
/// what the error says is bounded ("a scenario", "the REPL").
public struct ClockBound: Sendable {
    public var start: Int64
    public var span: Int64
    public var subject: String
    public var latest: Int64 { start + span }

    public init(start: Int64, span: Int64, subject: String) {
        self.start = start
        self.span = span
        self.subject = subject
    }
}
