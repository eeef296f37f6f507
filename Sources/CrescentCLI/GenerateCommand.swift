import ArgumentParser
import EventGenerator
import Foundation

/// `crescent generate`: deterministic example traffic for demos, tests and benchmarks.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write deterministic example events (NDJSON Segment messages) with injected fraud and retries."
    )

    @Option(help: "Approximate number of events.")
    var events = 10_000

    @Option(help: "Random seed: the same seed gives the same file.")
    var seed: UInt64 = 42

    @Option(name: .shortAndLong, help: "Output file.")
    var output = "examples/events.ndjson"

    @Option(help: "Also write the manifest of what was injected (JSON) to this file.")
    var manifest: String?

    func validate() throws {
        if events < 1 { throw ValidationError("--events must be at least 1") }
    }

    func run() throws {
        let written = try EventGenerator(seed: seed, events: events).write(to: URL(fileURLWithPath: output))
        if let manifest {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(written).write(to: URL(fileURLWithPath: manifest))
        }
        print("wrote \(written.lines) lines (\(written.uniqueMessages) unique messages, \(written.retries) retries) to \(output)")
    }
}
