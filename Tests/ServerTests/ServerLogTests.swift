import Foundation
import Logging
@testable import Server
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Store
import TestSupport
import Testing

/// What `crescent serve` writes to standard error (its log).
@Suite("crescent serve's log")
struct ServerLogTests {
    @Test("rules' log lines go to standard error; a restart after a long stop runs a missed schedule once, and says so")
    func logAndCatchUp() async throws {
        let old = (0..<12).map { index in
            #"{"type":"track","event":"Page Viewed","userId":"old","messageId":"old-\#(index)","timestamp":"2026-01-01T0\#(index / 2):\#(index % 2 * 3)0:00Z"}"#
        }
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/loud.lua": """
                segment "loud" { when = function(c) log("looked at", c.id) return false end }
                schedule "pulse" { every = "1h", run = function(ctx, act) act:alert{ message = "tick" } end }
                """,
            "plugins/.keep": "",
            "old.ndjson": old.joined(separator: "\n"),
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = dir.appendingPathComponent("s.db").path
        // A replay leaves the hourly schedule's last run at 05:00 on 1 January 2026.
        let replay = try Fixtures.run(Fixtures.crescentExecutable(), ["replay", "old.ndjson", "--db", database], in: dir)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stderr.contains("looked at old"))
        #expect(try CrescentStore(path: database).outbox(rule: "schedule:pulse").count == 5)

        let logFile = dir.appendingPathComponent("server.log")
        let server = try RunningServer(database: database, directory: dir, log: logFile)
        let sent = try await server.request("POST", "/v1/track", body: #"{"userId":"ana","event":"Page Viewed","messageId":"now-1"}"#,
                                            headers: ["Authorization": "Basic " + Data("wk:".utf8).base64EncodedString()])
        #expect(sent.status == 200)
        #expect(server.stop() == 0)

        let log = try String(contentsOf: logFile, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(log.contains("looked at ana"))
        // Every hour since 06:00 on 1 January was missed: one line says so, and the schedule ran once, not once per hour.
        let catchUp = try #require(log.first { $0.hasPrefix("schedule:pulse: ") }, "\(log)")
        #expect(catchUp.contains(" runs due from 2026-01-01T06:00:00"))
        #expect(catchUp.contains("missed while stopped; it runs once, for "))
        let skipped = Int(catchUp.dropFirst("schedule:pulse: ".count).prefix { $0.isNumber }) ?? 0
        #expect(skipped > 24 * 300, "the hours since 1 January 2026")
        let ticks = try CrescentStore(path: database).outbox(rule: "schedule:pulse").count
        #expect(ticks >= 6 && ticks <= 7, "five from the replay, one for the latest missed hour (and one more if an hour struck meanwhile)")
    }
}

/// The server's own log handler (``ServerLogHandler``).
@Suite("crescent serve's log lines")
struct ServerLogHandlerTests {
    @Test("a line below the level is not written; one at it carries the level, label, metadata by key, source and message")
    func lineFormat() {
        let lines = Collected<String>()
        var logger = Logger(label: "crescent") { ServerLogHandler(label: $0, write: lines.append) }
        logger[metadataKey: "hb.request.id"] = "42"
        logger.info("not written")
        logger.warning("disk almost full", metadata: ["free": "3%"])
        #expect(lines.values.count == 1)
        let line = lines.values.first ?? ""
        #expect(line.hasSuffix(" warning crescent: free=3% hb.request.id=42 [ServerTests] disk almost full\n"), "\(line)")
    }
}
