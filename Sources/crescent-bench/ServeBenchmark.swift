import AsyncHTTPClient
import CLoadGenerator
import Engine
import EventGenerator
import Foundation
import NIOCore

/// `crescent serve` under load, in this process: generated events posted to
/// `/v1/batch` (100 per request) by concurrent senders through the shipped
/// rules, then `/v1/decide` at a fixed rate with latency percentiles.
enum ServeBenchmark {
    static func run(events count: Int, decideRate: Int, decideSeconds: Int) async throws {
        let root = BenchFiles.root, folder = try BenchFiles.folder()
        let file = try BenchFiles.events(count).file
        // Live traffic: the server stamps each event with its arrival time.
        var messages: [String] = []
        for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") {
            guard let json = try? JSONValue.parse(bytes: Array(line.utf8)) else { continue }
            let items: [JSONValue]
            if case .array(let batch)? = json["batch"] { items = batch } else { items = [json] }
            for case .object(var fields) in items {
                fields["timestamp"] = nil
                messages.append(JSONValue.object(fields).jsonText)
            }
        }
        let bodies = stride(from: 0, to: messages.count, by: 100).map {
            #"{"batch":["# + messages[$0..<min(messages.count, $0 + 100)].joined(separator: ",") + "]}"
        }
        let database = folder.appendingPathComponent("serve.db").path
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        // The server in its own process (the release `crescent` beside this
        // benchmark), as a shop would run it; BENCH_SERVE_PORT loads one already running.
        var server: ServerProcess?
        var boundPort = Int(ProcessInfo.processInfo.environment["BENCH_SERVE_PORT"] ?? "") ?? 0
        if boundPort == 0 {
            let started = try ServerProcess.start(
                ["--db", database, "--rules", root.appendingPathComponent("rules").path, "--plugins", root.appendingPathComponent("plugins").path],
                environment: ["CRESCENT_WRITE_KEYS": "bench"])
            boundPort = started.port
            server = started
        }
        let port = boundPort
        let auth = "Basic " + Data("bench:".utf8).base64EncodedString()
        let which = server == nil ? "already running, given by BENCH_SERVE_PORT" : "its own process, shipped rules"
        print("crescent serve on 127.0.0.1:\(port) (\(which)), load from this process:")

        // 1. Ingest: concurrent senders (8, or BENCH_SERVE_SENDERS), 100 events per request, each answered after
        //    commit. They are the C load generator's connections, in a closed loop (a request in flight on each),
        //    so that they take little of the server's two cores; each sends one of the batches before the clock.
        let senders = min(bodies.count, max(1, Int(ProcessInfo.processInfo.environment["BENCH_SERVE_SENDERS"] ?? "") ?? 8))
        let batches = bodies.map { LoadGenerator.request("/v1/batch", port: port, auth: auth, body: $0) }
        final class Checkout: @unchecked Sendable {
            let lock = NSLock()
            var ingesting = true
            var duringIngest: [DecideTiming] = []
        }
        let checkout = Checkout()
        let serverThreadsBefore = server.map { ThreadTimes.now(pid: $0.process.processIdentifier) }
        let serverWritesBefore = server.map { FileWrites.now(pid: $0.process.processIdentifier) }
        let started = ContinuousClock.now
        let ingest = try await withThrowingTaskGroup(of: (results: [crescent_load_result], cpuSeconds: Double)?.self) { group in
            // A checkout meanwhile: a decision every 50 ms while the senders send (it goes before their queued events),
            // on a client of its own (not queued behind the senders' connections).
            group.addTask {
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                var i = 0
                while checkout.lock.withLock({ checkout.ingesting }) {
                    let answer = try await decide(port: port, auth: auth, userId: "burst-\(i)", messageId: "burst-\(i)", total: 25,
                                                  client: client)
                    checkout.lock.withLock { checkout.duringIngest.append(answer) }
                    i += 1
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await client.shutdown()
                return nil
            }
            group.addTask {
                defer { checkout.lock.withLock { checkout.ingesting = false } }
                return try await LoadGenerator.run(port: port, rate: 0, warmups: Array(batches.prefix(senders)),
                                                   requests: Array(batches.dropFirst(senders)))
            }
            var ingest: (results: [crescent_load_result], cpuSeconds: Double)?
            for try await finished in group { if let finished { ingest = finished } }
            return ingest
        }
        let ingestSeconds = seconds(ContinuousClock.now - started)
        let answered = ingest?.results ?? []
        let refused = answered.filter { $0.status == 429 }.count
        let failed = answered.filter { $0.status != 200 && $0.status != 429 }.count
        guard failed == 0 else { throw LoadGenerator.LoadError(description: "\(failed) batches got neither 200 nor 429") }
        print(String(format: "  ingest       %8.0f events/s  (%d events in %d requests of 100 from %d senders, %.1f s; %d refused with 429)",
                     Double(messages.count) / ingestSeconds, messages.count, bodies.count, senders, ingestSeconds, refused))
        print(String(format: "    load generator (C, one thread): %.1f µs of CPU a request",
                     (ingest?.cpuSeconds ?? 0) * 1e6 / Double(max(1, answered.count))))
        if let server, let serverThreadsBefore {
            let after = ThreadTimes.now(pid: server.process.processIdentifier)
            print("  server CPU during the ingest: " + after.summary(since: serverThreadsBefore, events: messages.count))
        }
        if let server, let serverWritesBefore {
            print("  server's writes during the ingest: "
                  + FileWrites.now(pid: server.process.processIdentifier).summary(since: serverWritesBefore, events: messages.count))
        }
        let burst = checkout.duringIngest.map(\.latency).sorted()
        if !burst.isEmpty {
            let at = { (p: Double) in burst[min(burst.count - 1, Int(Double(burst.count) * p))] }
            print(String(format: "  decide during the ingest: %d requests, one every 50 ms: p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                         burst.count, at(0.5), at(0.99), burst.last ?? 0))
            // Where they waited, from their Server-Timing: for the shard (the ingest job it was running) or for the commit.
            let median = { (metric: String) -> Double? in
                let values = checkout.duringIngest.compactMap { $0.server[metric] }.sorted()
                return values.isEmpty ? nil : values[values.count / 2]
            }
            if let evaluate = median("evaluate"), let commit = median("commit"), let inServer = median("total") {
                print(String(format: "    in the server (Server-Timing), medians: %.2f ms, of which evaluate %.2f ms, commit %.2f ms",
                             inServer, evaluate, commit))
            }
        }

        // 2. Decisions at a fixed rate (open loop: each request starts on schedule). The server's
        //    histograms are read before and after, so that its figures below are this phase's alone.
        // A checkout service keeps its connections open: the load generator opens 32 and sends one
        // decision on each before the clock starts (those 32 count in the server's histograms too).
        // It is lean C on one thread: the load shares the two cores with the server.
        let histogramsBefore = try await exposition(port: port)
        let (timed, generatorCPU) = try await FixedRateDecisions.run(port: port, auth: auth, rate: decideRate,
                                                                     total: decideRate * decideSeconds)
        let total = timed.count
        let latencies = timed.map(\.latency).sorted()
        func percentile(_ values: [Double], _ p: Double) -> Double { values[min(values.count - 1, Int(Double(values.count) * p))] }
        print(String(format: "  decide       %d requests at %d/s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (answered after commit)",
                     total, decideRate, percentile(latencies, 0.5), percentile(latencies, 0.99), latencies.last ?? 0))
        print(String(format: "    load generator (C, one thread): %.1f µs of CPU a request", generatorCPU * 1e6 / Double(max(1, total))))
        // Each answer's Server-Timing: the server's own time, from the request's arrival to its answer.
        let inServer = timed.compactMap(\.server).sorted()
        if !inServer.isEmpty {
            let outside = timed.compactMap { decision in decision.server.map { decision.latency - $0 } }.sorted()
            print(String(format: "  decide in server (Server-Timing): p50 %.2f ms, p99 %.2f ms, max %.2f ms; outside it (client, network, HTTP) p50 %.2f ms, p99 %.2f ms",
                         percentile(inServer, 0.5), percentile(inServer, 0.99), inServer.last ?? 0,
                         percentile(outside, 0.5), percentile(outside, 0.99)))
        }
        printSlowDecisions(timed)
        let histogramsAfter = try await exposition(port: port)
        // The server's own view (histogram bucket bounds): the whole answer, then its two phases.
        func phase(_ name: String, _ phase: String) -> [(bound: String, count: Double)] {
            let before = Dictionary(histogramBuckets(histogramsBefore, name, phase: phase), uniquingKeysWith: { a, _ in a })
            return histogramBuckets(histogramsAfter, name, phase: phase).map { ($0.bound, $0.count - (before[$0.bound] ?? 0)) }
        }
        for (name, label) in [("crescent_decide_duration_seconds", ""), ("crescent_decide_phase_duration_seconds", "evaluate"),
                              ("crescent_decide_phase_duration_seconds", "commit")] {
            let buckets = phase(name, label)
            print("  decide \(label.isEmpty ? "in server" : label) (server side): p50 ≤ \(bound(buckets, 0.5)), p99 ≤ \(bound(buckets, 0.99))")
        }
        let commits = phase("crescent_commit_duration_seconds", "")
        print("  group commits (server side, during the decisions): p50 ≤ \(bound(commits, 0.5)), p99 ≤ \(bound(commits, 0.99))")
        // The write-ahead log's restarts (the commits behind one wait for it): before the decisions, and during them.
        func gauge(_ text: String, _ name: String) -> Double {
            text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { $0.split(separator: " ").last }
                .flatMap { Double($0) } ?? 0
        }
        let restartsBefore = gauge(histogramsBefore, "crescent_store_log_restarts_total")
        let secondsBefore = gauge(histogramsBefore, "crescent_store_log_restart_seconds_total")
        let restartsDuring = gauge(histogramsAfter, "crescent_store_log_restarts_total") - restartsBefore
        let secondsDuring = gauge(histogramsAfter, "crescent_store_log_restart_seconds_total") - secondsBefore
        print(String(format: "  log restarts %.0f before the decisions (%.1f ms each on average), %.0f during them (%.1f ms); longest %.1f ms",
                     restartsBefore, restartsBefore > 0 ? secondsBefore / restartsBefore * 1000 : 0,
                     restartsDuring, restartsDuring > 0 ? secondsDuring / restartsDuring * 1000 : 0,
                     gauge(histogramsAfter, "crescent_store_log_restart_seconds_max") * 1000))
        if let server {
            kill(server.process.processIdentifier, SIGTERM)
            server.process.waitUntilExit()
            try await ingestAfterRestart(messages: messages, database: database, root: root, senders: senders)
        }
    }

    /// One decision of the fixed-rate phase: when it was sent (seconds into
    /// the phase), how long the client waited, and the server's own share.
    struct TimedDecision: Sendable {
        var start: Double
        var latency: Double
        var server: Double?
    }

    /// When the decisions slower than 5 ms were sent (stalls show up as runs
    /// of them), and how many of them spent less than 5 ms in the server.
    static func printSlowDecisions(_ timed: [TimedDecision]) {
        let slow = timed.filter { $0.latency > 5 }.sorted { $0.start < $1.start }
        guard !slow.isEmpty else { return }
        var stalls: [(from: Double, to: Double, count: Int, worst: Double)] = []
        for request in slow {
            if let last = stalls.last, request.start - last.to < 0.05 {
                stalls[stalls.count - 1] = (last.from, request.start, last.count + 1, max(last.worst, request.latency))
            } else {
                stalls.append((request.start, request.start, 1, request.latency))
            }
        }
        let listed = stalls.sorted { $0.count > $1.count }.prefix(5).map {
            String(format: "%d sent at %.2f–%.2f s (worst %.1f ms)", $0.count, $0.from, $0.to, $0.worst)
        }
        let quick = slow.filter { ($0.server ?? .infinity) <= 5 }.count
        print("  decide slower than 5 ms: \(slow.count) in \(stalls.count) runs, \(quick) of them under 5 ms in the server; largest: \(listed.joined(separator: "; "))")
    }

    /// The server's `/metrics` text.
    static func exposition(port: Int) async throws -> String {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics")
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, deadline: .now() + .seconds(10))
        return String(buffer: try await response.body.collect(upTo: 1 << 24))
    }

    /// One decision's latency in milliseconds, client side, and its
    /// `Server-Timing` metrics (`evaluate`, `commit`, `total`; milliseconds).
    struct DecideTiming: Sendable {
        var latency: Double
        var server: [String: Double]
    }

    /// One `/v1/decide` of an `Order Completed`, timed.
    static func decide(port: Int, auth: String, userId: String, messageId: String, total: Int,
                       client: HTTPClient = .shared) async throws -> DecideTiming {
        let body = FixedRateDecisions.body(userId: userId, messageId: messageId, total: total)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/decide")
        request.method = .POST
        request.headers.add(name: "Authorization", value: auth)
        request.body = .bytes(ByteBuffer(string: body))
        let sent = ContinuousClock.now
        let response = try await client.execute(request, deadline: .now() + .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 16)
        let latency = seconds(ContinuousClock.now - sent) * 1000
        return DecideTiming(latency: latency, server: response.headers.first(name: "Server-Timing").map(serverTiming) ?? [:])
    }

    /// The durations (milliseconds) of a `Server-Timing` header, by metric name.
    static func serverTiming(_ header: String) -> [String: Double] {
        var durations: [String: Double] = [:]
        for metric in header.split(separator: ",") {
            let parts = metric.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            if let name = parts.first, let duration = parts.dropFirst().first(where: { $0.hasPrefix("dur=") }) {
                durations[name] = Double(duration.dropFirst(4))
            }
        }
        return durations
    }

    /// Cumulative bucket counts of one labelled Prometheus histogram, by upper bound.
    static func histogramBuckets(_ text: String, _ name: String, phase: String) -> [(bound: String, count: Double)] {
        text.split(separator: "\n").compactMap { line -> (String, Double)? in
            guard line.hasPrefix(name + "_bucket{"), phase.isEmpty || line.contains("phase=\"\(phase)\""),
                  let le = line.range(of: "le=\""), let close = line[le.upperBound...].firstIndex(of: "\""),
                  let count = Double(line.split(separator: " ").last ?? "") else { return nil }
            return (String(line[le.upperBound..<close]), count)
        }
    }

    /// The smallest bucket bound holding the fraction `p` of the observations.
    static func bound(_ buckets: [(bound: String, count: Double)], _ p: Double) -> String {
        guard let total = buckets.last?.count, total > 0 else { return "n/a" }
        let bound = buckets.first { $0.count >= total * p }?.bound ?? "+Inf"
        return Double(bound).map { String(format: "%.2f ms", $0 * 1000) } ?? bound
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
