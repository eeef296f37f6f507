import ArgumentParser
import Engine
import Foundation
import Store

/// `crescent replay EVENTS.ndjson`: runs a file of Segment messages through
/// the whole pipeline and prints a summary.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run a file of Segment messages (one JSON object per line) through the rules into a database."
    )

    @Argument(help: "The events file (NDJSON).")
    var events: String

    @OptionGroup var folders: RuleFolders

    @Option(help: "The SQLite database file.")
    var db = "crescent.db"

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    @Flag(help: "Stop at the first malformed line instead of skipping it.")
    var strict = false

    @Option(help: "Events per group commit.")
    var batch = EngineOptions.replayBatchSize

    @Option(help: "Shards (threads with their own Lua state), by customer. Default: cores minus two, at least one.")
    var shards = ShardedEngine.defaultShards

    @Option(help: "After the last event, move the clock on to this time (ISO 8601, or +7d after the last event) so journey timers and schedules due by then fire.")
    var until: String?

    func validate() throws {
        if let until, ReplayUntil(until) == nil {
            throw ValidationError("--until must be an ISO 8601 time (2026-03-01T00:00:00Z) or a duration after the last event (+7d), not '\(until)'")
        }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if shards < 1 || shards > 256 { throw ValidationError("--shards must be between 1 and 256") }
    }

    func run() throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: events, isDirectory: &isFolder) else {
            StandardStreams.writeError("error: \(events): no such file\n")
            throw ExitCode(1)
        }
        if isFolder.boolValue {
            StandardStreams.writeError("error: \(events): is a folder, not an events file\n")
            throw ExitCode(1)
        }
        try folders.requireRulesFolder()
        let ownership = try DatabaseOwnership.claim(db, for: "crescent replay \(events)")
        defer { withExtendedLifetime(ownership) {} }
        let store: CrescentStore
        do {
            store = try CrescentStore(path: db)
        } catch {
            StandardStreams.writeError("error: \(db): cannot open the database: \(error.localizedDescription)\n")
            throw ExitCode(1)
        }
        let terminal = isatty(STDERR_FILENO) == 1
        var options = EngineOptions()
        options.batchSize = batch
        // The engine's log (rules' `log(...)`, rules disabled, failed schedule
        // runs) goes to standard error as it is written, above the progress bar.
        let clearBar = terminal && !json ? "\r\u{1B}[2K" : ""
        options.logSink = { line in StandardStreams.writeError(clearBar + line + "\n") }
        let engine = try ShardedEngine(store: store, rulesDirectory: folders.rules,
                                       pluginsDirectory: folders.pluginsFolder(), options: options, shards: shards)
        for problem in engine.problems {
            StandardStreams.writeError("\(problem)\n")
        }
        var replayer = Replayer(strict: strict)
        replayer.until = until.flatMap(ReplayUntil.init)
        if terminal && !json {
            replayer.progress = { lines, fraction in
                let width = 30
                let filled = Int(fraction * Double(width))
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                StandardStreams.writeError("\r\(bar) \(Int(fraction * 100))%  \(lines) lines")
            }
        }
        var summary: ReplaySummary
        do {
            summary = try replayer.replay(URL(fileURLWithPath: events), into: engine)
            summary.journeyMigrations = engine.journeyMigrations
        } catch let error as ReplayError {
            StandardStreams.writeError("error: \(events): \(error)\n")
            throw ExitCode(1)
        }
        if terminal && !json { StandardStreams.writeError("\r\u{1B}[2K") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            StandardStreams.write(Array(try encoder.encode(summary)) + [10])
        } else {
            StandardStreams.write(Array(Self.text(summary, events: events).utf8))
        }
        for rejected in summary.rejected.prefix(20) {
            StandardStreams.writeError("\(events):\(rejected.line): \(rejected.message)\n")
        }
        if summary.rejected.count > 20 {
            StandardStreams.writeError("… and \(summary.rejected.count - 20) more rejected lines\n")
        }
        if !summary.rejected.isEmpty {
            StandardStreams.writeError("(the rejected lines are kept in \(db): GET /v1/rejected lists them)\n")
        }
    }

    static func text(_ s: ReplaySummary, events: String) -> String {
        var out = """
            replayed \(events)
              events      \(s.events) processed, \(s.duplicates) duplicates skipped, \(s.rejected.count) lines rejected
              speed       \(Int(s.eventsPerSecond)) events/s (\(String(format: "%.2f", s.seconds)) s; p50 \(s.p50Micros) µs, p99 \(s.p99Micros) µs per event)
              decisions   allow \(s.decisions["allow"] ?? 0), review \(s.decisions["review"] ?? 0), block \(s.decisions["block"] ?? 0)

            """
        func section(_ title: String, _ values: [String: Int]) {
            out += "  \(title)\n"
            if values.isEmpty { out += "    (none)\n" }
            for (key, value) in values.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
                out += "    \(String(repeating: " ", count: max(0, 8 - String(value).count)))\(value)  \(key)\n"
            }
        }
        section("rule hits", s.ruleHits)
        if !s.ruleTime.isEmpty {
            out += "  rule time   (the \(min(5, s.ruleTime.count)) slowest in all; every rule's with --json)\n"
            let slowest = s.ruleTime.sorted { $0.value.micros != $1.value.micros ? $0.value.micros > $1.value.micros : $0.key < $1.key }
            for (rule, time) in slowest.prefix(5) {
                out += String(format: "    %6.0f ms  %@  (%d runs, %.1f µs each)\n", Double(time.micros) / 1000, rule,
                              time.evaluations, Double(time.micros) / Double(max(1, time.evaluations)))
            }
        }
        if !s.eventTime.isEmpty {
            out += "  event time  (the \(min(5, s.eventTime.count)) costliest event names in all; every one's with --json)\n"
            let costliest = s.eventTime.sorted { $0.value.micros != $1.value.micros ? $0.value.micros > $1.value.micros : $0.key < $1.key }
            let total = max(1, s.eventTime.values.reduce(0) { $0 + $1.micros })
            for (name, time) in costliest.prefix(5) {
                out += String(format: "    %6.0f ms  %3.0f%%  %@  (%d events, %.1f µs each)\n", Double(time.micros) / 1000,
                              100 * Double(time.micros) / Double(total), name, time.events,
                              Double(time.micros) / Double(max(1, time.events)))
            }
        }
        section("actions", s.actions)
        section("segments", s.segments)
        if let clock = s.clock { out += "  clock       \(clock) (journey timers and schedules due by then have run)\n" }
        let work = s.clockWork
        if work.timersFired + work.schedulesRun > 0 {
            out += String(format: "  scheduled   %d journey timers (%.2f s), %d schedule runs sweeping %d customers, %d unchanged skipped (%.2f s)\n",
                          work.timersFired, work.timerSeconds, work.schedulesRun, work.customersSwept, work.customersUnchanged,
                          work.scheduleSeconds)
        }
        for migration in s.journeyMigrations { out += "  live edit   \(migration)\n" }
        if !s.ruleErrors.isEmpty {
            out += "  rule errors\n"
            for (rule, count) in s.ruleErrors.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
                let state = s.disabledRules.contains(rule) ? "disabled after repeated errors; " : ""
                let last = s.ruleLastErrors[rule].map { "  (\(state)last: \($0))" } ?? ""
                out += "    \(String(repeating: " ", count: max(0, 8 - String(count).count)))\(count)  \(rule)\(last)\n"
            }
        }
        if !s.maskedCardNumbers.isEmpty {
            let total = s.maskedCardNumbers.values.reduce(0, +)
            let fields = s.maskedCardNumbers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            out += "  masked      \(total) card number\(total == 1 ? "" : "s") in the messages (\(fields)): stored masked; "
                + "the sender should not send them\n"
        }
        out += "  errors      \(s.errors)\n"
        return out
    }
}
