import Foundation
import TestSupport
import Testing

@Suite("crescent backtest")
struct BacktestCommandTests {
    let crescent = Fixtures.crescentExecutable()

    @Test("a report as text and as JSON; a candidate with errors is refused with the file and line")
    func command() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for folder in ["rules", "plugins"] {
            try FileManager.default.copyItem(at: Fixtures.packageRoot.appendingPathComponent(folder), to: dir.appendingPathComponent(folder))
        }
        try FileManager.default.copyItem(at: dir.appendingPathComponent("rules"), to: dir.appendingPathComponent("candidate"))
        let events = Fixtures.packageRoot.appendingPathComponent("examples/events.ndjson").path
        #expect(try Fixtures.run(crescent, ["replay", events, "--db", "live.db"], in: dir).status == 0)

        let text = try Fixtures.run(crescent, ["backtest", "--rules", "candidate", "--db", "live.db", "--since", "60d"], in: dir)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdoutText.contains("decisions the candidate would change: 0"), "the same rules change nothing")
        #expect(text.stdoutText.contains("against the labels"))
        #expect(text.stderr.contains("events replayed"), "progress goes to standard error")

        let json = try Fixtures.run(crescent, ["backtest", "--rules", "candidate", "--db", "live.db", "--json"], in: dir)
        let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let candidateHits = try #require((object["candidate"] as? [String: Any])?["rule_hits"] as? [[String: Any]])
        let currentHits = try #require((object["current"] as? [String: Any])?["rule_hits"] as? [[String: Any]])
        #expect(candidateHits.map { "\($0["rule"]!)=\($0["hits"]!)" } == currentHits.map { "\($0["rule"]!)=\($0["hits"]!)" })
        #expect(candidateHits.contains { $0["rule"] as? String == "segment:bronze" && ($0["hits"] as? Int ?? 0) > 0 })
        #expect(((object["candidate"] as? [String: Any])?["metrics"] as? [String: Any])?["true_positives"] is Int)

        try Data("fraud \"x\" { score = function(e) return 1 + end }".utf8).write(to: dir.appendingPathComponent("candidate/fraud/x.lua"))
        let broken = try Fixtures.run(crescent, ["backtest", "--rules", "candidate", "--db", "live.db"], in: dir)
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("candidate/fraud/x.lua:1:"))
        let missing = try Fixtures.run(crescent, ["backtest", "--rules", "candidate", "--db", "nothing.db"], in: dir)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nothing.db: no such database"))
    }
}
