import EventGenerator
import Foundation

/// Where the benchmarks find the package (rules, plugins) and keep their
/// files (`.build/bench`), and the generated events they share.
enum BenchFiles {
    /// The package's root folder.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `.build/bench`, made when missing.
    static func folder() throws -> URL {
        let folder = root.appendingPathComponent(".build/bench")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// `events-N.ndjson`: N messages from the example generator (seed 42),
    /// generated the first time; `generated` says whether this call made it.
    static func events(_ count: Int, announce: Bool = false) throws -> (file: URL, generated: Bool) {
        let file = try folder().appendingPathComponent("events-\(count).ndjson")
        guard !FileManager.default.fileExists(atPath: file.path) else { return (file, false) }
        if announce { print("generating \(count) events into \(file.path)…") }
        _ = try EventGenerator(seed: 42, events: count).write(to: file)
        return (file, true)
    }
}
