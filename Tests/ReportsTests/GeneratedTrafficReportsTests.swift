import Engine
import EventGenerator
import Foundation
import Reports
import Store
import TestSupport
import Testing

@Suite("Reports over generated traffic")
struct GeneratedTrafficReportsTests {
    @Test("acquisition: each paid channel's weekly spend, cost per buyer; direct visits carry no campaign")
    func acquisition() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("events.ndjson")
        let manifest = try EventGenerator(seed: 3, events: 3000).write(to: file)
        #expect(Set(manifest.adSpend.keys) == ["google", "facebook", "instagram", "newsletter"])
        let engine = try EngineFixtures.shippedEngine()
        _ = try Replayer().replay(file, into: engine)
        try engine.flush()
        let table = try #require(try Reports(store: engine.store).run(.acquisition, ReportQuery()).first)
        for (source, spend) in manifest.adSpend {
            let row = try #require(table.row(source), "a row for \(source)")
            #expect(table.value("ad_spend", in: row)?.number.map { ($0 * 100).rounded() } == (spend * 100).rounded(), "\(source)")
            let buyers = try #require(table.value("buyers", in: row)?.number)
            let cost = try #require(table.value("cost_per_acquisition", in: row)?.number)
            #expect(abs(cost - spend / buyers) < 0.01, "\(source): \(cost) per buyer")
        }
        #expect(table.row("direct") == nil && table.row("(direct)") != nil, "direct visits count as (direct), with no spend")
    }
}
