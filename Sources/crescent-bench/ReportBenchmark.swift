import Engine
import EventGenerator
import Foundation
import Reports
import Store

/// Every report, every grouping, on a database built once from generated
/// traffic (kept in .build/bench/reports-N.db): the best of three runs each.
enum ReportBenchmark {
    static func run(events: Int) throws {
        let root = BenchFiles.root, folder = try BenchFiles.folder()
        let database = folder.appendingPathComponent("reports-\(events).db").path
        // Built in place, and marked complete once committed: the shards close their
        // connections on their own threads, so the file is not moved while they may be open.
        let complete = database + ".complete"
        if !FileManager.default.fileExists(atPath: complete) {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
            let file = try BenchFiles.events(events).file
            print("building \(database) from \(file.lastPathComponent) (once)…")
            do {
                let engine = try ShardedEngine(store: try CrescentStore(path: database),
                                               rulesDirectory: root.appendingPathComponent("rules").path,
                                               pluginsDirectory: root.appendingPathComponent("plugins").path, shards: ShardedEngine.defaultShards)
                _ = try Replayer().replay(file, into: engine)
                try engine.flush()
            }
            try Data().write(to: URL(fileURLWithPath: complete))
        }
        let store = try CrescentStore(readOnly: database)
        let reports = Reports(store: store)
        print("Reports on \(try store.count("events")) events (\(try store.count("orders")) orders, \(try store.count("customers")) customers):")
        var worst = 0.0
        for name in ReportName.allCases {
            for grouping in name.groupings.isEmpty ? [nil] : name.groupings.map(Optional.some) {
                var best = Double.infinity
                for _ in 0..<3 {
                    let started = ContinuousClock.now
                    _ = try reports.run(name, ReportQuery(by: grouping))
                    let elapsed = ContinuousClock.now - started
                    best = min(best, Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
                }
                worst = max(worst, best)
                let label = "\(name.rawValue)\(grouping.map { " --by \($0)" } ?? "")"
                print("  " + label.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%8.1f ms", best))
            }
        }
        print(String(format: "  slowest report: %.1f ms (goal: under 1 s on 1 M events)", worst))
    }
}
