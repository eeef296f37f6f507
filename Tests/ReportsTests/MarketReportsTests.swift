import Engine
import Foundation
import Reports
import Store
import TestSupport
import Testing

@Suite("The competitors report")
struct MarketReportsTests {
    typealias R = ReportsTests

    /// Our A (makeup, 20) and B (skincare, 10); acme and globex watching them; two launches.
    static func market() throws -> CrescentStore {
        let engine = try EngineFixtures.engine(rules: [:])
        _ = try engine.process(R.order("o1", "ana", [("A", "makeup", 20, 1), ("B", "skincare", 10, 1)], at: "0s"))
        let watch: [(String, String, Double, String)] = [("A", "acme", 18, "1d"), ("A", "globex", 22, "1d"), ("B", "globex", 9, "1d"),
                                                         ("A", "acme", 16, "3d")]
        for (sku, competitor, price, at) in watch {
            _ = try engine.process(R.event("Competitor Price Observed", "price-watch",
                                           ["sku": .string(sku), "competitor": .string(competitor), "price": .double(price)], at: at))
        }
        _ = try engine.process(R.event("Competitor Product Launched", "price-watch",
                                       ["competitor": "acme", "name": "Lip Ink", "category": "makeup", "price": 15], at: "4d"))
        _ = try engine.process(R.event("Competitor Product Launched", "price-watch",
                                       ["competitor": "globex", "name": "Beard Balm", "category": "menswear", "price": 12], at: "5d"))
        try engine.flush()
        return engine.store
    }

    @Test("by SKU: each competitor's latest price in the period against ours, the most undercut first; launches beside our category")
    func bySKU() throws {
        let reports = Reports(store: try Self.market())
        let tables = try reports.run(.competitors, ReportQuery())
        #expect(tables.count == 2)
        let prices = tables[0]
        #expect(prices.rows.map { Array($0.prefix(9)).map(\.display) } == [
            ["A", "", "makeup", "20", "2", "acme", "16", "-0.20", "1"],
            ["B", "", "skincare", "10", "1", "globex", "9", "-0.10", "1"],
        ])
        // Before acme's cut, its price was 18.
        let early = try reports.run(.competitors, ReportQuery(until: EngineFixtures.time("2d")))[0]
        #expect(early.value("cheapest_price", in: try #require(early.row("A"))) == .number(18))
        #expect(early.value("gap", in: try #require(early.row("A"))) == .number(-0.1))

        let launches = tables[1]
        #expect(launches.rows.map { Array($0.dropFirst()).map(\.display) } == [
            ["globex", "Beard Balm", "menswear", "12", "0", ""],
            ["acme", "Lip Ink", "makeup", "15", "1", "20"],
        ])
    }

    @Test("by competitor: SKUs watched, cheaper on how many, average and deepest gap")
    func byCompetitor() throws {
        let reports = Reports(store: try Self.market())
        let table = try reports.run(.competitors, ReportQuery(by: "competitor"))[0]
        #expect(table.rows.map { Array($0.prefix(5)).map(\.display) } == [
            ["acme", "1", "1", "-0.20", "-0.20"],
            ["globex", "2", "1", "0", "-0.10"],
        ])
        #expect(throws: ReportError.self) { try reports.run(.competitors, ReportQuery(by: "region")) }
    }
}
