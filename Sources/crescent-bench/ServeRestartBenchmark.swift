import CLoadGenerator
import Foundation

extension ServeBenchmark {
    /// The ingest again, on a server restarted on the file the first one
    /// wrote: the same customers (now stored), new message ids. Every start
    /// after a shop's first is this case: the engine reads back each stored
    /// customer, and checks each message id against the store, on first use.
    static func ingestAfterRestart(messages: [String], database: String, root: URL, senders: Int) async throws {
        let server = try ServerProcess.start(
            ["--db", database, "--rules", root.appendingPathComponent("rules").path, "--plugins", root.appendingPathComponent("plugins").path],
            environment: ["CRESCENT_WRITE_KEYS": "bench"])
        defer {
            kill(server.process.processIdentifier, SIGTERM)
            server.process.waitUntilExit()
        }
        let auth = "Basic " + Data("bench:".utf8).base64EncodedString()
        let renamed = messages.map { $0.replacingOccurrences(of: #""messageId":""#, with: #""messageId":"again-"#) }
        let bodies = stride(from: 0, to: renamed.count, by: 100).map {
            #"{"batch":["# + renamed[$0..<min(renamed.count, $0 + 100)].joined(separator: ",") + "]}"
        }
        let batches = bodies.map { LoadGenerator.request("/v1/batch", port: server.port, auth: auth, body: $0) }
        let pid = server.process.processIdentifier
        let threadsBefore = ThreadTimes.now(pid: pid)
        let started = ContinuousClock.now
        let ingest = try await LoadGenerator.run(port: server.port, rate: 0, warmups: Array(batches.prefix(senders)),
                                                 requests: Array(batches.dropFirst(senders)))
        let ingestSeconds = seconds(ContinuousClock.now - started)
        let failed = ingest.results.filter { $0.status != 200 && $0.status != 429 }.count
        guard failed == 0 else { throw LoadGenerator.LoadError(description: "\(failed) batches after the restart got neither 200 nor 429") }
        print(String(format: "  ingest after a restart %8.0f events/s  (the same %d events from the same customers, new message ids, %.1f s)",
                     Double(renamed.count) / ingestSeconds, renamed.count, ingestSeconds))
        print("    server CPU: " + ThreadTimes.now(pid: pid).summary(since: threadsBefore, events: renamed.count))
    }
}
