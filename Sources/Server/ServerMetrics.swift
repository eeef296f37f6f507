import Engine
import Foundation
import Prometheus

/// The server's Prometheus metrics (`GET /metrics`): events ingested by
/// type, requests refused by reason, decisions by outcome and their latency,
/// rule hits, errors and disabled rules, and the commit queue.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let decideLatency: DurationHistogram
    /// The two parts of a decision's time: queued and evaluated on its
    /// shard, then waiting for the group commit.
    private let decidePhases: [String: DurationHistogram]
    /// Events accepted per second, for the dashboard.
    let rate = EventRate()
    /// Counters every request touches, made once (the registry's lookup
    /// formats and hashes the labels on each call).
    private let ingestedByType: [String: Counter]
    private let duplicates: Counter
    private let decisions: [String: Counter]
    private let maskedCardNumbers: Counter

    init() {
        decideLatency = registry.makeDurationHistogram(
            descriptor: Self.name("decide_duration", "seconds", "Time to answer /v1/decide, commit included"),
            buckets: Self.decideBuckets)
        var phases: [String: DurationHistogram] = [:]
        for phase in ["evaluate", "commit"] {
            phases[phase] = registry.makeDurationHistogram(
                descriptor: Self.name("decide_phase_duration", "seconds",
                                      "Time of /v1/decide by phase: evaluate (queued and run on the shard), commit (group commit)"),
                labels: [("phase", phase)],
                buckets: Self.decideBuckets)
        }
        decidePhases = phases
        let registry = registry
        ingestedByType = Dictionary(uniqueKeysWithValues: Event.Kind.allCases.map { kind in
            (kind.rawValue, registry.makeCounter(descriptor: Self.ingestedName, labels: [("type", kind.rawValue)]))
        })
        duplicates = registry.makeCounter(descriptor: Self.name("events_duplicate", "total", "Messages skipped as already processed"))
        maskedCardNumbers = registry.makeCounter(descriptor: Self.name("card_numbers_masked", "total",
                                                                       "Card numbers found in messages and masked before they were stored"))
        decisions = Dictionary(uniqueKeysWithValues: FraudDecision.Verdict.allCases.map { verdict in
            (verdict.rawValue, registry.makeCounter(descriptor: Self.decisionsName, labels: [("decision", verdict.rawValue)]))
        })
        commitLatency = registry.makeDurationHistogram(
            descriptor: Self.name("commit_duration", "seconds", "Time of each group commit into SQLite"),
            buckets: Self.decideBuckets)
    }

    private let commitLatency: DurationHistogram

    /// Records one group commit's duration.
    func committed(seconds: Double) {
        commitLatency.record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// Fine around the 5 ms goal of a checkout decision.
    static let decideBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(1500), .milliseconds(2), .milliseconds(3),
        .milliseconds(4), .milliseconds(5), .microseconds(7500), .milliseconds(10), .milliseconds(20), .milliseconds(50),
        .milliseconds(250), .seconds(1),
    ]

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "crescent", metricName: metric, unitName: unit, helpText: help) // an empty unit adds no suffix
    }

    static var ingestedName: MetricNameDescriptor { name("events_ingested", "total", "Events accepted and committed, by message type") }
    static var decisionsName: MetricNameDescriptor { name("decisions", "total", "Decisions answered by /v1/decide") }

    func ingested(_ events: [Event], _ outcomes: [EventOutcome]) {
        rate.add(events.count)
        var counts: [Event.Kind: Int64] = [:]
        for event in events { counts[event.kind, default: 0] += 1 }
        for (kind, count) in counts {
            (ingestedByType[kind.rawValue] ?? registry.makeCounter(descriptor: Self.ingestedName, labels: [("type", kind.rawValue)]))
                .increment(by: count)
        }
        let duplicateCount = outcomes.filter(\.duplicate).count
        if duplicateCount > 0 { duplicates.increment(by: Int64(duplicateCount)) }
    }

    func rejected(_ reason: String) {
        registry.makeCounter(descriptor: Self.name("requests_rejected", "total", "Requests refused, by reason"),
                             labels: [("reason", reason)]).increment()
    }

    /// Counts messages refused one by one (a batch keeps the others).
    func messagesRejected(_ count: Int) {
        registry.makeCounter(descriptor: Self.name("messages_rejected", "total", "Messages refused by validation (GET /v1/rejected)"))
            .increment(by: Int64(count))
    }

    /// Counts messages whose time was ahead of the server's clock and was corrected.
    func skewCorrected(_ count: Int) {
        let counter = registry.makeCounter(descriptor: Self.name("timestamps_corrected", "total",
                                                                 "Messages stamped ahead of the server's clock, their time corrected"))
        if count > 0 { counter.increment(by: Int64(count)) }
    }

    /// Counts card numbers masked in messages (``MaskedCardNumbers``).
    func cardNumbersMasked(_ count: Int) {
        if count > 0 { maskedCardNumbers.increment(by: Int64(count)) }
    }

    func decided(_ verdict: String, _ elapsed: Duration, evaluated: Duration, committed: Duration) {
        (decisions[verdict] ?? registry.makeCounter(descriptor: Self.decisionsName, labels: [("decision", verdict)])).increment()
        decideLatency.record(elapsed)
        decidePhases["evaluate"]?.record(evaluated)
        decidePhases["commit"]?.record(committed)
    }

    /// The text exposition, with the engine's readings (per-rule statistics,
    /// clock work, version; perhaps the last ones taken) and the queue depth read now.
    func exposition(readings: EngineReadings, catchingUp: Bool, pending: Int, reloads: RuleReloader,
                    outbox: (counts: [String: Int], lag: Int64, failedAttempts: Int),
                    storeSizes: (database: Int64, log: Int64)? = nil,
                    logRestarts: (count: Int, seconds: Double, longest: Double)? = nil) -> String {
        let rules = readings.ruleIds, stats = readings.stats
        if let storeSizes {
            for (file, bytes) in [("database", storeSizes.database), ("log", storeSizes.log)] {
                registry.makeGauge(descriptor: Self.name("store_size", "bytes", "Bytes on disk of the database file and of its write-ahead log"),
                                   labels: [("file", file)]).set(Double(bytes))
            }
        }
        if let logRestarts {
            registry.makeGauge(descriptor: Self.name("store_log_restarts", "total", "Times the commit thread started the write-ahead log over"))
                .set(Double(logRestarts.count))
            registry.makeGauge(descriptor: Self.name("store_log_restart_seconds", "total",
                                                     "Seconds the commit thread spent starting the log over, commits waiting meanwhile"))
                .set(logRestarts.seconds)
            registry.makeGauge(descriptor: Self.name("store_log_restart_seconds", "max", "The longest log restart since start"))
                .set(logRestarts.longest)
        }
        registry.makeGauge(descriptor: Self.name("catching_up", "", "1 while the clock catches up after a start (GET /ready is 503)"))
            .set(Double(catchingUp ? 1 : 0))
        registry.makeGauge(descriptor: Self.name("sweep_waiting", "customers",
                                                 "Customers a segment sweep going on in slices has yet to evaluate"))
            .set(Double(readings.sweepWaiting))
        registry.makeGauge(descriptor: Self.name("timers_overdue", "",
                                                 "Journey timers due while the server was stopped, yet to fire (in slices)"))
            .set(Double(readings.timersOverdue))
        let age = Double((ContinuousClock.now - readings.takenAt).components.seconds)
        registry.makeGauge(descriptor: Self.name("engine_readings_age", "seconds",
                                                 "Age of the rule and clock figures: above 0 while the shards are busy catching up"))
            .set(age)
        let attempts = reloads.attempts
        for result in [ReloadAttempt.Result.loaded, .unchanged, .rejected] {
            registry.makeGauge(descriptor: Self.name("rules_reloads", "total", "Rule reload attempts since start, by result"),
                               labels: [("result", result.rawValue)]).set(Double(attempts[result] ?? 0))
        }
        let (last, failure) = reloads.status
        registry.makeGauge(descriptor: Self.name("rules_reload_failing", "", "1 while the rule files hold a version that was rejected"))
            .set(Double(failure == nil ? 0 : 1))
        registry.makeGauge(descriptor: Self.name("rules_reload_problems", "", "Errors and failed scenarios of the rejected version"))
            .set(Double((failure?.problems.count ?? 0) + (failure?.failedScenarios.count ?? 0)))
        if let last {
            registry.makeGauge(descriptor: Self.name("rules_reload_duration", "seconds", "Check, scenarios and swap of the last reload"))
                .set(last.milliseconds / 1000)
        }
        for status in ["pending", "delivered", "dead", "withheld"] {
            registry.makeGauge(descriptor: Self.name("outbox", "entries", "Outbox actions by delivery status"), labels: [("status", status)])
                .set(Double(outbox.counts[status] ?? 0))
        }
        registry.makeGauge(descriptor: Self.name("outbox_lag", "seconds", "Age of the oldest undelivered action"))
            .set(Double(outbox.lag) / 1000)
        registry.makeGauge(descriptor: Self.name("outbox_failed_attempts", "total", "Delivery attempts that failed"))
            .set(Double(outbox.failedAttempts))
        for rule in Set(rules).union(stats.keys) {
            let s = stats[rule] ?? RuleStats.none
            registry.makeGauge(descriptor: Self.name("rule", "hits", "Rule hits since start"), labels: [("rule", rule)])
                .set(Double(s.hits))
            registry.makeGauge(descriptor: Self.name("rule", "errors", "Rule errors since start"), labels: [("rule", rule)])
                .set(Double(s.errors))
            registry.makeGauge(descriptor: Self.name("rule", "disabled", "1 when disabled after repeated errors"),
                               labels: [("rule", rule)]).set(Double(s.disabled ? 1 : 0))
        }
        registry.makeGauge(descriptor: Self.name("ingest", "pending", "Events accepted, not yet committed")).set(Double(pending))
        registry.makeGauge(descriptor: Self.name("journey_timers", "fired", "Journey timers fired since start"))
            .set(Double(readings.clockWork.timersFired))
        return registry.emitToString() + Self.ruleLatency(stats)
            + "# HELP crescent_rules_version_info The rule set version running\n# TYPE crescent_rules_version_info gauge\n"
            + "crescent_rules_version_info{version=\"\(readings.version)\"} 1\n"
    }

    /// Per-rule evaluation times as Prometheus histograms (the engine keeps the buckets).
    static func ruleLatency(_ stats: [String: RuleStats]) -> String {
        var out = "# HELP crescent_rule_duration_seconds Time of each rule evaluation\n# TYPE crescent_rule_duration_seconds histogram\n"
        for (rule, s) in stats.sorted(by: { $0.key < $1.key }) where s.latency.count > 0 {
            var cumulative = 0
            for (index, count) in s.latency.counts.enumerated() {
                cumulative += count
                let bound = index < LatencyHistogram.bounds.count ? String(Double(LatencyHistogram.bounds[index]) / 1e6) : "+Inf"
                out += "crescent_rule_duration_seconds_bucket{rule=\"\(rule)\",le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "crescent_rule_duration_seconds_sum{rule=\"\(rule)\"} \(Double(s.latency.totalMicros) / 1e6)\n"
            out += "crescent_rule_duration_seconds_count{rule=\"\(rule)\"} \(s.latency.count)\n"
        }
        return out
    }
}
