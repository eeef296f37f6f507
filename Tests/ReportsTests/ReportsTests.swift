import Engine
import Foundation
import GRDB
import Reports
import Store
import TestSupport
import Testing

@Suite("Reports")
struct ReportsTests {
    static let rules = [
        "promotions/thanks.lua": """
            promotion "thanks" {
              on = "Order Completed", holdout = 0.5,
              run = function(e, c, act) act:notify{ channel = "email", template = "thanks" } end,
            }
            """,
        "fraud/policy.lua": #"fraud_policy { on = { "Order Completed" }, review_at = 50, block_at = 80 }"#,
        "fraud/big.lua": #"fraud "big_order" { score = function(e) if (e.properties.total or 0) >= 500 then return 90, "big" end end }"#,
    ]

    static func event(_ name: String, _ user: String, _ properties: [String: JSONValue] = [:], at: String,
                      context: [String: JSONValue] = [:]) -> Event {
        Event(messageId: UUID().uuidString, kind: .track, name: name, userId: user, properties: properties, context: context,
              timestamp: EngineFixtures.time(at))
    }

    static func order(_ id: String, _ user: String, _ items: [(sku: String, category: String, price: Double, quantity: Int)],
                      at: String, extra: [String: JSONValue] = [:]) -> Event {
        var properties: [String: JSONValue] = [
            "order_id": .string(id), "total": .double(items.map { $0.price * Double($0.quantity) }.reduce(0, +)),
            "products": .array(items.map { .object(["sku": .string($0.sku), "category": .string($0.category),
                                                    "price": .double($0.price), "quantity": .int(Int64($0.quantity))]) }),
        ]
        properties.merge(extra) { _, new in new }
        return event("Order Completed", user, properties, at: at)
    }

    /// A small shop with numbers we can count by hand.
    static func shop() throws -> CrescentStore {
        let engine = try EngineFixtures.engine(rules: rules)
        let campaign: [String: JSONValue] = ["campaign": .object(["source": "google", "medium": "cpc", "name": "spring"])]
        let traits: [String: JSONValue] = ["marketing_consent": true]
        for user in ["ana", "bo", "cy", "di"] {
            _ = try engine.process(Event(messageId: "id-\(user)", kind: .identify, name: "Identify", userId: user, traits: traits,
                                         context: user == "di" ? [:] : campaign, timestamp: EngineFixtures.time("0s")))
        }
        _ = try engine.process(event("Ad Spend", "marketing", ["source": "google", "amount": 90], at: "1h"))
        _ = try engine.process(order("o1", "ana", [("A", "makeup", 20, 2), ("B", "skincare", 10, 1)], at: "1d",
                                     extra: ["consultant": "c1", "region": "north"]))
        _ = try engine.process(order("o2", "ana", [("A", "makeup", 20, 1)], at: "3d", extra: ["consultant": "c1", "region": "north"]))
        _ = try engine.process(order("o3", "bo", [("B", "skincare", 10, 3)], at: "3d", extra: ["consultant": "c2", "region": "south"]))
        _ = try engine.process(order("o4", "cy", [("C", "fragrance", 600, 1)], at: "5d"))
        _ = try engine.process(event("Order Refunded", "cy", ["order_id": "o4", "reason": "chargeback_fraud"], at: "9d"))
        _ = try engine.process(event("Consultation Started", "ana", ["consultant": "c1"], at: "1d"))
        _ = try engine.process(event("Consultation Started", "di", ["consultant": "c1"], at: "2d"))
        _ = try engine.process(event("Consultant Rated", "ana", ["consultant": "c1", "rating": 4], at: "2d"))
        _ = try engine.process(event("Consultant Rated", "bo", ["consultant": "c1", "rating": 5], at: "4d"))
        _ = try engine.process(event("Inventory Updated", "ops", ["sku": "A", "quantity": 3, "region": "north"], at: "9d"))
        try engine.flush()
        return engine.store
    }

    @Test("sales by day, category and campaign, counted by hand")
    func sales() throws {
        let reports = Reports(store: try Self.shop())
        let byDay = try #require(try reports.run(.sales, ReportQuery()).first)
        #expect(byDay.rows.map { $0.map(\.display) } == [
            ["2026-01-02", "1", "50", "0", "50", "50"],
            ["2026-01-04", "2", "50", "0", "50", "25"],
            ["2026-01-06", "1", "600", "600", "0", "600"],
        ])
        let byCategory = try #require(try reports.run(.sales, ReportQuery(by: "category")).first)
        #expect(byCategory.row("makeup")?.map(\.display) == ["makeup", "2", "3", "60"])
        #expect(byCategory.row("skincare")?.map(\.display) == ["skincare", "2", "4", "40"])
        let byCampaign = try #require(try reports.run(.sales, ReportQuery(by: "campaign")).first)
        #expect(byCampaign.row("spring")?[1] == .number(4))
        let window = try #require(try reports.run(.sales, ReportQuery(since: EngineFixtures.time("2d"), until: EngineFixtures.time("4d"))).first)
        #expect(window.rows.count == 1)
        #expect(throws: ReportError.self) { try reports.run(.sales, ReportQuery(by: "weekday")) }
    }

    @Test("acquisition with ad spend, retention cohorts, consultants, inventory cover")
    func customersAndOperations() throws {
        let reports = Reports(store: try Self.shop())
        let acquisition = try #require(try reports.run(.acquisition, ReportQuery()).first)
        let google = try #require(acquisition.row("google"))
        // ana, bo, cy came from google; cy's only order was refunded (so cy is no buyer); ana bought twice; spend 90 over 2 buyers.
        #expect(google.map(\.display) == ["google", "3", "2", "0.67", "0.50", "100", "90", "45"])
        #expect(acquisition.row("(direct)")?[2] == .number(0), "di never bought")

        let retention = try reports.run(.retention, ReportQuery())
        #expect(retention[0].row("2026-01")?[1] == .number(3))
        #expect(retention[0].row("2026-01")?[2].number.map { ($0 * 100).rounded() } == 33)

        let consultants = try #require(try reports.run(.consultants, ReportQuery()).first)
        let c1 = try #require(consultants.row("c1"))
        #expect(consultants.value("orders", in: c1) == .number(2))
        #expect(consultants.value("conversion", in: c1) == .number(0.5), "ana bought after her consultation, di did not")
        #expect(consultants.value("rating", in: c1) == .number(4.5))

        let inventory = try #require(try reports.run(.inventory, ReportQuery()).first)
        let a = try #require(inventory.row("A"))
        // 3 units of A sold in the north in the 14 days before the last event: 3/14 a day, 3 in stock → 14 days.
        #expect(inventory.value("days_of_cover", in: a) == .number(14))
        #expect(inventory.value("stockout_risk", in: a) == .text("low"))
    }

    @Test("promotions with a holdout, fraud against labels, journeys")
    func rulesReports() throws {
        let store = try Self.shop()
        let reports = Reports(store: store)
        let promotions = try #require(try reports.run(.promotions, ReportQuery()).first)
        let thanks = try #require(promotions.row("thanks"))
        let fires = try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT customer_id) FROM promotion_fires WHERE promotion = 'thanks'") ?? 0 }
        let held = try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT customer_id) FROM promotion_fires WHERE promotion = 'holdout:thanks'") ?? 0 }
        #expect(fires + held == 2, "ana and bo are reached or held out; cy's fraud block suppresses promotions")
        #expect(promotions.value("customers", in: thanks) == .number(Double(fires)))

        let fraud = try reports.run(.fraud, ReportQuery())
        #expect(fraud[0].row("block")?[1] == .number(1))
        #expect(fraud[0].row("allow")?[1] == .number(3))
        #expect(fraud[1].row("fraud:big_order")?[1] == .number(1))
        #expect(fraud[2].rows[0].prefix(4).map(\.display) == ["1", "0", "0", "3"], "o4 was blocked and is a chargeback")
        #expect(try reports.run(.journeys, ReportQuery()).first?.rows.isEmpty == true)
    }

    @Test("a holdout splits customers stably; the report compares their conversion")
    func holdout() throws {
        let engine = try EngineFixtures.engine(rules: ["promotions/thanks.lua": Self.rules["promotions/thanks.lua"]!])
        let users = (0..<40).map { "h\($0)" }
        for user in users {
            _ = try engine.process(EngineFixtures.identify(user, traits: ["marketing_consent": true], at: "0s"))
            _ = try engine.process(Self.order("first-\(user)", user, [("A", "makeup", 10, 1)], at: "1h"))
        }
        // Half of the customers (by index) order again within a week.
        for user in users.prefix(20) { _ = try engine.process(Self.order("again-\(user)", user, [("A", "makeup", 10, 1)], at: "2d")) }
        try engine.flush()
        let rows = try engine.store.read { db in
            try Row.fetchAll(db, sql: "SELECT promotion, customer_id FROM promotion_fires WHERE at = ?", arguments: [EngineFixtures.time("1h")])
        }
        let held = Set(rows.filter { ($0[0] as String) == "holdout:thanks" }.map { $0[1] as String })
        let reached = Set(rows.filter { ($0[0] as String) == "thanks" }.map { $0[1] as String })
        #expect(held.count + reached.count == 40 && held.isDisjoint(with: reached))
        #expect(held.count >= 10 && reached.count >= 10, "about half each: \(held.count) held out")
        let again = Set(users.prefix(20))
        let table = try #require(try Reports(store: engine.store).run(.promotions, ReportQuery()).first)
        let thanks = try #require(table.row("thanks"))
        let treated = Double(reached.intersection(again).count) / Double(reached.count)
        let control = Double(held.intersection(again).count) / Double(held.count)
        #expect(table.value("holdout_customers", in: thanks) == .number(Double(held.count)))
        #expect(table.value("conversion", in: thanks)?.number == treated)
        #expect(table.value("holdout_conversion", in: thanks)?.number == control)
        #expect(table.value("uplift_points", in: thanks)?.number == ((treated - control) * 100 * 100).rounded() / 100)
        // The same customers are held out by a new engine (stable across runs and shards).
        let second = try EngineFixtures.engine(rules: ["promotions/thanks.lua": Self.rules["promotions/thanks.lua"]!])
        let user = try #require(held.first)
        _ = try second.process(EngineFixtures.identify(user, traits: ["marketing_consent": true], at: "0s"))
        let outcome = try second.process(Self.order("x", user, [("A", "makeup", 10, 1)], at: "1h"))
        #expect(outcome.result("promotion:thanks")?.reason?.hasPrefix("holdout") == true)
    }

    @Test("a coupon a promotion issued counts as redeemed when an order carries it")
    func redeemed() throws {
        let rule = """
            promotion "welcome" {
              on = "Signed Up",
              run = function(e, c, act) act:coupon{ percent = 10, expires_in = "30d" } end,
            }
            """
        let engine = try EngineFixtures.engine(rules: ["p.lua": rule])
        for user in ["a", "b"] {
            _ = try engine.process(EngineFixtures.identify(user, traits: ["marketing_consent": true], at: "0s"))
            _ = try engine.process(EngineFixtures.track("Signed Up", user: user, at: "1m"))
        }
        try engine.flush()
        let code = try #require(try engine.store.outbox(rule: "promotion:welcome").compactMap {
            try JSONValue.parse(Data($0.payload.utf8))["code"]?.stringValue
        }.first)
        _ = try engine.process(Self.order("c1", "a", [("A", "makeup", 10, 1)], at: "1h", extra: ["coupon": .string(code)]))
        try engine.flush()
        let table = try #require(try Reports(store: engine.store).run(.promotions, ReportQuery()).first)
        let welcome = try #require(table.row("welcome"))
        #expect(table.value("sent", in: welcome) == .number(2))
        #expect(table.value("redeemed", in: welcome) == .number(1))
        #expect(table.value("converted", in: welcome) == .number(1))
    }

    @Test("tables print aligned and as CSV")
    func formats() {
        let table = ReportTable(title: "T", columns: ["name", "n"], rows: [[.text("a,b"), .number(2)], [.text("c"), .number(1.5)]])
        #expect(table.csv == "name,n\n\"a,b\",2\nc,1.50\n")
        #expect(table.text == "T\n  name  n   \n  a,b      2\n  c     1.50\n")
    }
}
