import Foundation
import GRDB
import TestSupport
import Testing

/// Journeys through the command line: `replay --until`, `crescent journeys`, and a SIGKILL in the middle of due timers.
@Suite("crescent replay --until, crescent journeys, crash safety")
struct JourneysCommandTests {
    let crescent = Fixtures.crescentExecutable()

    static let drip = """
        journey "drip" {
          on = "Product Added",
          key = function(e) return e.properties.cart_id end,
          steps = { wait "1h", send { template = "first" }, wait "1h", send { template = "second" } },
        }
        """

    /// `customers` customers who give consent and fill a cart, a second apart.
    static func events(customers: Int) -> String {
        var lines: [String] = []
        for n in 0..<customers {
            let at = 1_767_225_600 + n
            lines.append(#"{"type":"identify","userId":"u\#(n)","traits":{"marketing_consent":true},"messageId":"i\#(n)","timestamp":\#(at)}"#)
            lines.append(#"{"type":"track","event":"Product Added","userId":"u\#(n)","properties":{"cart_id":"c\#(n)","price":20},"messageId":"a\#(n)","timestamp":\#(at)}"#)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("replay --until fires the timers due by then; journeys prints the steps")
    func replayUntil() throws {
        let dir = try Fixtures.temporaryDirectory(files: ["rules/journeys/drip.lua": Self.drip, "plugins/.keep": "",
                                                         "events.ndjson": Self.events(customers: 5)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try Fixtures.run(crescent, ["replay", "events.ndjson", "--db", "a.db", "--until", "+90m"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdoutText.contains("clock       2026-01-01T01:30:04.000Z"))
        let report = try Fixtures.run(crescent, ["journeys", "--db", "a.db"], in: dir)
        #expect(report.status == 0)
        let lines = report.stdoutText.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.contains("entered 5, active 5, completed 0, converted 0"))
        #expect(lines.contains("send_1 5 0 5 0 0 0 0"))
        #expect(lines.contains("wait_2 5 5 0 0 0 0 0"))
        let json = try Fixtures.run(crescent, ["journeys", "--db", "a.db", "--json"], in: dir)
        let parsed = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]])
        #expect(parsed.first?["journey"] as? String == "drip")

        let bad = try Fixtures.run(crescent, ["replay", "events.ndjson", "--until", "next tuesday"], in: dir)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--until must be"))
        let missing = try Fixtures.run(crescent, ["journeys", "--db", "nope.db"], in: dir)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope.db: no such database"))
    }

    @Test("check reports journey, messaging and schedule problems as path:line: message")
    func check() throws {
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/journeys/drip.lua": Self.drip,
            "rules/journeys/messaging.lua": "messaging {\n  timezone = \"Mars/Olympus\",\n}",
            "rules/schedules/pace.lua": "schedule \"pace\" { at = \"25:00\", run = function() end }",
            "plugins/.keep": "",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Fixtures.run(crescent, ["check"], in: dir)
        #expect(result.status == 1)
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains("rules/journeys/messaging.lua:1: messaging: unknown timezone \"Mars/Olympus\""))
        #expect(lines.contains { $0.hasPrefix("rules/schedules/pace.lua:1: schedule \"pace\": at must be a time of day") })
    }

    @Test("SIGKILL during a run of due timers, then a restart: every due step ran exactly once")
    func killAndRestart() throws {
        let customers = 300
        let dir = try Fixtures.temporaryDirectory(files: ["rules/journeys/drip.lua": Self.drip, "plugins/.keep": "",
                                                         "events.ndjson": Self.events(customers: customers)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let arguments = ["replay", "events.ndjson", "--db", "k.db", "--batch", "40", "--until", "+1d", "--shards", "1"]
        let killed = try Fixtures.run(crescent, arguments, in: dir, environment: ["CRESCENT_TEST_KILL_AFTER_TIMERS": "250"])
        #expect(killed.signaled && killed.status == SIGKILL, "status \(killed.status): \(killed.stderr)")

        let db = try DatabaseQueue(path: dir.appendingPathComponent("k.db").path)
        let sentBefore = try db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM outbox WHERE action = 'notify'") ?? 0 }
        #expect(sentBefore > 0 && sentBefore < 2 * customers, "the kill must land in the middle: \(sentBefore) sent")

        let restarted = try Fixtures.run(crescent, arguments, in: dir)
        #expect(restarted.status == 0, "\(restarted.stderr)")
        let counts = try db.read { db in
            try [
                "SELECT COUNT(*) FROM outbox WHERE action = 'notify'",
                "SELECT COUNT(*) FROM (SELECT DISTINCT customer_id, json_extract(payload, '$.template') FROM outbox WHERE action = 'notify')",
                "SELECT COUNT(*) FROM journey_instances",
                "SELECT COUNT(*) FROM journey_instances WHERE status = 'completed'",
            ].map { try Int.fetchOne(db, sql: $0) ?? -1 }
        }
        // every send once, no duplicate, one instance per customer, all of them done
        #expect(counts == [2 * customers, 2 * customers, customers, customers])
    }
}
