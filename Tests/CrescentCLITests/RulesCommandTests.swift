import Foundation
import TestSupport
import Testing

@Suite("crescent rules history and rollback")
struct RulesCommandTests {
    let crescent = Fixtures.crescentExecutable()

    @Test("every loaded version is listed; a rollback writes an earlier version's files back and keeps a backup")
    func historyAndRollback() throws {
        let v1 = "segment \"one\" { when = function(c) return true end }\nfraud_policy { on = \"Order Completed\" }\n"
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/a.lua": v1, "plugins/.keep": "",
            "events.ndjson": #"{"type":"track","userId":"u","event":"Order Completed","messageId":"m1","properties":{"order_id":"o1","total":5}}"# + "\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Fixtures.run(crescent, ["replay", "events.ndjson", "--db", "r.db"], in: dir).status == 0)
        let rules = dir.appendingPathComponent("rules")
        try "segment \"two\" { when = function(c) return false end }\n".write(to: rules.appendingPathComponent("a.lua"), atomically: true, encoding: .utf8)
        try "segment \"three\" { when = function(c) return true end }\n".write(to: rules.appendingPathComponent("b.lua"), atomically: true, encoding: .utf8)
        #expect(try Fixtures.run(crescent, ["replay", "events.ndjson", "--db", "r.db"], in: dir).status == 0)

        let history = try Fixtures.run(crescent, ["rules", "history", "--db", "r.db"], in: dir)
        #expect(history.status == 0)
        let lines = history.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.contains("1 files, 2 rules, 1 decisions") == true, "\(lines)")
        #expect(lines.last?.contains("2 files, 2 rules, 0 decisions") == true)
        let first = String(lines[0].prefix(8))

        let rollback = try Fixtures.run(crescent, ["rules", "rollback", first, "--db", "r.db", "--rules", "rules"], in: dir)
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(rollback.stdoutText.contains("1 files written, 1 removed"))
        #expect(try String(contentsOf: rules.appendingPathComponent("a.lua"), encoding: .utf8) == v1)
        #expect(!FileManager.default.fileExists(atPath: rules.appendingPathComponent("b.lua").path))
        let backups = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("rules.before-rollback-") }
        #expect(backups.count == 1)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(backups[0]).appendingPathComponent("b.lua").path))

        let unknown = try Fixtures.run(crescent, ["rules", "rollback", "ffffffff", "--db", "r.db"], in: dir)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no rule set version ffffffff"))
    }
}
