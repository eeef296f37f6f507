import Engine
import EventGenerator
import Foundation
import GRDB
import Store
import TestSupport
import Testing

@Suite("Backtests")
struct BacktestTests {
    /// TP, FP, FN, TN over orders: flagged when any decision on the order is not `allow`.
    static func confusion(_ decisions: [RecordedDecision], labels: Set<String>) -> [Int] {
        var flagged: [String: Bool] = [:]
        for d in decisions { if let order = d.orderId { flagged[order] = (flagged[order] ?? false) || d.decision != "allow" } }
        var counts = [0, 0, 0, 0]
        for (order, isFlagged) in flagged {
            counts[isFlagged ? (labels.contains(order) ? 0 : 1) : (labels.contains(order) ? 2 : 3)] += 1
        }
        return counts
    }

    static func fileHash(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test("generated data with known fraud: precision and recall of the candidate, the current rules and the record match our own counts")
    func labelledHistory() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("events.ndjson")
        let manifest = try EventGenerator(seed: 21, events: 6000).write(to: file)
        let shipped = Fixtures.packageRoot.appendingPathComponent("rules").path
        let plugins = Fixtures.packageRoot.appendingPathComponent("plugins").path
        // The candidate: the disposable e-mail rule in shadow mode.
        let candidate = dir.appendingPathComponent("candidate")
        try FileManager.default.copyItem(atPath: shipped, toPath: candidate.path)
        let identity = candidate.appendingPathComponent("fraud/identity.lua")
        let source = try String(contentsOf: identity, encoding: .utf8)
        try Data(source.replacingOccurrences(of: "fraud \"disposable_email\" {", with: "fraud \"disposable_email\" {\n  mode = \"shadow\",").utf8)
            .write(to: identity)

        // The live history: the shipped rules, then an analyst confirms two kinds of fraud.
        let database = dir.appendingPathComponent("live.db").path
        let confirmed = manifest.cardTestingOrders + manifest.countryMismatchOrders
        do {
            let live = try Engine(store: try CrescentStore(path: database), rulesDirectory: shipped, pluginsDirectory: plugins)
            _ = try Replayer().replay(file, into: live)
            for order in confirmed {
                _ = try live.process(EngineFixtures.track("Fraud Confirmed", user: "analyst", ["order_id": .string(order)], at: "2400h"))
            }
            try live.flush()
        }
        let hashBefore = try Self.fileHash(database)
        let labels = Set(manifest.fraudRefunds + confirmed)
        #expect(!manifest.disposableEmailOrders.isEmpty && !confirmed.isEmpty)

        // Our own count of what the candidate decides: the same events straight through an engine.
        let expected = try Engine(store: try CrescentStore(), rulesDirectory: candidate.path, pluginsDirectory: plugins)
        _ = try Replayer().replay(file, into: expected)
        try expected.flush()
        let candidateDecisions = try expected.store.recordedDecisions(since: 0)
        let recordedDecisions = try CrescentStore(readOnly: database).recordedDecisions(since: 0)

        let report = try Backtest(database: database, candidateRules: candidate.path, currentRules: shipped, pluginsDirectory: plugins,
                                  window: 3650 * 86_400_000).run()
        #expect(try Self.fileHash(database) == hashBefore, "the live database is never written")
        #expect(report.labelledOrders == labels.count)

        func counts(_ m: BacktestReport.Metrics) -> [Int] { [m.truePositives, m.falsePositives, m.falseNegatives, m.trueNegatives] }
        let candidateCounts = Self.confusion(candidateDecisions, labels: labels)
        let recordedCounts = Self.confusion(recordedDecisions, labels: labels)
        #expect(counts(report.candidate.metrics) == candidateCounts)
        #expect(counts(report.current.metrics) == recordedCounts, "the current rules replayed decide as they did live")
        #expect(counts(report.recorded) == recordedCounts)
        let (tp, fp, fn) = (Double(candidateCounts[0]), Double(candidateCounts[1]), Double(candidateCounts[2]))
        #expect(report.candidate.metrics.precision == tp / (tp + fp))
        #expect(report.candidate.metrics.recall == tp / (tp + fn))
        #expect(report.candidate.metrics.recall! < report.current.metrics.recall!, "without the e-mail rule, fraud slips through")

        // Shadow mode: would-be hits beside live ones.
        let shadowRule = report.candidate.ruleHits.first { $0.rule == "fraud:disposable_email" }
        #expect(shadowRule?.hits == 0)
        #expect(shadowRule?.shadowHits == manifest.disposableEmailOrders.count)
        #expect(report.current.ruleHits.first { $0.rule == "fraud:disposable_email" }?.hits == manifest.disposableEmailOrders.count)

        // A segment's hits are counted as the engine counts them: its entries.
        let entries = try expected.store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM segment_history WHERE segment = 'bronze' AND change = 'entered'") ?? 0
        }
        #expect(entries > 0)
        #expect(expected.stats["segment:bronze"]?.hits == entries)
        #expect(report.candidate.ruleHits.first { $0.rule == "segment:bronze" }?.hits == entries)

        // So are a journey's: its entries, not the exits, goals and awaited events it also explains.
        let started = try expected.store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journey_instances WHERE journey = 'abandoned_cart'") ?? 0
        }
        let converted = try expected.store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journey_instances WHERE journey = 'abandoned_cart' AND converted = 1") ?? 0
        }
        #expect(started > 0 && converted > 0)
        #expect(expected.stats["journey:abandoned_cart"]?.hits == started)
        #expect(report.candidate.ruleHits.first { $0.rule == "journey:abandoned_cart" }?.hits == started)

        // Changed decisions, counted by message id.
        let mine = Dictionary(candidateDecisions.map { ($0.messageId, $0.decision) }) { a, _ in a }
        let changed = recordedDecisions.filter { (mine[$0.messageId] ?? "allow") != $0.decision }
        #expect(report.changes.total == changed.count)
        #expect(changed.count > 0)
        #expect(report.changes.byTransition.keys.allSatisfy { $0.hasSuffix("→ allow") || $0.hasSuffix("→ review") })
        #expect(report.text.contains("fraud:disposable_email"))
    }

    @Test("every rule of both sets is listed: a new rule that never hits shows how often it ran, a removed one is marked")
    func newAndRemovedRules() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("events.ndjson")
        _ = try EventGenerator(seed: 5, events: 2000).write(to: file)
        let shipped = Fixtures.packageRoot.appendingPathComponent("rules").path
        let plugins = Fixtures.packageRoot.appendingPathComponent("plugins").path
        let database = dir.appendingPathComponent("live.db").path
        do {
            let live = try Engine(store: try CrescentStore(path: database), rulesDirectory: shipped, pluginsDirectory: plugins)
            _ = try Replayer().replay(file, into: live)
            try live.flush()
        }
        // The candidate: a fraud rule no order meets, and the VIP promotion taken out.
        let candidate = dir.appendingPathComponent("candidate")
        try FileManager.default.copyItem(atPath: shipped, toPath: candidate.path)
        try Data("""
            fraud "huge_order" {
              description = "Orders over a million",
              score = function(e, c, ctx) if (e.properties.total or 0) > 1e6 then return 90, "huge" end end,
            }
            """.utf8).write(to: candidate.appendingPathComponent("fraud/huge.lua"))
        try FileManager.default.removeItem(at: candidate.appendingPathComponent("promotions/vip.lua"))

        let window: Int64 = 30 * 86_400_000
        let report = try Backtest(database: database, candidateRules: candidate.path, currentRules: shipped, pluginsDirectory: plugins,
                                  window: window).run()
        let decided = try CrescentStore(readOnly: database).recordedDecisions(since: report.since).count
        #expect(decided > 0)
        let huge = report.candidate.ruleHits.first { $0.rule == "fraud:huge_order" }
        #expect(huge?.declared == true && huge?.hits == 0)
        #expect(huge?.runs == decided, "a fraud rule runs on every event the policy decides on")
        #expect(report.current.ruleHits.first { $0.rule == "fraud:huge_order" } == nil)
        #expect(report.candidate.ruleHits.first { $0.rule == "promotion:vip_thank_you" } == nil)
        #expect(report.current.ruleHits.first { $0.rule == "promotion:vip_thank_you" }?.declared == true)

        // Reach: the customers a promotion fired for, as the live run recorded them.
        let promotion = try #require(report.current.ruleHits.filter { $0.rule.hasPrefix("promotion:") }.max { $0.hits < $1.hits })
        let fired = try CrescentStore(readOnly: database).read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT customer_id) FROM promotion_fires WHERE promotion = ? AND at >= ?",
                             arguments: [String(promotion.rule.dropFirst("promotion:".count)), report.since])
        }
        #expect(promotion.hits > 0 && promotion.customers == fired)

        let lines = report.text.split(separator: "\n").map(String.init)
        let hugeLine = try #require(lines.first { $0.hasPrefix("fraud:huge_order ") })
        #expect(hugeLine.contains("new"))
        #expect(hugeLine.contains("ran on \(decided) events in the window, no hit"))
        let vipLine = try #require(lines.first { $0.hasPrefix("promotion:vip_thank_you ") })
        #expect(vipLine.contains("removed"))
        #expect(vipLine.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first == "-", "the candidate does not have it")
    }
}
