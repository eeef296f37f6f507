import Foundation

/// Evaluation times in fixed buckets (microseconds), for `/metrics`.
public struct LatencyHistogram: Sendable, Equatable {
    /// Upper bounds of the buckets, in microseconds (the last bucket is +Inf).
    public static let bounds: [Int] = [10, 25, 50, 100, 250, 500, 1000, 5000, 25_000, 100_000]
    /// Evaluations per bucket (not cumulative); one more than `bounds` for +Inf.
    public var counts = Array(repeating: 0, count: bounds.count + 1)
    public var totalMicros = 0

    public init() {}

    mutating func record(micros: Int) {
        let index = Self.bounds.firstIndex { micros <= $0 } ?? Self.bounds.count
        counts[index] += 1
        totalMicros += micros
    }

    public var count: Int { counts.reduce(0, +) }

    static func + (a: LatencyHistogram, b: LatencyHistogram) -> LatencyHistogram {
        var sum = a
        for index in sum.counts.indices { sum.counts[index] += b.counts[index] }
        sum.totalMicros += b.totalMicros
        return sum
    }
}

/// Counts kept per rule while the engine runs.
public struct RuleStats: Sendable, Equatable {
    public var hits = 0
    public var shadowHits = 0
    public var errors = 0
    public var consecutiveErrors = 0
    public var disabled = false
    public var lastError: String?
    /// When the rule last hit (engine time, ms).
    public var lastHitAt: Int64?
    /// How long its evaluations took.
    public var latency = LatencyHistogram()

    /// A rule that has not run yet.
    public static let none = RuleStats()

    /// The statistics of several shards, added up per rule.
    public static func sum(_ shards: [[String: RuleStats]]) -> [String: RuleStats] {
        var total: [String: RuleStats] = [:]
        for stats in shards {
            for (rule, s) in stats {
                var t = total[rule, default: RuleStats()]
                t.hits += s.hits
                t.shadowHits += s.shadowHits
                t.errors += s.errors
                t.disabled = t.disabled || s.disabled
                t.lastHitAt = [t.lastHitAt, s.lastHitAt].compactMap { $0 }.max()
                t.latency = t.latency + s.latency
                t.lastError = s.lastError ?? t.lastError
                total[rule] = t
            }
        }
        return total
    }
}
