import Engine
import EventGenerator
import Foundation
import Store

/// Replays generated events through the shipped rules into a fresh SQLite
/// file, then inserts the same events with no rules (the storage limit).
enum ReplayBenchmark {
    static func run(events: Int) throws {
        let root = BenchFiles.root, folder = try BenchFiles.folder()
        let (file, generated) = try BenchFiles.events(events, announce: true)
        if generated { PeakMemory.reset() } // the replay's peak, not the generator's
        print("Replay of \(file.lastPathComponent) (examples generator, seed 42) with the shipped rules:")

        // 1. The whole pipeline.
        let database = folder.appendingPathComponent("replay.db").path
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        let store = try CrescentStore(path: database)
        let shards = Int(ProcessInfo.processInfo.environment["BENCH_SHARDS"] ?? "") ?? ShardedEngine.defaultShards
        // Events per commit, as `crescent replay` (BENCH_BATCH to change it); the bare insert below uses the same.
        let batchSize = Int(ProcessInfo.processInfo.environment["BENCH_BATCH"] ?? "") ?? EngineOptions.replayBatchSize
        var options = EngineOptions()
        options.batchSize = batchSize
        let engine = try ShardedEngine(store: store, rulesDirectory: root.appendingPathComponent("rules").path,
                                       pluginsDirectory: root.appendingPathComponent("plugins").path, options: options, shards: shards)
        print("  shards       \(shards), \(batchSize) events per commit")
        let threadsBefore = ThreadTimes.now(), writesBefore = FileWrites.now()
        let summary = try Replayer().replay(file, into: engine)
        let threadsAfter = ThreadTimes.now(), writesAfter = FileWrites.now()
        try store.checkpoint() // the data's size, not the log's (up to ~400 MiB between checkpoints)
        let size = ((try? FileManager.default.attributesOfItem(atPath: database)[.size] as? Int) ?? 0)
            + ((try? FileManager.default.attributesOfItem(atPath: database + "-wal")[.size] as? Int) ?? 0)
        print(String(format: "  pipeline     %8.0f events/s  (%d events in %.1f s; p50 %d µs, p99 %d µs per event)",
                     summary.eventsPerSecond, summary.events, summary.seconds, summary.p50Micros, summary.p99Micros))
        print(String(format: "  peak RSS     %8.0f MiB;  database %.0f MiB", PeakMemory.mebibytes(), Double(size) / 1_048_576))
        print("  CPU          " + threadsAfter.summary(since: threadsBefore, events: summary.events))
        print("  written      " + writesAfter.summary(since: writesBefore, events: summary.events)
              + " to the log and the database file")
        let work = summary.clockWork
        print(String(format: "  scheduled    %d journey timers (%.1f s), %d schedule runs sweeping %d customers, %d unchanged skipped (%.1f s), inside the time above",
                     work.timersFired, work.timerSeconds, work.schedulesRun, work.customersSwept, work.customersUnchanged, work.scheduleSeconds))
        let eventSeconds = summary.seconds - work.timerSeconds - work.scheduleSeconds
        print(String(format: "  events only  %8.0f events/s  (the time above without the timers and schedules)",
                     Double(summary.events) / max(eventSeconds, 0.001)))
        // The pipeline's time by event name (each event's processing, with the timers due before it).
        let eventMicros = max(1, summary.eventTime.values.reduce(0) { $0 + $1.micros })
        let costliest = summary.eventTime.sorted { $0.value.micros > $1.value.micros }.prefix(5).map { name, time in
            String(format: "%@ %.0f%% (%.1f µs each)", name, 100 * Double(time.micros) / Double(eventMicros),
                   Double(time.micros) / Double(max(1, time.events)))
        }
        print("  by event     " + costliest.joined(separator: ", "))
        print("  decisions    allow \(summary.decisions["allow"] ?? 0), review \(summary.decisions["review"] ?? 0), block \(summary.decisions["block"] ?? 0); errors \(summary.errors)")

        // 2. The storage limit: parse, normalize and insert the events only
        //    (the file is read into memory only now, after the RSS reading).
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
        let bare = folder.appendingPathComponent("bare.db").path
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: bare + suffix) }
        let bareStore = try CrescentStore(path: bare)
        let clock = ContinuousClock()
        let bareWritesBefore = FileWrites.now()
        let start = clock.now
        var batch = WriteBatch()
        var inserted = 0
        for line in lines {
            guard let json = try? JSONValue.parse(bytes: Array(line.utf8)),
                  let event = try? Normalizer.normalize(json, now: 0) else { continue }
            batch.events.append(EventRow(messageId: event.messageId, customerId: event.userId ?? event.anonymousId,
                                         type: event.kind.rawValue, name: event.name, timestamp: event.timestamp,
                                         payload: String(line)))
            inserted += 1
            if batch.events.count == batchSize {
                try bareStore.commit(batch)
                batch = WriteBatch()
            }
        }
        try bareStore.commit(batch)
        let elapsed = clock.now - start
        let bareWrites = FileWrites.now().summary(since: bareWritesBefore, events: inserted)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let bareRate = Double(inserted) / seconds
        print(String(format: "  bare insert  %8.0f events/s  (%d events in %.1f s; parse, normalize, insert, no rules)",
                     bareRate, inserted, seconds))
        print("    written    " + bareWrites)
        print(String(format: "  pipeline / bare insert: %.2fx", summary.eventsPerSecond / bareRate))
    }
}
