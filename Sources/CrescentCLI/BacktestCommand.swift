import ArgumentParser
import Engine
import Foundation
import Store

/// `crescent backtest`: what a candidate rule set would have done with the stored history.
struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Replay stored history through candidate rules (in a scratch store) and compare with the current rules, the record and fraud labels.",
        discussion: """
            The database is opened read-only. Every stored event is replayed in the order it was processed (earlier events build \
            customer state); events inside the window are counted. Labels: orders refunded with a reason naming fraud or a \
            chargeback, and orders named by a "Fraud Confirmed" event. An order is flagged when any of its decisions is review or block.
            """
    )

    @Option(help: "The candidate rules folder.")
    var rules: String

    @Option(help: "The current rules folder to compare with.")
    var current = "rules"

    @Option(help: "The plugins folder (default: ./plugins, else the plugins folder beside the rules folder).")
    var plugins: String?

    @Option(help: "The SQLite database with the history.")
    var db = "crescent.db"

    @Option(help: "The window: a duration back from the newest stored event (30d, 12h).")
    var since = "30d"

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        guard let window = DurationText.milliseconds(since), window > 0 else {
            StandardStreams.writeError("error: --since \(since): use a duration like 30d or 12h\n")
            throw ExitCode(2)
        }
        for folder in [rules, current] where !FileManager.default.fileExists(atPath: folder) {
            StandardStreams.writeError("error: \(folder): no such rules folder\n")
            throw ExitCode(1)
        }
        var backtest = Backtest(database: db, candidateRules: rules, currentRules: current,
                                pluginsDirectory: try PluginsFolder.resolve(plugins, rules: rules), window: window)
        let started = Date()
        backtest.progress = { side, done, total in
            StandardStreams.writeError("\(side): \(done) of \(total) events replayed\n")
        }
        let report: BacktestReport
        do {
            report = try backtest.run()
        } catch let error as RuleSwapError {
            StandardStreams.writeError("error: a rule set has errors; fix them first (crescent check):\n\(error)\n")
            throw ExitCode(1)
        } catch let error as StoreError {
            StandardStreams.writeError("error: \(error)\n")
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            StandardStreams.write(Array(try encoder.encode(report)) + [10])
        } else {
            StandardStreams.write(Array(report.text.utf8))
            StandardStreams.write(Array(String(format: "(%.1f s)\n", Date().timeIntervalSince(started)).utf8))
        }
    }
}
