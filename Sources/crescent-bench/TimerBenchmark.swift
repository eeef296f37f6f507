import Engine
import Foundation
import Store

/// One million (BENCH_TIMERS) journey instances waiting on a timer: how fast
/// they are made, how fast a restarted engine loads them, and how fast they
/// all fire (each one a send through consent, caps and quiet-hours checks
/// into the outbox, committed).
enum TimerBenchmark {
    static let journey = """
        messaging { timezone = "UTC", quiet_hours = { from = "23:00", to = "06:00" }, cap = { max = 3, per = "1d" } }
        journey "bench" {
          on = "Identify",
          steps = { wait "1h", send { channel = "email", template = "hello" } },
        }
        """

    static func run(instances: Int) throws {
        try run(instances: instances, restart: true)
        if ProcessInfo.processInfo.environment["BENCH_TIMERS_HOT"] == "1" { try run(instances: instances, restart: false) }
    }

    /// `restart`: fire from a new engine that loads the instances and warms
    /// the customers from the store; else from the engine that made them.
    static func run(instances: Int, restart: Bool) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent(".build/bench/timers")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("rules/journeys"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("plugins"), withIntermediateDirectories: true)
        try journey.write(to: folder.appendingPathComponent("rules/journeys/bench.lua"), atomically: true, encoding: .utf8)
        let database = folder.appendingPathComponent("timers.db").path
        let rules = folder.appendingPathComponent("rules").path, plugins = folder.appendingPathComponent("plugins").path
        print("Journey timers: \(instances) instances waiting 1 h, then a send each (consent, cap, quiet hours, outbox)"
              + (restart ? ", fired after a restart:" : ", fired by the engine that made them:"))

        // 1. Make the instances: one identify (with consent) per customer, a millisecond apart, from 09:00 UTC.
        let start: Int64 = 1_767_258_000_000
        var engine: Engine? = try Engine(store: try CrescentStore(path: database), rulesDirectory: rules, pluginsDirectory: plugins)
        let entering = try seconds {
            for n in 0..<instances {
                let event = Event(messageId: "b\(n)", kind: .identify, name: "Identify", userId: "c\(n)",
                                  traits: ["marketing_consent": true], timestamp: start + Int64(n))
                try engine!.process(event)
            }
            try engine!.flush()
        }
        print(String(format: "  enter        %8.0f instances/s  (%.1f s, events through the whole pipeline)",
                     Double(instances) / entering, entering))
        var restarted = engine
        if restart {
            // 2. A restart: a new engine loads the waiting instances and arms their timers.
            engine = nil
            restarted = nil
            let loading = try seconds {
                restarted = try Engine(store: try CrescentStore(path: database), rulesDirectory: rules, pluginsDirectory: plugins)
            }
            print(String(format: "  load         %8.0f instances/s  (%.1f s to load and arm every timer)", Double(instances) / loading, loading))
        }

        // 3. Fire them all: virtual time jumps past the last due time.
        let firing = try seconds {
            try restarted!.advance(to: start + Int64(instances) + 3_600_000)
            try restarted!.flush()
        }
        let fired = restarted!.clockWork.timersFired
        let store = restarted!.store
        let sent = try store.actionCounts()["notify"] ?? 0
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let size = ["", "-wal"].reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: database + $1)[.size] as? Int) ?? 0) }
        print(String(format: "  fire         %8.0f timers/s     (%d fired in %.1f s, %d messages in the outbox, committed)",
                     Double(fired) / firing, fired, firing, sent))
        print(String(format: "  peak RSS     %8.0f MiB;  database %.0f MiB", Double(usage.ru_maxrss) / 1024, Double(size) / 1_048_576))
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let begin = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
    }
}
