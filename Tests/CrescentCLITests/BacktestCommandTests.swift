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

        // A candidate rule that fails on the stored orders: its errors, that it was disabled, and why.
        try Data("fraud \"typo\" { score = function(e) return e.properties.total.amount end }".utf8)
            .write(to: dir.appendingPathComponent("candidate/fraud/typo.lua"))
        func typoLine(since: String) throws -> String {
            let failing = try Fixtures.run(crescent, ["backtest", "--rules", "candidate", "--db", "live.db", "--since", since], in: dir)
            #expect(failing.status == 0, "\(failing.stderr)")
            return failing.stdoutText.split(separator: "\n").first { $0.hasPrefix("fraud:typo") }.map(String.init) ?? ""
        }
        let whole = try typoLine(since: "3650d")
        #expect(whole.contains("(10 errors in the candidate, then disabled; last: candidate/fraud/typo.lua:1: attempt to index a number value"),
                "\(whole)")
        let recent = try typoLine(since: "30d")
        #expect(recent.contains("(disabled after repeated errors before the window; last: candidate/fraud/typo.lua:1:"),
                "a rule that failed only before the window is still shown: \(recent)")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("candidate/fraud/typo.lua"))

        try Data("fraud \"x\" { score = function(e) return 1 + end }".utf8).write(to: dir.appendingPathComponent("candidate/fraud/x.lua"))
        let broken = try Fixtures.run(crescent, ["backtest", "--rules", "candidate", "--db", "live.db"], in: dir)
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("candidate/fraud/x.lua:1:"))
        let missing = try Fixtures.run(crescent, ["backtest", "--rules", "candidate", "--db", "nothing.db"], in: dir)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nothing.db: no such database"))
    }
}
