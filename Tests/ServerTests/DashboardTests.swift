import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

@Suite("Dashboard in headless Chromium")
struct DashboardTests {
    /// label → value of the bars in one chart of the page.
    static func bars(_ dom: String, chart: String) -> [String: Double] {
        guard let start = dom.range(of: "<svg id=\"\(chart)\""), let end = dom.range(of: "</svg>", range: start.upperBound..<dom.endIndex) else {
            return [:]
        }
        var bars: [String: Double] = [:]
        for match in dom[start.lowerBound..<end.upperBound].matches(of: /data-label="([^"]*)" data-value="([^"]*)"/) {
            bars[String(match.1)] = Double(match.2)
        }
        return bars
    }

    /// Runs headless Chromium; its output goes through files, since its helper
    /// processes (crash handler) outlive it and would hold a pipe open.
    static func chromium(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        let status = try Fixtures.runDetached(["timeout", "120", "/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                                               "--hide-scrollbars", "--user-data-dir=\(dir.appendingPathComponent("profile").path)"] + arguments,
                                              stdout: out, stderr: err)
        return (status, (try? String(contentsOf: out, encoding: .utf8)) ?? "", (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    @Test("the page loads in a browser, draws its charts, and its numbers are the admin API's")
    func dashboard() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try RunningServer(database: dir.appendingPathComponent("dash.db").path)
        defer { server.stop() }
        let write = ["Authorization": "Basic " + Data("wk:".utf8).base64EncodedString()]
        var items: [String] = []
        for (i, category) in ["makeup", "makeup", "skincare", "fragrance"].enumerated() {
            items.append(#"{"type":"identify","userId":"d\#(i)","traits":{"email":"d\#(i)@example.com"}}"#)
            let (region, consultant) = (i % 2 == 0 ? "north" : "south", "c\(i % 3)")
            items.append(#"{"type":"track","userId":"d\#(i)","event":"Order Completed","properties":{"order_id":"do\#(i)","total":\#(100 * (i + 1)),"region":"\#(region)","consultant":"\#(consultant)","products":[{"sku":"S\#(i)","category":"\#(category)","price":\#(100 * (i + 1)),"quantity":1}]}}"#)
        }
        items.append(#"{"type":"track","anonymousId":"watch","event":"Competitor Price Observed","properties":{"sku":"S0","competitor":"acme","price":80,"our_price":100}}"#)
        items.append(#"{"type":"track","anonymousId":"watch","event":"Competitor Price Observed","properties":{"sku":"S1","competitor":"acme","price":250,"our_price":200}}"#)
        #expect(try await server.request("POST", "/v1/batch", body: #"{"batch":[\#(items.joined(separator: ","))]}"#, headers: write).status == 200)

        #expect(try await server.request("GET", "/", headers: ["Authorization": "Bearer wrong"]).status == 401, "the dashboard needs the admin token")
        #expect(try await server.request("GET", "/?token=wrong", headers: [:]).status == 401)
        let url = "http://127.0.0.1:\(server.port)/?token=admin"
        let dump = try Self.chromium(["--dump-dom", url])
        #expect(dump.status == 0, "\(dump.stderr)")
        let dom = dump.stdout
        #expect(dom.contains("<title>Crescent</title>"))
        #expect(dom.contains(#"http-equiv="refresh""#), "it refreshes itself")
        for chart in ["events-rate", "decisions", "segments", "revenue", "top-products", "revenue-by-region", "revenue-by-consultant",
                      "undercut", "rules"] {
            #expect(dom.contains("<svg id=\"\(chart)\""), "chart \(chart) is drawn")
        }
        #expect(!dom.contains("<script"), "no script, nothing from a CDN")

        // Segment sizes as the admin API reports them.
        let segments = try #require(try await server.request("GET", "/v1/segments").json["segments"] as? [[String: Any]])
        let drawnSegments = Self.bars(dom, chart: "segments")
        for segment in segments {
            #expect(drawnSegments[segment["name"] as! String] == Double(segment["size"] as! Int))
        }
        #expect(drawnSegments["bronze"] ?? 0 > 0)
        // Revenue by category as the sales report says.
        let sales = try #require((try await server.request("GET", "/v1/reports/sales?by=category").json["tables"] as? [[String: Any]])?.first)
        let revenue = Dictionary(uniqueKeysWithValues: (sales["rows"] as! [[Any]]).map { ($0[0] as! String, $0[3] as! Double) })
        #expect(Self.bars(dom, chart: "revenue") == revenue)
        #expect(revenue["makeup"] == 300)
        // Decisions as the fraud report counts them.
        let fraud = try #require((try await server.request("GET", "/v1/reports/fraud").json["tables"] as? [[String: Any]])?.first)
        let decisions = Dictionary(uniqueKeysWithValues: (fraud["rows"] as! [[Any]]).map { ($0[0] as! String, $0[1] as! Double) })
        #expect(Self.bars(dom, chart: "decisions") == decisions)
        #expect(decisions["allow"] == 4)
        // Sales by product, region and consultant, and the SKUs competitors undercut, as the reports say.
        #expect(Self.bars(dom, chart: "top-products") == ["S3": 400, "S2": 300, "S1": 200, "S0": 100])
        #expect(Self.bars(dom, chart: "revenue-by-region") == ["north": 400, "south": 600])
        #expect(Self.bars(dom, chart: "revenue-by-consultant") == ["c0": 500, "c1": 200, "c2": 300])
        #expect(Self.bars(dom, chart: "undercut") == ["S0 acme": 20], "S1 is dearer at acme: not undercut")
        #expect(dom.contains(#"id="orders-total" data-value="4""#))

        let shot = dir.appendingPathComponent("dashboard.png")
        let screenshot = try Self.chromium(["--window-size=1280,1400", "--screenshot=\(shot.path)", url])
        #expect(screenshot.status == 0)
        let png = try Data(contentsOf: shot)
        #expect(png.count > 10_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }
}
