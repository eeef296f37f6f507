import Foundation
import Store

/// A line of an event file that was not processed, and why.
public struct RejectedLine: Sendable, Codable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
    public var description: String { "line \(line): \(message)" }
}

/// What a replay did, as `crescent replay` prints it.
public struct ReplaySummary: Sendable, Codable {
    /// Unique messages processed.
    public var events = 0
    /// Messages skipped because their messageId was already processed.
    public var duplicates = 0
    public var lines = 0
    public var seconds = 0.0
    public var eventsPerSecond = 0.0
    public var p50Micros = 0
    public var p99Micros = 0
    public var decisions: [String: Int] = ["allow": 0, "review": 0, "block": 0]
    public var ruleHits: [String: Int] = [:]
    public var ruleErrors: [String: Int] = [:]
    /// Each failing rule's last error message (`file:line: message`).
    public var ruleLastErrors: [String: String] = [:]
    /// Rules disabled after repeated errors; the rest of the replay ran without them.
    public var disabledRules: [String] = []
    public var actions: [String: Int] = [:]
    public var segments: [String: Int] = [:]
    /// Rule errors plus rejected lines.
    public var errors = 0
    public var rejected: [RejectedLine] = []
    /// Where the virtual clock stopped (the last event, or `--until`).
    public var clock: String?
    /// What loading the rules did to journey instances of an earlier rule set.
    public var journeyMigrations: [JourneyMigration] = []
    /// Journey timers, schedules and sweeps run as the clock moved (their time is part of `seconds`).
    public var clockWork = ClockWork()
    /// Time spent in each rule's functions, from the explanations (a segment
    /// kept `unchanged` did not run and is not counted).
    public var ruleTime: [String: RuleTime] = [:]
    /// The whole pipeline's time by event name (`Order Completed`, `Page
    /// Viewed`, ...): the host's work and every rule's, and the journey
    /// timers and schedules that came due before each event. Where a
    /// replay's time goes, traffic by traffic.
    public var eventTime: [String: EventTime] = [:]
    /// Card numbers found in messages and masked before they were stored, by field (``CardNumbers``).
    public var maskedCardNumbers: [String: Int] = [:]

    /// One rule's evaluations and the microseconds they took in all.
    public struct RuleTime: Sendable, Codable, Equatable {
        public var evaluations: Int
        public var micros: Int
    }

    /// The events of one name processed and the microseconds they took in all.
    public struct EventTime: Sendable, Codable, Equatable {
        public var events = 0
        public var micros = 0

        /// Counts one more event that took `micros`.
        mutating func add(micros took: Int) {
            events += 1
            micros += took
        }
    }

    enum CodingKeys: String, CodingKey {
        case events, duplicates, lines, seconds, decisions, actions, segments, errors, rejected, clock
        case journeyMigrations = "journey_migrations", clockWork = "clock_work"
        case eventsPerSecond = "events_per_second", p50Micros = "p50_micros", p99Micros = "p99_micros"
        case ruleHits = "rule_hits", ruleErrors = "rule_errors", ruleTime = "rule_time", eventTime = "event_time"
        case ruleLastErrors = "rule_last_errors", disabledRules = "disabled_rules"
        case maskedCardNumbers = "masked_card_numbers"
    }
}

/// Runs a file of Segment messages (one JSON object per line: single
/// messages, or `{"batch": [...]}` objects) through an engine, with the
/// clock set by each event's timestamp.
public struct Replayer {
    public var strict = false
    /// Called every `progressEvery` lines with the lines read so far and
    /// the fraction of the file read (0...1).
    public var progress: ((Int, Double) -> Void)?
    public var progressEvery = 10_000
    /// After the last event, move the clock on to this time so journey
    /// timers and schedules due by then fire.
    public var until: ReplayUntil?

    public init(strict: Bool = false) { self.strict = strict }

    /// Replays `url` into `engine`; commits at the end. Throws only for I/O
    /// errors, and for the first bad line when `strict`.
    public func replay(_ url: URL, into engine: some EventPipeline) throws -> ReplaySummary {
        let tally = Tally()
        var summary = ReplaySummary()
        var lastTimestamp: Int64 = 0
        let clock = ContinuousClock()
        let started = clock.now
        let actionsBefore = engine.actionsMade
        let reader = try LineReader(url: url)
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        var lineNumber = 0
        // Refused lines, kept in the store like the ingest API's (`GET /v1/rejected`).
        var refused: [RejectedMessage] = []
        while var line = reader.next() {
            lineNumber += 1
            // A file saved by a Windows tool may start with a UTF-8 byte order mark: not part of the first message.
            if lineNumber == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            summary.lines += 1
            if let progress, lineNumber % progressEvery == 0 {
                progress(lineNumber, fileSize > 0 ? min(1, Double(reader.bytesRead) / Double(fileSize)) : 0)
            }
            let messages: [JSONValue]
            var single = false
            do {
                let json = try JSONValue.parse(bytes: line)
                if case .array(let items) = json {
                    // A line holding a JSON array of messages: a batch without its wrapper.
                    messages = items
                } else if case .array(let items)? = json["batch"] {
                    let shared = json.object?.filter { $0.key == "context" || $0.key == "integrations" } ?? [:]
                    messages = items.map { item in
                        guard case .object(var fields) = item else { return item }
                        for (key, value) in shared where fields[key] == nil { fields[key] = value }
                        return .object(fields)
                    }
                } else {
                    messages = [json]
                    single = true
                }
            } catch {
                if lineNumber == 1, line.first(where: { $0 != 32 && $0 != 9 && $0 != 13 }) == UInt8(ascii: "[") {
                    // `[` alone on the first line: a JSON array spread over lines, not one message per line.
                    throw ReplayError.notNDJSON(url.lastPathComponent)
                }
                try reject(lineNumber, "malformed JSON", &summary)
                refused.append(refusal(url, lineNumber, code: "invalid_json", reason: "malformed JSON", payload: line, message: nil))
                continue
            }
            for message in messages {
                var event: Event
                do {
                    let now = lastTimestamp > 0 ? lastTimestamp : Int64(Date().timeIntervalSince1970 * 1000)
                    event = try Normalizer.normalize(message, now: now)
                } catch {
                    try reject(lineNumber, error.description, &summary)
                    refused.append(refusal(url, lineNumber, code: "invalid_message", reason: error.description,
                                           payload: line, message: single ? nil : message))
                    continue
                }
                lastTimestamp = max(lastTimestamp, event.timestamp)
                for field in event.maskedCardNumbers { summary.maskedCardNumbers[field, default: 0] += 1 }
                if single && event.maskedCardNumbers.isEmpty { event.raw = String(decoding: line, as: UTF8.self) }
                let name = event.name
                engine.submit(event) { tally.add($0, name: name) }
                try tally.rethrow()
            }
        }
        if let until {
            let target = until.time(afterLastEvent: lastTimestamp)
            try engine.advance(to: target)
            summary.clock = Timestamps.iso(target)
        } else if lastTimestamp > 0 {
            // Each shard's clock stopped at its own last event: move them all
            // to the file's last event, where one engine's clock stops.
            if engine is ShardedEngine { try engine.advance(to: lastTimestamp) }
            summary.clock = Timestamps.iso(lastTimestamp)
        }
        try engine.flush()
        try tally.rethrow()
        try engine.store.recordRejected(refused)
        tally.fill(&summary)
        var durations = tally.durations
        summary.seconds = Double((clock.now - started).components.attoseconds) / 1e18 + Double((clock.now - started).components.seconds)
        summary.eventsPerSecond = summary.seconds > 0 ? Double(summary.events) / summary.seconds : 0
        durations.sort()
        if !durations.isEmpty {
            summary.p50Micros = durations[durations.count / 2]
            summary.p99Micros = durations[min(durations.count - 1, durations.count * 99 / 100)]
        }
        for (rule, stats) in engine.stats {
            if stats.hits > 0 { summary.ruleHits[rule] = stats.hits }
            if let message = stats.lastError, stats.errors > 0 { summary.ruleLastErrors[rule] = message }
            if stats.disabled { summary.disabledRules.append(rule) }
            if stats.latency.count > 0 {
                summary.ruleTime[rule] = ReplaySummary.RuleTime(evaluations: stats.latency.count, micros: stats.latency.totalMicros)
            }
        }
        summary.disabledRules.sort()
        summary.clockWork = engine.clockWork
        // Every action of the replay, the journey timers', schedules' and sweeps' too.
        for (kind, made) in engine.actionsMade where made > (actionsBefore[kind] ?? 0) {
            summary.actions[kind] = made - (actionsBefore[kind] ?? 0)
        }
        summary.segments = try engine.store.segmentSizes()
        return summary
    }

    /// Outcomes gathered from whichever thread processed them.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var partial = ReplaySummary()
        private(set) var durations: [Int] = []
        private var failure: (any Error)?

        func add(_ result: Result<EventOutcome, any Error>, name: String) {
            lock.withLock {
                switch result {
                case .failure(let error):
                    if failure == nil { failure = error }
                case .success(let outcome):
                    if outcome.duplicate {
                        partial.duplicates += 1
                        return
                    }
                    durations.append(outcome.micros)
                    partial.eventTime[name, default: ReplaySummary.EventTime()].add(micros: outcome.micros)
                    partial.events += 1
                    if let decision = outcome.decision { partial.decisions[decision.verdict.rawValue, default: 0] += 1 }
                    for result in outcome.results where result.outcome == .error {
                        partial.ruleErrors[result.rule, default: 0] += 1
                        partial.errors += 1
                    }
                }
            }
        }

        func rethrow() throws {
            if let error = lock.withLock({ failure }) { throw error }
        }

        func fill(_ summary: inout ReplaySummary) {
            lock.withLock {
                summary.events = partial.events
                summary.duplicates = partial.duplicates
                summary.decisions.merge(partial.decisions) { _, new in new }
                summary.ruleErrors = partial.ruleErrors
                summary.eventTime = partial.eventTime
                summary.errors += partial.errors
            }
        }
    }

    /// A refused line (or one message of a batch line, `message`) as the store keeps it.
    private func refusal(_ url: URL, _ line: Int, code: String, reason: String, payload: ArraySlice<UInt8>, message: JSONValue?) -> RejectedMessage {
        let ids = (message ?? (try? JSONValue.parse(bytes: payload)))?.object
        let text = message?.jsonText ?? String(decoding: payload, as: UTF8.self)
        return RejectedMessage(receivedAt: Int64(Date().timeIntervalSince1970 * 1000), source: "\(url.lastPathComponent):\(line)",
                               code: code, reason: reason, payload: CardNumbers.masked(text) ?? text, // kept, so never with a card number
                               userId: ids?["userId"]?.stringValue, anonymousId: ids?["anonymousId"]?.stringValue)
    }

    private func reject(_ line: Int, _ message: String, _ summary: inout ReplaySummary) throws {
        let rejected = RejectedLine(line: line, message: message)
        if strict { throw ReplayError.badLine(rejected) }
        summary.rejected.append(rejected)
        summary.errors += 1
    }
}

/// A replay stopped: a bad line under `--strict`, or a file that is not NDJSON.
public enum ReplayError: Error, Equatable, CustomStringConvertible {
    case badLine(RejectedLine)
    /// The file is one JSON array spread over lines, not one message per line.
    case notNDJSON(String)
    public var description: String {
        switch self {
        case .badLine(let line): line.description
        case .notNDJSON(let file):
            "the file is one JSON array over several lines, not NDJSON (one message per line); "
                + "convert it with: jq -c '.[]' \(file) > \(Self.converted(file))"
        }
    }
}

extension ReplayError {
    /// Where the one-message-per-line copy of `file` may go (never `file` itself).
    public static func converted(_ file: String) -> String {
        let stem = (file as NSString).deletingPathExtension
        return (file as NSString).pathExtension == "ndjson" ? stem + "-lines.ndjson" : stem + ".ndjson"
    }
}

/// Something events can be run through: one ``Engine`` or a ``ShardedEngine``.
public protocol EventPipeline: AnyObject {
    var store: CrescentStore { get }
    var stats: [String: RuleStats] { get }
    /// Processes an event; `completion` runs when it is done (maybe on another thread).
    func submit(_ event: Event, _ completion: @escaping @Sendable (Result<EventOutcome, any Error>) -> Void)
    /// Commits everything processed so far and waits until it is durable.
    func flush() throws
    /// Moves the clock to `time`: due journey timers and schedules fire.
    func advance(to time: Int64) throws
    /// What the clock did besides events so far.
    var clockWork: ClockWork { get }
    /// Actions put in the outbox so far, by kind, whatever made them.
    var actionsMade: [String: Int] { get }
}

/// How far `--until` moves the clock after the last event.
public enum ReplayUntil: Sendable, Equatable {
    /// An absolute time (ms since the epoch).
    case time(Int64)
    /// A duration after the last event's time.
    case afterLastEvent(Int64)

    /// Reads `2026-03-01T00:00:00Z` or `+7d` (after the last event).
    public init?(_ text: String) {
        if text.hasPrefix("+"), let ms = DurationText.milliseconds(String(text.dropFirst())) {
            self = .afterLastEvent(ms)
        } else if let time = Timestamps.parse(text) {
            self = .time(time)
        } else {
            return nil
        }
    }

    func time(afterLastEvent last: Int64) -> Int64 {
        switch self {
        case .time(let t): max(t, last)
        case .afterLastEvent(let d): last + d
        }
    }
}

extension Engine: EventPipeline {
    public func submit(_ event: Event, _ completion: @escaping @Sendable (Result<EventOutcome, any Error>) -> Void) {
        completion(Result { try process(event) })
    }
}

extension ShardedEngine: EventPipeline {}

/// Reads a file line by line in 1 MiB chunks.
final class LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var finished = false
    /// Bytes handed out as lines so far.
    private(set) var bytesRead = 0

    init(url: URL) throws {
        handle = try FileHandle(forReadingFrom: url)
    }

    deinit { try? handle.close() }

    func next() -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[position...].firstIndex(of: 10) {
                let line = buffer[position..<newline]
                bytesRead += newline + 1 - position
                position = newline + 1
                return line
            }
            if finished {
                guard position < buffer.count else { return nil }
                let line = buffer[position...]
                bytesRead += buffer.count - position
                position = buffer.count
                return line
            }
            buffer.removeFirst(position)
            position = 0
            let chunk = (try? handle.read(upToCount: 1 << 20)) ?? nil
            if let chunk, !chunk.isEmpty { buffer.append(contentsOf: chunk) } else { finished = true }
        }
    }
}
