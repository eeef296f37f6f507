import Foundation
import Store


/// What one rule did with one event: the unit of every explanation.
public struct RuleResult: Sendable, Equatable, Codable {
    /// The possible outcomes.
    public enum Outcome: String, Sendable, Codable {
        /// The rule matched (and acted, for live rules).
        case hit
        /// The rule ran and did not match.
        case miss
        /// The rule raised an error or hit a limit; it was skipped for this event.
        case error
        /// The host stopped the rule before it could act (consent, fraud block, limits).
        case suppressed
        /// A shadow-mode rule matched; recorded, not acted on.
        case shadowHit = "shadow_hit"
        /// The rule is disabled after repeated errors.
        case disabled
    }

    public var rule: String
    public var kind: String
    public var outcome: Outcome
    public var score: Double?
    public var reason: String?
    public var micros: Int

    public init(rule: String, kind: String, outcome: Outcome, score: Double? = nil, reason: String? = nil, micros: Int = 0) {
        self.rule = rule
        self.kind = kind
        self.outcome = outcome
        self.score = score
        self.reason = reason
        self.micros = micros
    }

    /// The reason given to a segment that was not run again because nothing
    /// it read changed: its answer is the one it gave last.
    public static let unchanged = "unchanged"

    /// The reason a segment's result gives when the customer enters it.
    public static let entered = "entered"
    /// The reason a shadow-mode segment's result gives when the customer would enter it.
    public static let wouldEnter = "would enter"

    /// Whether the result counts as its rule's hit, as the engine counts
    /// them: a segment or a journey hits when the customer enters it (staying
    /// in a segment, or a journey's exit, goal or awaited event, which its
    /// explanation also shows as a hit, is not a hit); other rules on a hit.
    public var countsAsHit: Bool {
        guard outcome == .hit else { return false }
        switch kind {
        case "segment": return reason == Self.entered
        case "journey": return reason == Self.entered || reason?.hasPrefix(Self.entered + " for ") == true
        default: return true
        }
    }

    /// Whether the result counts as a shadow-mode rule's would-be hit (a
    /// segment: the customer would enter it).
    public var countsAsShadowHit: Bool {
        outcome == .shadowHit && (kind != "segment" || reason == Self.wouldEnter)
    }

    /// One-letter codes of the compact stored form; a capital letter is the
    /// same outcome kept ``unchanged`` (a segment not run again).
    static let codes: [Outcome: String] = [.hit: "h", .miss: "m", .error: "e", .suppressed: "s", .shadowHit: "w", .disabled: "d"]

    private static func code(_ outcome: Outcome) -> UInt8 {
        switch outcome {
        case .hit: UInt8(ascii: "h")
        case .miss: UInt8(ascii: "m")
        case .error: UInt8(ascii: "e")
        case .suppressed: UInt8(ascii: "s")
        case .shadowHit: UInt8(ascii: "w")
        case .disabled: UInt8(ascii: "d")
        }
    }

    /// The compact form stored for every event: `[[rule index, code, µs, score?, reason?], ...]`,
    /// where the index points into the rule set's `rules` list. A miss costs about ten bytes.
    static func compactText(_ results: [RuleResult], index: [String: Int]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(2 + results.count * 14)
        out.append(UInt8(ascii: "["))
        for (position, result) in results.enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "["))
            append(index[result.rule] ?? -1, to: &out)
            let unchanged = result.reason == unchanged && result.score == nil
            out.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: "\""),
                                    unchanged ? code(result.outcome) &- 32 : code(result.outcome),
                                    UInt8(ascii: "\""), UInt8(ascii: ",")])
            append(result.micros, to: &out)
            if !unchanged && (result.score != nil || result.reason != nil) {
                out.append(UInt8(ascii: ","))
                if let score = result.score {
                    if score == score.rounded() && abs(score) < 1e15 { append(Int(score), to: &out) } else { out += "\(score)".utf8 }
                } else {
                    out += "null".utf8
                }
            }
            if !unchanged, let reason = result.reason {
                out.append(UInt8(ascii: ","))
                JSONValue.quote(reason, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the decimal digits of `value`.
    private static func append(_ value: Int, to out: inout [UInt8]) {
        // Most values are a rule's index or its microseconds: one or two digits.
        if value >= 0 && value < 100 {
            if value >= 10 { out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / 10)) }
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10))
            return
        }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// Reads the compact form back, given the rule set's rule ids.
    public static func decodeCompact(_ text: String, rules: [String]) throws -> [RuleResult] {
        guard case .array(let items) = try JSONValue.parse(Data(text.utf8)) else { return [] }
        let outcomes = Dictionary(uniqueKeysWithValues: codes.map { ($0.value, $0.key) })
        return items.compactMap { item -> RuleResult? in
            guard case .array(let fields) = item, fields.count >= 3, case .int(let index) = fields[0] else { return nil }
            let rule = index >= 0 && Int(index) < rules.count ? rules[Int(index)] : "unknown:\(index)"
            let kind = String(rule.prefix(while: { $0 != ":" }))
            let code = fields[1].stringValue ?? "m"
            let kept = code != code.lowercased() // a capital: kept unchanged
            let outcome = outcomes[code.lowercased()] ?? .miss
            let micros = Int(fields[2].doubleValue ?? 0)
            let score = fields.count > 3 ? fields[3].doubleValue : nil
            let reason = kept ? unchanged : fields.count > 4 ? fields[4].stringValue : nil
            return RuleResult(rule: rule, kind: kind, outcome: outcome, score: score, reason: reason, micros: micros)
        }
    }

    /// Appends the stored form (keys sorted, as ``json`` writes them) to `out`.
    func write(to out: inout [UInt8]) {
        out += #"{"kind":"#.utf8
        JSONValue.quote(kind, into: &out)
        out += #","micros":\#(micros),"outcome":"\#(outcome.rawValue)""#.utf8
        if let reason {
            out += #","reason":"#.utf8
            JSONValue.quote(reason, into: &out)
        }
        out += #","rule":"#.utf8
        JSONValue.quote(rule, into: &out)
        if let score { out += (",\"score\":" + (score == score.rounded() && abs(score) < 1e15 ? "\(Int64(score)).0" : "\(score)")).utf8 }
        out.append(UInt8(ascii: "}"))
    }

    /// A list of results in their stored form.
    static func jsonText(_ results: [RuleResult]) -> String {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (index, result) in results.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            result.write(to: &out)
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }
}

/// A fraud decision.
public struct FraudDecision: Sendable, Equatable, Codable {
    /// What the checkout should do with the order.
    public enum Verdict: String, Sendable, Codable, CaseIterable { case allow, review, block }
    public var verdict: Verdict
    public var score: Double
    public var reasons: [String]
    public var rules: [RuleResult]
}

extension FraudDecision {
    /// The decision as it was recorded (a retried checkout is answered with it).
    public init?(stored row: DecisionRow) {
        guard let verdict = Verdict(rawValue: row.decision) else { return nil }
        var reasons: [String] = []
        if case .array(let items)? = try? JSONValue.parse(Data(row.reasons.utf8)) { reasons = items.compactMap(\.stringValue) }
        let rules = (try? JSONDecoder().decode([RuleResult].self, from: Data(row.rules.utf8))) ?? []
        self.init(verdict: verdict, score: row.score, reasons: reasons, rules: rules)
    }
}

/// An action a rule asked for, on its way to the outbox.
public struct ActionRecord: Sendable, Equatable {
    public var rule: String
    public var action: String
    public var channel: String?
    public var payload: JSONValue
    public var idempotencyKey: String
    /// The consent the action was made under (`marketing`), checked again at delivery.
    public var consentPurpose: String? = nil
}

/// Everything the pipeline did with one event.
public struct EventOutcome: Sendable {
    public var messageId: String
    public var customerId: String?
    /// True when this message id was already processed: nothing changed.
    public var duplicate: Bool
    public var decision: FraudDecision?
    public var results: [RuleResult]
    public var actions: [ActionRecord]
    /// Segment changes: name → entered (true) or exited (false).
    public var segmentChanges: [(segment: String, entered: Bool)]
    /// Time the engine spent on the event.
    public var micros: Int = 0
    /// When the engine had evaluated it (before its commit).
    public var evaluatedAt = ContinuousClock.now

    static func duplicate(_ messageId: String) -> EventOutcome {
        EventOutcome(messageId: messageId, customerId: nil, duplicate: true, decision: nil, results: [], actions: [],
                     segmentChanges: [])
    }
}
