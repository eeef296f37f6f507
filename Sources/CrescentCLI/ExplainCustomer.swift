import ArgumentParser
import Engine
import Foundation
import Store

/// `crescent explain --customer ID [--rule RULE]`: a customer's recent
/// events with what the rules did, to answer "why did this customer (not)
/// get that?".
extension ExplainCommand {
    /// How far back `--rule` looks for events the rule ran on.
    static let ruleScanLimit = 5_000

    func explainCustomer(_ alias: String, in store: CrescentStore) throws {
        let id = try store.resolve(alias: alias) ?? alias
        guard try store.customer(id: id) != nil else {
            StandardStreams.writeError("error: no customer '\(alias)' in \(db)\n")
            throw ExitCode(1)
        }
        let joined = id == alias ? "" : " (\(alias) joined it)"
        var judged = JudgedEvents(store: store)
        if let rule {
            try explainRule(rule, customer: id, joined: joined, store: store, judged: &judged)
            return
        }
        let events = try store.recentEvents(customerId: id, limit: limit).reversed()
        print("customer  \(id)\(joined): the latest \(events.count) event\(events.count == 1 ? "" : "s"), oldest first")
        for event in events {
            print(Self.head(event))
            guard let results = try judged.results(of: event)?.results else {
                print("  (not evaluated)")
                continue
            }
            for result in results where result.outcome != .miss { print("  " + Self.describe(result, named: true)) }
        }
    }

    /// The latest `limit` events the rule had something to say about (ran
    /// on, or was missing from the rule set then), oldest first; the events
    /// it does not listen to are counted, not listed.
    private func explainRule(_ rule: String, customer id: String, joined: String, store: CrescentStore,
                             judged: inout JudgedEvents) throws {
        let recent = try store.recentEvents(customerId: id, limit: Self.ruleScanLimit)
        var shown: [String] = [], notListened = 0, seenRule = false
        for event in recent where shown.count < limit {
            guard let judgement = try judged.results(of: event) else {
                shown.append(Self.head(event) + "  (not evaluated)")
                continue
            }
            guard judgement.rules.contains(rule) else {
                shown.append(Self.head(event) + "  (not in rule set \(judgement.version))")
                continue
            }
            seenRule = true
            guard let result = judgement.results.first(where: { $0.rule == rule }) else {
                notListened += 1
                continue
            }
            shown.append(Self.head(event) + "  " + Self.describe(result, named: false))
        }
        let looked = recent.count == Self.ruleScanLimit ? "of their latest \(Self.ruleScanLimit) events" : "of their events"
        print("customer  \(id)\(joined): the latest \(shown.count) \(looked) that \(rule) ran on, oldest first")
        print("rule      \(rule)")
        for line in shown.reversed() { print(line) }
        if notListened > 0 {
            print("(\(notListened) other event\(notListened == 1 ? "" : "s") it does not listen to left out)")
        }
        if !seenRule, !recent.isEmpty {
            let hint = NameSuggestion.closest(to: rule, among: judged.rules).map { "did you mean \($0)?" } ?? "rules are named kind:name"
            StandardStreams.writeError("warning: no rule set that judged these events has a rule '\(rule)' (\(hint))\n")
        }
    }

    static func head(_ event: EventRow) -> String {
        "\(Timestamps.iso(event.timestamp))  \(event.name)  \(event.messageId)"
    }

    /// One result as a line: outcome, rule (when `named`), score and reason.
    static func describe(_ result: RuleResult, named: Bool) -> String {
        var line = result.outcome.rawValue
        if named { line = line.padding(toLength: 10, withPad: " ", startingAt: 0) + " " + result.rule }
        if let score = result.score, score != 0 { line += "  +\(LuaNumber.text(score))" }
        if let reason = result.reason { line += "  \(reason)" }
        return line
    }
}

/// Stored explanations of events, with the rules of the version that judged
/// each (read once per version).
struct JudgedEvents {
    let store: CrescentStore
    private var rulesByVersion: [String: [String]] = [:]

    init(store: CrescentStore) { self.store = store }

    /// Every rule of the versions read so far.
    var rules: Set<String> { Set(rulesByVersion.values.joined()) }

    /// The version, its rules and each result; nil for an event never evaluated.
    mutating func results(of event: EventRow) throws -> (version: String, rules: [String], results: [RuleResult])? {
        guard let evaluation = try store.evaluation(messageId: event.messageId) else { return nil }
        let version = evaluation.rulesetVersion ?? "-"
        if rulesByVersion[version] == nil {
            let ids = try evaluation.rulesetVersion.flatMap { try store.rulesetRules(version: $0) } ?? "[]"
            rulesByVersion[version] = try JSONDecoder().decode([String].self, from: Data(ids.utf8))
        }
        let known = rulesByVersion[version] ?? []
        return (version, known, try RuleResult.decodeCompact(evaluation.results, rules: known))
    }
}
