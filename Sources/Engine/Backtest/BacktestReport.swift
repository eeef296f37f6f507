import Foundation
import Store

/// The outcome of a ``Backtest``: per-rule hits of the candidate and the
/// current rule set, decisions the candidate would change against those on
/// record, and precision, recall and false-positive rate against fraud
/// labels for the candidate, the current rules and the record.
public struct BacktestReport: Codable, Sendable {
    public var database: String
    /// The window (ms since 1970): from `since` to the newest stored event.
    public var since: Int64
    public var until: Int64
    public var eventsInWindow: Int
    public var labelledOrders: Int
    public var candidate: Side
    public var current: Side
    /// The decisions on record in the window (made by whatever version was live then).
    public var recorded: Metrics
    public var changes: Changes

    /// One rule set's replay.
    public struct Side: Codable, Sendable {
        public var rules: String
        public var version: String
        public var ruleHits: [RuleCount]
        public var metrics: Metrics

        init(rules: String, version: String, tally: ReplayTally, labels: Set<String>) {
            self.rules = rules
            self.version = version
            let declared = Set(tally.declared)
            let names = declared.union(tally.hits.keys).union(tally.shadowHits.keys).union(tally.errors.keys).union(tally.disabled)
            ruleHits = names.sorted().map {
                RuleCount(rule: $0, declared: declared.contains($0), runs: tally.runs[$0] ?? 0, hits: tally.hits[$0] ?? 0,
                          customers: tally.reached[$0]?.count ?? 0,
                          shadowHits: tally.shadowHits[$0] ?? 0, errors: tally.errors[$0] ?? 0,
                          lastError: tally.lastErrors[$0], disabled: tally.disabled.contains($0))
            }
            metrics = Metrics(decisions: tally.decisions.values.map { ($0.orderId, $0.verdict) }, labels: labels)
        }

        func count(_ rule: String) -> RuleCount? { ruleHits.first { $0.rule == rule } }
    }

    /// A rule's counts inside the window.
    public struct RuleCount: Codable, Sendable, Equatable {
        public var rule: String
        /// Whether this side's rule files declare the rule (false: it only shows up in results).
        public var declared: Bool
        /// Events in the window the rule ran on, whatever its answer.
        public var runs: Int
        public var hits: Int
        /// How many customers it hit (a promotion's reach).
        public var customers: Int
        /// Would-be hits of a rule in shadow mode.
        public var shadowHits: Int
        public var errors: Int
        /// The last error the rule raised (`file:line: message`).
        public var lastError: String?
        /// Whether the rule was disabled after repeated errors (it stopped running for the rest of the window).
        public var disabled: Bool
    }

    /// Orders judged against the labels. An order is flagged when any of its
    /// decisions in the window was `review` or `block`.
    public struct Metrics: Codable, Sendable, Equatable {
        public var ordersDecided = 0
        public var flagged = 0
        public var truePositives = 0
        public var falsePositives = 0
        public var falseNegatives = 0
        public var trueNegatives = 0
        /// Flagged orders that were fraud (nil when nothing was flagged).
        public var precision: Double?
        /// Fraud orders that were flagged (nil when no decided order is labelled).
        public var recall: Double?
        /// Legitimate orders that were flagged.
        public var falsePositiveRate: Double?

        public init(decisions: [(orderId: String?, verdict: String)], labels: Set<String>) {
            var flaggedByOrder: [String: Bool] = [:]
            for decision in decisions {
                guard let order = decision.orderId else { continue }
                flaggedByOrder[order] = (flaggedByOrder[order] ?? false) || decision.verdict != "allow"
            }
            ordersDecided = flaggedByOrder.count
            for (order, isFlagged) in flaggedByOrder {
                let fraud = labels.contains(order)
                switch (isFlagged, fraud) {
                case (true, true): truePositives += 1
                case (true, false): falsePositives += 1
                case (false, true): falseNegatives += 1
                case (false, false): trueNegatives += 1
                }
            }
            flagged = truePositives + falsePositives
            precision = flagged == 0 ? nil : Double(truePositives) / Double(flagged)
            recall = truePositives + falseNegatives == 0 ? nil : Double(truePositives) / Double(truePositives + falseNegatives)
            falsePositiveRate = falsePositives + trueNegatives == 0 ? nil : Double(falsePositives) / Double(falsePositives + trueNegatives)
        }
    }

    /// Decisions on record that the candidate would make differently.
    public struct Changes: Codable, Sendable {
        public var total = 0
        /// "allow → block" → count.
        public var byTransition: [String: Int] = [:]
        /// The first few, to read.
        public var examples: [Example] = []
    }

    /// One event whose decision the candidate would change: what was decided and what would be.
    public struct Example: Codable, Sendable {
        public var messageId: String
        public var orderId: String?
        public var from: String
        public var to: String
        public var score: Double
        public var reasons: [String]
    }

    static func changes(candidate: ReplayTally, recorded: [RecordedDecision]) -> Changes {
        var changes = Changes()
        for record in recorded.sorted(by: { $0.at < $1.at }) {
            let mine = candidate.decisions[record.messageId]
            let verdict = mine?.verdict ?? "allow"
            guard verdict != record.decision else { continue }
            changes.total += 1
            changes.byTransition["\(record.decision) → \(verdict)", default: 0] += 1
            if changes.examples.count < 20 {
                changes.examples.append(Example(messageId: record.messageId, orderId: record.orderId, from: record.decision, to: verdict,
                                                score: mine?.score ?? 0, reasons: mine?.reasons ?? []))
            }
        }
        return changes
    }

    /// The report for a terminal.
    public var text: String {
        var lines = ["backtest of \(database): \(eventsInWindow) events from \(Timestamps.iso(since)) to \(Timestamps.iso(until)), "
                     + "\(labelledOrders) order\(labelledOrders == 1 ? "" : "s") labelled fraud"]
        lines.append("candidate \(candidate.rules) (\(candidate.version)) against current \(current.rules) (\(current.version))")
        lines.append("")
        lines.append(pad("rule", 40) + pad("candidate", 24) + pad("current", 24) + "change")
        let rules = Set(candidate.ruleHits.map(\.rule)).union(current.ruleHits.map(\.rule)).sorted()
        for rule in rules {
            let c = candidate.count(rule), o = current.count(rule)
            let show = { (r: RuleCount?) in
                guard let r else { return "-" } // not in that rule set
                let reach = r.customers > 0 && r.customers < r.hits ? " (\(r.customers) customer\(r.customers == 1 ? "" : "s"))" : ""
                return r.shadowHits > 0 ? "\(r.hits)\(reach) (+\(r.shadowHits) shadow)" : "\(r.hits)\(reach)"
            }
            let delta = ((c?.hits ?? 0) + (c?.shadowHits ?? 0)) - ((o?.hits ?? 0) + (o?.shadowHits ?? 0))
            let inCandidate = c?.declared == true, inCurrent = o?.declared == true
            var change = delta == 0 ? "" : (delta > 0 ? "+\(delta)" : "\(delta)")
            if inCandidate && !inCurrent { change = "new" + (delta == 0 ? "" : " (\(change))") }
            if inCurrent && !inCandidate { change = "removed" + (delta == 0 ? "" : " (\(change))") }
            var line = pad(rule, 40) + pad(show(c), 24) + pad(show(o), 24) + change
            // A condition that never held (counters and journeys record only what they did, not each look).
            if let c, inCandidate, c.hits + c.shadowHits == 0, c.errors == 0, !c.disabled,
               ["fraud:", "promotion:", "segment:"].contains(where: rule.hasPrefix) {
                line += c.runs == 0 ? "  (did not run in the window: no event it listens to)"
                    : "  (ran on \(c.runs) event\(c.runs == 1 ? "" : "s") in the window, no hit)"
            }
            if let c, c.errors > 0 || c.disabled {
                let what = c.errors == 0 ? "disabled after repeated errors before the window"
                    : "\(c.errors) errors in the candidate\(c.disabled ? ", then disabled" : "")"
                line += "  (\(what)" + (c.lastError.map { "; last: \($0)" } ?? "") + ")"
            }
            lines.append(line)
        }
        lines.append("")
        lines.append("decisions the candidate would change: \(changes.total)")
        for (transition, n) in changes.byTransition.sorted(by: { $0.key < $1.key }) { lines.append("  \(transition): \(n)") }
        for example in changes.examples.prefix(5) {
            lines.append("  e.g. order \(example.orderId ?? "-") (\(example.messageId)): \(example.from) → \(example.to)"
                         + (example.reasons.isEmpty ? "" : " (\(example.reasons.joined(separator: "; ")))"))
        }
        lines.append("")
        lines.append("against the labels   " + pad("precision", 11) + pad("recall", 9) + pad("FP rate", 9) + "TP/FP/FN/TN")
        for (name, m) in [("candidate", candidate.metrics), ("current", current.metrics), ("on record", recorded)] {
            lines.append(pad("  " + name, 21) + pad(percent(m.precision), 11) + pad(percent(m.recall), 9) + pad(percent(m.falsePositiveRate), 9)
                         + "\(m.truePositives)/\(m.falsePositives)/\(m.falseNegatives)/\(m.trueNegatives)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    private func percent(_ value: Double?) -> String { value.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
}
