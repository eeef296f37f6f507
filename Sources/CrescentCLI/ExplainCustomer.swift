import ArgumentParser
import Engine
import Foundation
import Store

/// `crescent explain --customer ID [--rule RULE]`: a customer's recent
/// events with what the rules did, to answer "why did this customer (not)
/// get that?".
extension ExplainCommand {
    func explainCustomer(_ alias: String, in store: CrescentStore) throws {
        let id = try store.resolve(alias: alias) ?? alias
        guard try store.customer(id: id) != nil else {
            StandardStreams.writeError("error: no customer '\(alias)' in \(db)\n")
            throw ExitCode(1)
        }
        let events = try store.recentEvents(customerId: id, limit: limit).reversed()
        print("customer  \(id)\(id == alias ? "" : " (\(alias) joined it)"): the latest \(events.count) event\(events.count == 1 ? "" : "s"), oldest first")
        if let rule { print("rule      \(rule)") }
        var rulesByVersion: [String: [String]] = [:]
        var seenRule = false
        for event in events {
            let head = "\(Timestamps.iso(event.timestamp))  \(event.name)  \(event.messageId)"
            guard let evaluation = try store.evaluation(messageId: event.messageId) else {
                print(rule == nil ? head + "\n  (not evaluated)" : head + "  (not evaluated)")
                continue
            }
            let version = evaluation.rulesetVersion ?? "-"
            if rulesByVersion[version] == nil {
                let ids = try evaluation.rulesetVersion.flatMap { try store.rulesetRules(version: $0) } ?? "[]"
                rulesByVersion[version] = try JSONDecoder().decode([String].self, from: Data(ids.utf8))
            }
            let known = rulesByVersion[version] ?? []
            let results = try RuleResult.decodeCompact(evaluation.results, rules: known)
            if let rule {
                guard known.contains(rule) else {
                    print(head + "  (not in rule set \(version))")
                    continue
                }
                seenRule = true
                guard let result = results.first(where: { $0.rule == rule }) else {
                    print(head + "  did not run (not an event it listens to)")
                    continue
                }
                print(head + "  " + Self.describe(result, named: false))
            } else {
                print(head)
                for result in results where result.outcome != .miss { print("  " + Self.describe(result, named: true)) }
            }
        }
        if let rule, !seenRule, !events.isEmpty {
            StandardStreams.writeError("warning: no rule set that judged these events has a rule '\(rule)' (rules are named kind:name)\n")
        }
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
