import Foundation
import TestSupport
import Testing

@Suite("crescent report")
struct ReportCommandTests {
    let crescent = Fixtures.crescentExecutable()

    @Test("every report runs on the example data in each format; bad names, groupings and times are usage errors")
    func reports() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let events = Fixtures.packageRoot.appendingPathComponent("examples/events.ndjson").path
        let rules = Fixtures.packageRoot.appendingPathComponent("rules").path
        let plugins = Fixtures.packageRoot.appendingPathComponent("plugins").path
        #expect(try Fixtures.run(crescent, ["replay", events, "--db", "r.db", "--rules", rules, "--plugins", plugins], in: dir).status == 0)
        for name in ["sales", "acquisition", "retention", "promotions", "inventory", "consultants", "fraud", "journeys"] {
            let table = try Fixtures.run(crescent, ["report", name, "--db", "r.db"], in: dir)
            #expect(table.status == 0, "\(name): \(table.stderr)")
            #expect(!table.stdoutText.isEmpty)
        }
        let csv = try Fixtures.run(crescent, ["report", "sales", "--by", "category", "--format", "csv", "--db", "r.db"], in: dir)
        #expect(csv.stdoutText.hasPrefix("category,orders,units,revenue\n"))
        let json = try Fixtures.run(crescent, ["report", "fraud", "--format", "json", "--db", "r.db", "--since", "2026-01-01"], in: dir)
        let tables = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]])
        #expect(tables.count == 3)
        #expect((tables[0]["columns"] as? [String])?.first == "decision")

        let unknown = try Fixtures.run(crescent, ["report", "weather", "--db", "r.db"], in: dir)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no report weather"))
        let grouping = try Fixtures.run(crescent, ["report", "sales", "--by", "weekday", "--db", "r.db"], in: dir)
        #expect(grouping.status == 2)
        #expect(grouping.stderr.contains("groups by day, category, product, campaign"))
        let time = try Fixtures.run(crescent, ["report", "sales", "--since", "last tuesday", "--db", "r.db"], in: dir)
        #expect(time.status == 2)
        #expect(time.stderr.contains("--since last tuesday"))
    }
}
