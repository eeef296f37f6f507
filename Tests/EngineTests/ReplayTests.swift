import Engine
import EventGenerator
import Foundation
import GRDB
import Store
import TestSupport
import Testing

@Suite("Replaying generated traffic through the shipped rules")
struct ReplayTests {
    @Test("exact counts: retries deduplicated, every injected fraud pattern reviewed or blocked")
    func generatedTraffic() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("events.ndjson")
        let manifest = try EventGenerator(seed: 7, events: 4000).write(to: file)
        let engine = try EngineFixtures.shippedEngine()
        let summary = try Replayer().replay(file, into: engine)
        #expect(summary.events == manifest.uniqueMessages)
        #expect(summary.duplicates == manifest.retries)
        #expect(summary.rejected.isEmpty)
        #expect(summary.errors == 0)
        let injected = manifest.cardTestingOrders + manifest.manyCardsOrders + manifest.countryMismatchOrders
            + manifest.disposableEmailOrders
        #expect(injected.count >= 6)
        #expect(!manifest.cardTestingOrders.isEmpty && !manifest.manyCardsOrders.isEmpty)
        #expect(!manifest.countryMismatchOrders.isEmpty && !manifest.disposableEmailOrders.isEmpty)
        for orderId in injected {
            let verdict = try engine.store.read { db in
                try String.fetchOne(db, sql: "SELECT decision FROM decisions WHERE order_id = ?", arguments: [orderId])
            }
            #expect(verdict == "review" || verdict == "block", "order \(orderId) got \(verdict ?? "no decision")")
        }
        #expect((summary.decisions["review"] ?? 0) + (summary.decisions["block"] ?? 0) >= injected.count)
        #expect(summary.ruleHits["promotion:low_stock_alert"] ?? 0 > 0)
        // A card-testing burst comes from one IP: its fifth order in the hour trips the IP velocity rule.
        #expect(summary.ruleHits["fraud:ip_velocity"] ?? 0 > 0)
        #expect(summary.segments["bronze"] ?? 0 > 0)
        // The summary's actions are everything the replay put in the outbox, journey timers' and schedules' too.
        let stored = try engine.store.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT action, COUNT(*) FROM outbox GROUP BY action")
                .map { ($0[0] as String, $0[1] as Int) })
        }
        #expect(summary.actions == stored)
        #expect(summary.actions["notify"] ?? 0 > summary.ruleHits["promotion:first_purchase_welcome"] ?? 0)
        // Each chargeback puts its order's card on the blocked list.
        #expect(!manifest.fraudRefunds.isEmpty)
        #expect(summary.ruleHits["promotion:block_confirmed_card"] == manifest.fraudRefunds.count)
        #expect(try engine.store.listEntries().lists["blocked_cards"]?.count == manifest.fraudRefunds.count)
        // A competitor's weekly launch alerts pricing when the shop sells in that category (not menswear).
        #expect(manifest.competitorLaunches > manifest.launchesInOurCategories && manifest.launchesInOurCategories > 0)
        #expect(summary.ruleHits["promotion:competitor_launch_alert"] == manifest.launchesInOurCategories)
        // The card numbers a checkout leaked are masked, counted, and stored nowhere whole.
        #expect(manifest.leakedCardNumbers > 0)
        #expect(summary.maskedCardNumbers == ["properties.card_number": manifest.leakedCardNumbers])
        let whole = try engine.store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE payload LIKE '%4111 1111%' OR payload LIKE '%5555555555554444%'")
        }
        #expect(whole == 0)
        // Replaying the same file again changes nothing.
        let again = try Replayer().replay(file, into: engine)
        #expect(again.events == 0 && again.duplicates == manifest.lines)
    }

    @Test("generated traffic marks every fourth product down by 25% every other week, so a wishlisted product can get cheaper")
    func markdowns() throws {
        let (text, _) = EventGenerator(seed: 7, events: 4000).generate()
        var prices: [String: Set<Double>] = [:]
        for line in text.split(separator: "\n") {
            let message = try JSONValue.parse(Data(line.utf8))
            guard message["event"]?.stringValue == "Product Viewed", let sku = message["properties"]?["sku"]?.stringValue,
                  let price = message["properties"]?["price"]?.doubleValue else { continue }
            prices[sku, default: []].insert(price)
        }
        let marked = prices.filter { $0.value.count > 1 }
        #expect(marked.count >= 5, "several products seen at two prices")
        for (sku, seen) in marked {
            #expect((Int(sku.dropFirst(4)) ?? 1) % 4 == 0, "\(sku) is not one of the marked-down products")
            #expect(seen.count == 2 && abs(seen.min()! - (seen.max()! * 0.75 * 100).rounded() / 100) < 0.005, "\(sku): \(seen)")
        }
        #expect(prices.filter { (Int($0.key.dropFirst(4)) ?? 1) % 4 != 0 }.allSatisfy { $0.value.count == 1 })
    }

    @Test("malformed lines are skipped, reported with their line number and kept in the store; strict mode stops")
    func malformedLines() throws {
        let dir = try Fixtures.temporaryDirectory(files: ["e.ndjson": """
            {"type":"track","event":"Page Viewed","userId":"u1","messageId":"a"}
            {not json
            {"type":"track","userId":"u1","messageId":"b"}
            {"event":"x","userId":"u1"}
            {"type":"track","event":"Product Viewed","messageId":"c"}

            {"batch":[{"type":"track","event":"Product Viewed","userId":"u2","messageId":"d"},{"type":"identify","userId":"u2","messageId":"e","traits":{"email":"z@example.com"}}],"context":{"ip":"1.2.3.4"}}
            """])
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("e.ndjson")
        let engine = try EngineFixtures.engine(rules: [:])
        let summary = try Replayer().replay(file, into: engine)
        #expect(summary.events == 3)
        #expect(summary.rejected == [
            RejectedLine(line: 2, message: "malformed JSON"),
            RejectedLine(line: 3, message: "field 'event': is required for track"),
            RejectedLine(line: 4, message: "field 'type': is required (identify, track, page, screen, group or alias)"),
            RejectedLine(line: 5, message: "field 'userId': no id: one of 'userId' or 'anonymousId' is required"),
        ])
        // Kept like the ingest API's refusals (GET /v1/rejected), oldest last.
        let kept = try engine.store.rejectedMessages()
        #expect(kept.map(\.source) == ["e.ndjson:5", "e.ndjson:4", "e.ndjson:3", "e.ndjson:2"])
        #expect(kept.map(\.code) == ["invalid_message", "invalid_message", "invalid_message", "invalid_json"])
        #expect(kept.last?.payload == "{not json")
        #expect(kept[1].userId == "u1" && kept[1].reason.hasPrefix("field 'type'"))
        let stored = try #require(try engine.store.event(messageId: "d"))
        #expect(stored.payload.contains("1.2.3.4"), "batch context is merged into items")
        #expect(throws: ReplayError.self) { try Replayer(strict: true).replay(file, into: try EngineFixtures.engine(rules: [:])) }
    }

    @Test("a file that starts with a UTF-8 byte order mark (saved by a Windows tool) loses no line; CRLF line ends are fine")
    func byteOrderMark() throws {
        let lines = #"{"type":"track","event":"Page Viewed","userId":"u1","messageId":"a"}"# + "\r\n"
            + #"{"type":"track","event":"Page Viewed","userId":"u1","messageId":"b"}"# + "\r\n"
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("bom.ndjson")
        try (Data([0xEF, 0xBB, 0xBF]) + Data(lines.utf8)).write(to: file)
        let engine = try EngineFixtures.engine(rules: [:])
        let summary = try Replayer().replay(file, into: engine)
        #expect(summary.events == 2 && summary.rejected.isEmpty, "\(summary.rejected)")
        #expect(try engine.store.event(messageId: "a")?.payload.hasPrefix("{") == true, "the mark is not stored with the message")
        #expect((try? JSONValue.parse(Data([0xEF, 0xBB, 0xBF]) + Data("[1]".utf8))) == .array([.int(1)]))
    }

    @Test("a line holding a JSON array of messages is a batch; an array spread over lines is refused with how to convert it")
    func jsonArrays() throws {
        let messages = [#"{"type":"track","event":"Page Viewed","userId":"u1","messageId":"a"}"#,
                        #"{"type":"track","event":"Page Viewed","userId":"u1","messageId":"b"}"#]
        let dir = try Fixtures.temporaryDirectory(files: ["one.json": "[" + messages.joined(separator: ",") + "]\n",
                                                          "pretty.json": "[\n  " + messages.joined(separator: ",\n  ") + "\n]\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let summary = try Replayer().replay(dir.appendingPathComponent("one.json"), into: try EngineFixtures.engine(rules: [:]))
        #expect(summary.events == 2 && summary.rejected.isEmpty)
        let engine = try EngineFixtures.engine(rules: [:])
        #expect(throws: ReplayError.notNDJSON("pretty.json")) { try Replayer().replay(dir.appendingPathComponent("pretty.json"), into: engine) }
        #expect(ReplayError.notNDJSON("pretty.json").description.hasSuffix("jq -c '.[]' pretty.json > pretty.ndjson"))
        #expect(ReplayError.converted("x.ndjson") == "x-lines.ndjson")
        #expect(try engine.store.count("events") == 0, "nothing of a file refused whole is processed")
    }
}

@Suite("Restarting the engine mid-stream")
struct RestartTests {
    @Test("a replay split across two engine runs on one database ends in the same state as one run")
    func splitReplayMatchesSingleRun() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = dir.appendingPathComponent("all.ndjson")
        _ = try EventGenerator(seed: 11, events: 3000).write(to: all)
        let lines = try String(contentsOf: all, encoding: .utf8).split(separator: "\n")
        let first = dir.appendingPathComponent("first.ndjson"), second = dir.appendingPathComponent("second.ndjson")
        try (lines[..<(lines.count / 2)].joined(separator: "\n") + "\n").write(to: first, atomically: true, encoding: .utf8)
        try (lines[(lines.count / 2)...].joined(separator: "\n") + "\n").write(to: second, atomically: true, encoding: .utf8)

        func engine(_ path: String) throws -> Engine {
            try Engine(store: try CrescentStore(path: path), rulesDirectory: Fixtures.packageRoot.appendingPathComponent("rules").path,
                       pluginsDirectory: Fixtures.packageRoot.appendingPathComponent("plugins").path)
        }
        let single = dir.appendingPathComponent("single.db").path
        _ = try Replayer().replay(all, into: try engine(single))
        let split = dir.appendingPathComponent("split.db").path
        _ = try Replayer().replay(first, into: try engine(split))
        _ = try Replayer().replay(second, into: try engine(split))

        let a = try CrescentStore(path: single), b = try CrescentStore(path: split)
        #expect(try a.count("events") == b.count("events"))
        #expect(try a.segmentSizes() == b.segmentSizes())
        #expect(try a.decisionCounts() == b.decisionCounts())
        #expect(try a.actionCounts() == b.actionCounts())
        #expect(try a.count("promotion_fires") == b.count("promotion_fires"))
        let spend = "SELECT id || ':' || orders_count || ':' || printf('%.2f', total_spent) FROM customers ORDER BY id"
        #expect(try a.read { try String.fetchAll($0, sql: spend) } == b.read { try String.fetchAll($0, sql: spend) })
    }

    @Test("card numbers in replayed messages are stored masked, counted by field; a refused line is kept masked too")
    func cardNumbers() throws {
        let dir = try Fixtures.temporaryDirectory(files: ["e.ndjson": """
            {"type":"track","event":"Order Completed","userId":"ana","messageId":"c1","timestamp":"2026-01-01T10:00:00Z","properties":{"order_id":"o1","total":20,"card_number":"4111 1111 1111 1111"}}
            {"type":"track","event":"Order Completed","userId":"bo","messageId":"c2","timestamp":"2026-01-01T11:00:00Z","properties":{"order_id":"o2","total":20,"card_number":5555555555554444}}
            {"type":"track","userId":"cy","messageId":"c3","properties":{"card_number":"4111111111111111"}}

            """])
        defer { try? FileManager.default.removeItem(at: dir) }
        let engine = try EngineFixtures.engine(rules: [:])
        let summary = try Replayer().replay(dir.appendingPathComponent("e.ndjson"), into: engine)
        #expect(summary.events == 2 && summary.rejected.count == 1)
        #expect(summary.maskedCardNumbers == ["properties.card_number": 2])
        let stored = try engine.store.read { db in try String.fetchAll(db, sql: "SELECT payload FROM events ORDER BY message_id") }
        #expect(stored.count == 2)
        #expect(stored.allSatisfy { !$0.contains("4111 1111") && !$0.contains("5555555555554444") }, "\(stored)")
        #expect(stored[0].contains("411111******1111") && stored[1].contains("555555******4444"))
        let refused = try engine.store.rejectedMessages()
        #expect(refused.count == 1 && refused[0].payload.contains("411111******1111") && !refused[0].payload.contains("4111111111111111"))
    }
}
