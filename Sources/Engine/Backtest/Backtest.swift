import Foundation
import Store

/// Replays a database's stored history through a candidate rule set and
/// the current one, each in a scratch store in memory (the database is
/// opened read-only and never changed), and compares them with each other,
/// with the decisions on record, and with fraud labels. Events before the
/// window build customer state; only events inside it are counted.
public struct Backtest: Sendable {
    public var database: String
    public var candidateRules: String
    public var currentRules: String
    public var pluginsDirectory: String?
    /// How far back from the newest stored event the window starts (ms).
    public var window: Int64
    /// Called now and then with (side, events replayed, events in the database).
    public var progress: (@Sendable (String, Int, Int) -> Void)?

    public init(database: String, candidateRules: String, currentRules: String, pluginsDirectory: String?, window: Int64) {
        self.database = database
        self.candidateRules = candidateRules
        self.currentRules = currentRules
        self.pluginsDirectory = pluginsDirectory
        self.window = window
    }

    /// Runs both replays (in parallel, one thread each) and compares them.
    public func run() throws -> BacktestReport {
        let source = try CrescentStore(readOnly: database)
        let total = try source.count("events")
        guard let newest = try source.latestEventTime() else { throw StoreError("\(database) holds no events to backtest") }
        let since = newest - window
        let labels = try source.fraudLabels()
        final class Slot: @unchecked Sendable { var result: Result<ReplayTally, any Error>? }
        let candidate = Slot(), current = Slot()
        let group = DispatchGroup()
        for (slot, rules, side) in [(candidate, candidateRules, "candidate"), (current, currentRules, "current")] {
            group.enter()
            let thread = Thread { [self] in
                slot.result = Result { try replay(rules: rules, side: side, since: since, total: total) }
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        let candidateTally = try candidate.result!.get(), currentTally = try current.result!.get()
        let recorded = try source.recordedDecisions(since: since)
        return BacktestReport(
            database: database, since: since, until: newest, eventsInWindow: candidateTally.eventsInWindow, labelledOrders: labels.count,
            candidate: BacktestReport.Side(rules: candidateRules, version: candidateTally.version, tally: candidateTally, labels: labels),
            current: BacktestReport.Side(rules: currentRules, version: currentTally.version, tally: currentTally, labels: labels),
            recorded: BacktestReport.Metrics(decisions: recorded.map { ($0.orderId, $0.decision) }, labels: labels),
            changes: BacktestReport.changes(candidate: candidateTally, recorded: recorded))
    }

    /// One rule set over the whole history, in a fresh engine on this thread.
    private func replay(rules: String, side: String, since: Int64, total: Int) throws -> ReplayTally {
        let source = try CrescentStore(readOnly: database)
        var options = EngineOptions()
        options.batchSize = 5000
        options.checksRuleText = false // only errors stop a backtest; the text checks give warnings
        let engine = try Engine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: pluginsDirectory, options: options)
        let errors = engine.problems.filter { $0.severity == .error }
        guard errors.isEmpty else { throw RuleSwapError.problems(errors) }
        var tally = ReplayTally(version: engine.rules.version,
                                declared: engine.rules.declarations.filter { ReplayTally.kindsWithResults.contains($0.kind) }.map(\.ruleId))
        var after: Int64 = 0, seen = 0
        while true {
            let page = try source.events(after: after, limit: 5000)
            guard let last = page.last else { break }
            after = last.rowId
            for stored in page {
                seen += 1
                var event: Event
                do {
                    event = try Normalizer.normalize(try JSONValue.parse(Data(stored.payload.utf8)), now: stored.timestamp)
                } catch {
                    tally.unreadable += 1
                    continue
                }
                event.messageId = stored.messageId
                event.timestamp = stored.timestamp
                let outcome = try engine.process(event)
                guard stored.timestamp >= since else { continue }
                tally.add(outcome, orderId: event.properties["order_id"]?.stringValue ?? event.properties["order_id"].map { $0.jsonText })
            }
            progress?(side, seen, total)
        }
        try engine.flush()
        for (rule, stats) in engine.stats {
            if let message = stats.lastError { tally.lastErrors[rule] = message }
            if stats.disabled { tally.disabled.insert(rule) }
        }
        return tally
    }
}

/// What one rule set did inside the window.
struct ReplayTally {
    var version: String
    /// The rule set's rules that give results (so one that never hit is listed too).
    var declared: [String]
    var eventsInWindow = 0
    var unreadable = 0
    /// How many events in the window each rule ran on (any outcome but disabled).
    var runs: [String: Int] = [:]
    var hits: [String: Int] = [:]
    /// The customers each rule hit (its reach).
    var reached: [String: Set<String>] = [:]
    var shadowHits: [String: Int] = [:]
    var errors: [String: Int] = [:]
    /// Each failing rule's last error, in or before the window.
    var lastErrors: [String: String] = [:]
    /// Rules disabled after repeated errors, in or before the window.
    var disabled: Set<String> = []
    /// message id → (order id, verdict, score, reasons)
    var decisions: [String: (orderId: String?, verdict: String, score: Double, reasons: [String])] = [:]

    /// The declaration kinds whose rules appear in an event's results.
    static let kindsWithResults: Set<RuleKind> = [.segment, .promotion, .fraud, .counter, .distinctCounter, .journey]

    init(version: String, declared: [String]) {
        self.version = version
        self.declared = declared
    }

    mutating func add(_ outcome: EventOutcome, orderId: String?) {
        eventsInWindow += 1
        for result in outcome.results {
            if result.outcome != .disabled { runs[result.rule, default: 0] += 1 }
            // Counted as the engine counts them: a segment's hits are its entries.
            if result.countsAsHit {
                hits[result.rule, default: 0] += 1
                if let customer = outcome.customerId { reached[result.rule, default: []].insert(customer) }
            }
            if result.countsAsShadowHit { shadowHits[result.rule, default: 0] += 1 }
            if result.outcome == .error { errors[result.rule, default: 0] += 1 }
        }
        if let decision = outcome.decision {
            decisions[outcome.messageId] = (orderId, decision.verdict.rawValue, decision.score, decision.reasons)
        }
    }
}
