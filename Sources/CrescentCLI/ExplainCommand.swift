import ArgumentParser
import Engine
import Foundation
import Store

/// `crescent explain ID`: what every rule did with one event, or with each
/// decided event of one order.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show what every rule did with one event: result, score, reason, time; the decision and actions.",
        discussion: """
            ID is an event's messageId or an order id (properties.order_id): for an order, every \
            decided event about it is explained, oldest first. With --customer instead, the customer's \
            recent events, and with --rule what that one rule did with each: why did Ana get no coupon?
            """
    )

    @Argument(help: "The event's messageId, or an order id.")
    var id: String?

    @Option(help: "The SQLite database file.")
    var db = "crescent.db"

    @Option(help: "Explain this customer's recent events (a user id, or an anonymous id that joined one).")
    var customer: String?

    @Option(help: "With --customer: only this rule's result on each event (kind:name, such as promotion:tier_upgrade).")
    var rule: String?

    @Option(help: "With --customer: how many of the latest events.")
    var limit = 20

    func validate() throws {
        if (id == nil) == (customer == nil) { throw ValidationError("give a messageId or an order id, or --customer ID") }
        if rule != nil && customer == nil { throw ValidationError("--rule goes with --customer") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else {
            StandardStreams.writeError("error: \(db): no such database\n")
            throw ExitCode(1)
        }
        let store = try CrescentStore(path: db)
        if let customer {
            try explainCustomer(customer, in: store)
            return
        }
        let id = id ?? ""
        if try explain(messageId: id, in: store) { return }
        let decided = try store.decisions(orderId: id, limit: 1000).sorted { $0.at < $1.at }
        guard !decided.isEmpty else {
            StandardStreams.writeError("error: no event with messageId '\(id)', and no decision about an order '\(id)', in \(db)\n")
            throw ExitCode(1)
        }
        print("order     \(id): \(decided.count) decided event\(decided.count == 1 ? "" : "s"), last decision \(decided.last!.decision)")
        for decision in decided {
            print("")
            _ = try explain(messageId: decision.messageId, in: store)
        }
    }

    /// Prints one event's explanation; false when no event has that message id.
    func explain(messageId: String, in store: CrescentStore) throws -> Bool {
        guard let event = try store.event(messageId: messageId), let evaluation = try store.evaluation(messageId: messageId) else {
            return false
        }
        print("message   \(messageId)")
        print("event     \(event.name) (\(event.type)) at \(Timestamps.iso(event.timestamp))")
        print("customer  \(event.customerId ?? "-")")
        print("rules     version \(evaluation.rulesetVersion ?? "-")")
        let ruleIds = try evaluation.rulesetVersion.flatMap { try store.rulesetRules(version: $0) } ?? "[]"
        let rules = (try JSONDecoder().decode([String].self, from: Data(ruleIds.utf8)))
        let results = try RuleResult.decodeCompact(evaluation.results, rules: rules)
        if results.isEmpty { print("  (no rule applied to this event)") }
        for result in results {
            var line = "  \(result.outcome.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(result.rule)"
            if let score = result.score, score != 0 { line += "  +\(LuaNumber.text(score))" }
            if let reason = result.reason { line += "  \(reason)" }
            line += "  (\(result.micros) µs)"
            print(line)
        }
        if let decision = try store.decision(messageId: messageId) {
            print("decision  \(decision.decision) (score \(LuaNumber.text(decision.score)))")
        }
        for action in try store.outbox(messageId: messageId) {
            print("action    \(action.action) via \(action.channel ?? "-") from \(action.rule): \(action.payload)")
        }
        return true
    }
}

enum LuaNumber {
    static func text(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
