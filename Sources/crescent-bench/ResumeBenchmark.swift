import Engine
import Foundation
import Store

/// A restarted engine going on with the file an earlier one wrote: the case
/// of every server start after the first, and of a replay into an existing
/// file. One engine replays all but the last `tail` events of the generated
/// file; a new engine on the same database then replays the last ones,
/// reading from the store every customer, order, counter and message id it
/// does not hold yet (a fresh store spares those reads).
enum ResumeBenchmark {
    static func run(events: Int, tail: Int) throws {
        let root = BenchFiles.root, folder = try BenchFiles.folder()
        let (file, _) = try BenchFiles.events(events, announce: true)
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
        let kept = max(0, lines.count - tail)
        let head = folder.appendingPathComponent("resume-head.ndjson"), rest = folder.appendingPathComponent("resume-tail.ndjson")
        try (lines[..<kept].joined(separator: "\n") + "\n").write(to: head, atomically: true, encoding: .utf8)
        try (lines[kept...].joined(separator: "\n") + "\n").write(to: rest, atomically: true, encoding: .utf8)
        print("Resuming: a new engine on the file an engine wrote from the first \(kept) lines of \(file.lastPathComponent), replaying the last \(lines.count - kept):")

        let database = folder.appendingPathComponent("resume.db").path
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        let rules = root.appendingPathComponent("rules").path, plugins = root.appendingPathComponent("plugins").path
        var options = EngineOptions()
        options.batchSize = EngineOptions.replayBatchSize
        do {
            let store = try CrescentStore(path: database)
            let first = try ShardedEngine(store: store, rulesDirectory: rules, pluginsDirectory: plugins, options: options,
                                          shards: ShardedEngine.defaultShards)
            let summary = try Replayer().replay(head, into: first)
            try store.checkpoint()
            print(String(format: "  first engine %8.0f events/s  (%d events in %.1f s, fresh file)",
                         summary.eventsPerSecond, summary.events, summary.seconds))
        }

        // The restart: a new store and engine on the same file.
        let started = DispatchTime.now().uptimeNanoseconds
        let store = try CrescentStore(path: database)
        let engine = try ShardedEngine(store: store, rulesDirectory: rules, pluginsDirectory: plugins, options: options,
                                       shards: ShardedEngine.defaultShards)
        let startSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let threadsBefore = ThreadTimes.now(), readsBefore = store.customerReads, batchesBefore = store.customerReadBatches
        let summary = try Replayer().replay(rest, into: engine)
        let threadsAfter = ThreadTimes.now()
        print(String(format: "  engine start %8.2f s  (opening the file, loading the rules, the waiting journey timers and the lists)", startSeconds))
        print(String(format: "  resumed      %8.0f events/s  (%d events in %.1f s; p50 %d µs, p99 %d µs per event)",
                     summary.eventsPerSecond, summary.events, summary.seconds, summary.p50Micros, summary.p99Micros))
        print("  CPU          " + threadsAfter.summary(since: threadsBefore, events: summary.events))
        let work = summary.clockWork
        print(String(format: "  scheduled    %d journey timers (%.1f s), %d schedule runs sweeping %d customers (%.1f s), inside the time above",
                     work.timersFired, work.timerSeconds, work.schedulesRun, work.customersSwept, work.scheduleSeconds))
        print("  store reads  \(store.customerReads - readsBefore) customers read back from the file in \(store.customerReadBatches - batchesBefore) reads")
    }
}
