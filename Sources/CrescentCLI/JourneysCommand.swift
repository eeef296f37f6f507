import ArgumentParser
import Engine
import Foundation
import Store

/// `crescent journeys`: per journey and per step, what its instances did.
struct JourneysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journeys",
        abstract: "Show each journey's instances (entered, active, converted, exits by reason) and each step's counts."
    )

    @Option(help: "The SQLite database file.")
    var db = "crescent.db"

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else {
            StandardStreams.writeError("error: \(db): no such database\n")
            throw ExitCode(1)
        }
        let reports = try CrescentStore(path: db).journeyReports()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            StandardStreams.write(Array(try encoder.encode(reports)) + [10])
            return
        }
        StandardStreams.write(Array(Self.text(reports).utf8))
    }

    static let metrics = ["reached", "waiting", "sent", "deferred", "suppressed", "converted", "error"]

    static func text(_ reports: [JourneyReport]) -> String {
        if reports.isEmpty { return "no journey has started yet\n" }
        var out = ""
        for report in reports {
            out += "journey \(report.journey)\n"
            out += "  entered \(report.entered), active \(report.active), completed \(report.completed), converted \(report.converted)\n"
            for (reason, n) in report.exits.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
                out += "  ended   \(n)  \(reason)\n"
            }
            let width = max(4, report.steps.map(\.step.count).max() ?? 4)
            out += "  " + "step".padding(toLength: width, withPad: " ", startingAt: 0)
            for metric in metrics { out += "  " + String(repeating: " ", count: max(0, 10 - metric.count)) + metric }
            out += "\n"
            for step in report.steps {
                out += "  " + step.step.padding(toLength: width, withPad: " ", startingAt: 0)
                for metric in metrics {
                    let value = String(step.counts[metric] ?? 0)
                    out += "  " + String(repeating: " ", count: max(0, 10 - value.count)) + value
                }
                out += "\n"
            }
        }
        return out
    }
}
