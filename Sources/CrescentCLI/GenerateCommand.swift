import ArgumentParser
import EventGenerator
import Foundation

/// `crescent generate`: deterministic example traffic for demos, tests and benchmarks.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write deterministic example events (NDJSON Segment messages) with injected fraud and retries."
    )

    @Option(help: "Approximate number of events (at least about 1,390: the 60 days of inventory feed and the injected fraud come first).")
    var events = 10_000

    @Option(help: "Random seed: the same seed gives the same file.")
    var seed: UInt64 = 42

    @Option(name: .shortAndLong, help: "Output file (default: standard output).")
    var output: String?

    @Option(help: "Also write the manifest of what was injected (JSON) to this file.")
    var manifest: String?

    func validate() throws {
        if events < 1 { throw ValidationError("--events must be at least 1") }
    }

    func run() throws {
        let (text, written) = EventGenerator(seed: seed, events: events).generate()
        try Self.write(Data(text.utf8), to: output)
        if let manifest {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try Self.write(try encoder.encode(written), to: manifest)
        }
        // The events may be on standard output: the summary goes to standard error.
        StandardStreams.writeError("wrote \(written.lines) lines (\(written.uniqueMessages) unique messages, \(written.retries) retries) "
                                   + "to \(output ?? "standard output")\n")
    }

    /// Writes `data` to the file at `path` (standard output when nil); a
    /// file that cannot be written is an error naming it and why.
    private static func write(_ data: Data, to path: String?) throws {
        guard let path else {
            FileHandle.standardOutput.write(data)
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        let folder = parent.isEmpty ? "." : parent
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            StandardStreams.writeError("error: \(path): no such folder \(folder)\n")
            throw ExitCode(1)
        }
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            StandardStreams.writeError("error: \(path): cannot write the file (\((error as NSError).localizedDescription))\n")
            throw ExitCode(1)
        }
    }
}
