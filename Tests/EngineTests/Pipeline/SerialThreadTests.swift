import Foundation
import Testing
@testable import Engine

/// The engine's threads carry their names (`commit`, `shard-N`), so `top -H`,
/// `perf` and the benchmark's CPU per thread can tell them apart.
@Suite("Named threads")
struct SerialThreadTests {
    /// Names of this process's threads, from `/proc`.
    static func threadNames() -> [String] {
        let folder = "/proc/self/task"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { task in
            guard let data = FileManager.default.contents(atPath: "\(folder)/\(task)/comm") else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    @Test("every serial thread has its name once started, however its start races the naming")
    func named() throws {
        try #require(FileManager.default.fileExists(atPath: "/proc/self/task"), "Linux only")
        // Started many at once: one in four used to come up with the process's name instead.
        let threads = (0..<24).map { SerialThread(name: "named-\($0)") }
        for thread in threads { thread.sync() }
        let names = Set(Self.threadNames())
        let missing = (0..<24).map { "named-\($0)" }.filter { !names.contains($0) }
        #expect(missing.isEmpty, "threads without their name: \(missing)")
        for thread in threads { thread.finish() }
    }
}
