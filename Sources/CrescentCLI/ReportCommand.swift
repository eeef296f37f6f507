import ArgumentParser
import Engine
import Foundation
import Reports
import Store

/// `crescent report NAME`: sales, acquisition, retention, promotions, inventory, consultants, fraud, journeys, competitors, privacy.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Reports from the store: \(ReportName.allCases.map(\.rawValue).joined(separator: ", ")).",
        discussion: "Documented in docs/reports.md. Times are ISO dates (2026-03-01 or 2026-03-01T12:00:00Z) or durations back from now (30d)."
    )

    @Argument(help: "The report.")
    var name: String

    @Option(help: "The SQLite database.")
    var db = "crescent.db"

    @Option(help: "Start of the period (inclusive).")
    var since: String?

    @Option(help: "End of the period (exclusive).")
    var until: String?

    @Option(help: "Grouping (sales: day, category, product, campaign; acquisition: source, medium, campaign; consultants: consultant, region; inventory: sku, region; competitors: sku, competitor).")
    var by: String?

    @Option(help: "table, csv or json.")
    var format = "table"

    func run() throws {
        guard let report = ReportName(rawValue: name) else {
            StandardStreams.writeError("error: no report \(name); choose one of \(ReportName.allCases.map(\.rawValue).joined(separator: ", "))\n")
            throw ExitCode(2)
        }
        guard ["table", "csv", "json"].contains(format) else {
            StandardStreams.writeError("error: --format \(format): use table, csv or json\n")
            throw ExitCode(2)
        }
        var query = ReportQuery(by: by)
        for (flag, text, assign) in [("--since", since, { (v: Int64) in query.since = v }), ("--until", until, { query.until = $0 })] {
            guard let text else { continue }
            guard let time = ReportTime.parse(text) else {
                StandardStreams.writeError("error: \(flag) \(text): use an ISO date (2026-03-01) or a duration back from now (30d)\n")
                throw ExitCode(2)
            }
            assign(time)
        }
        guard FileManager.default.fileExists(atPath: db) else {
            StandardStreams.writeError("error: \(db): no such database\n")
            throw ExitCode(1)
        }
        let tables: [ReportTable]
        do {
            tables = try Reports(store: try CrescentStore(readOnly: db)).run(report, query)
        } catch let error as ReportError {
            StandardStreams.writeError("error: \(error)\n")
            throw ExitCode(2)
        }
        switch format {
        case "csv": StandardStreams.write(Array(tables.map(\.csv).joined(separator: "\n").utf8))
        case "json":
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            StandardStreams.write(Array(try encoder.encode(tables)) + [10])
        default: StandardStreams.write(Array(tables.map(\.text).joined(separator: "\n").utf8))
        }
    }
}
