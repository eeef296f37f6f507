import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Testing

@Suite("Admin API, health and metrics")
struct AdminAPITests {
    @Test("the admin API needs the token; a customer shows what was sent")
    func customer() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let auth: HTTPFields = [.authorization: basic("wk")]
            _ = try await client.execute(uri: "/v1/identify", method: .post, headers: auth, body: ByteBuffer(string:
                #"{"userId":"bo","anonymousId":"anon-bo","traits":{"email":"bo@example.com","plan":"pro"}}"#))
            _ = try await client.execute(uri: "/v1/track", method: .post, headers: auth, body: ByteBuffer(string:
                #"{"userId":"bo","event":"Order Completed","properties":{"order_id":"o1","total":120}}"#))
            let anonymous = try await client.execute(uri: "/v1/customers/bo", method: .get)
            #expect(anonymous.status == .unauthorized)
            let wrong = try await client.execute(uri: "/v1/customers/bo", method: .get, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .unauthorized)
            let admin: HTTPFields = [.authorization: "Bearer admin"]
            let response = try await client.execute(uri: "/v1/customers/bo", method: .get, headers: admin)
            #expect(response.status == .ok)
            let json = response.json
            #expect(json["id"] as? String == "bo")
            #expect((json["traits"] as? [String: Any])?["plan"] as? String == "pro")
            #expect(json["orders_count"] as? Int == 1)
            #expect(json["total_spent"] as? Double == 120)
            #expect((json["segments"] as? [String])?.contains("bronze") == true)
            let events = try #require(json["recent_events"] as? [[String: Any]])
            #expect(events.map { $0["name"] as? String } == ["Order Completed", "Identify"])
            let byAlias = try await client.execute(uri: "/v1/customers/anon-bo", method: .get, headers: admin)
            #expect(byAlias.json["id"] as? String == "bo")
            #expect(try await client.execute(uri: "/v1/customers/nobody", method: .get, headers: admin).status == .notFound)
        }
    }

    @Test("rules: version, every rule with its counts, and the load errors")
    func rules() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            _ = try await client.execute(uri: "/v1/track", method: .post, headers: [.authorization: basic("wk")], body: ByteBuffer(string:
                #"{"userId":"cy","event":"Order Completed","properties":{"order_id":"o1","total":30}}"#))
            let response = try await client.execute(uri: "/v1/rules", method: .get, headers: [.authorization: "Bearer admin"])
            #expect(response.status == .ok)
            let json = response.json
            #expect((json["version"] as? String)?.count == 16)
            let rules = try #require(json["rules"] as? [[String: Any]])
            let bronze = try #require(rules.first { $0["id"] as? String == "segment:bronze" })
            #expect(bronze["hits"] as? Int == 1)
            #expect(bronze["evaluations"] as? Int == 1, "ran once, for the one event")
            #expect((bronze["micros"] as? Int ?? -1) >= 0)
            #expect(rules.first { $0["id"] as? String == "promotion:low_stock_alert" }?["evaluations"] as? Int == 0)
            #expect(bronze["last_fired"] is String)
            #expect(rules.first { $0["id"] as? String == "segment:gold" }?["last_fired"] is NSNull)
            #expect(bronze["stale"] as? Bool == false)
            #expect(rules.first { $0["id"] as? String == "segment:gold" }?["stale"] as? Bool == true, "never fired")
            #expect(bronze["file"] as? String == "rules/segments/loyalty.lua")
            #expect(rules.contains { $0["kind"] as? String == "journey" })
            #expect((json["errors"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("health, ready and metrics")
    func health() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/ready", method: .get).status == .ok)
            _ = try await client.execute(uri: "/v1/track", method: .post, headers: [.authorization: basic("wk")],
                                         body: ByteBuffer(string: #"{"userId":"u","event":"E"}"#))
            _ = try await client.execute(uri: "/v1/track", method: .post, headers: [.authorization: basic("bad")],
                                         body: ByteBuffer(string: #"{"userId":"u","event":"E"}"#))
            _ = try await client.execute(uri: "/v1/decide", method: .post, headers: [.authorization: basic("wk")],
                                         body: ByteBuffer(string: #"{"userId":"u","event":"Order Completed","properties":{"order_id":"m1","total":20}}"#))
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains("crescent_decide_duration_seconds_count 1"))
            let commits = metrics.text.split(separator: "\n").first { $0.hasPrefix("crescent_commit_duration_seconds_count ") }
            #expect((commits?.split(separator: " ").last).flatMap { Int($0) } ?? 0 >= 2, "the track and the decide were committed and timed")
            for phase in ["evaluate", "commit"] {
                #expect(metrics.text.contains(#"crescent_decide_phase_duration_seconds_count{phase="\#(phase)"} 1"#), "\(phase)")
            }
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains(#"crescent_events_ingested_total{type="track"} 2"#), "the track and the decide")
            #expect(metrics.text.contains(#"crescent_requests_rejected_total{reason="invalid_write_key"} 1"#))
            #expect(metrics.text.contains("crescent_rule_hits{"))
            #expect(metrics.text.contains("crescent_ingest_pending 0"))
            #expect(metrics.text.contains(#"crescent_rule_duration_seconds_count{rule="segment:bronze"} 2"#))
            #expect(metrics.text.contains(#"crescent_rule_duration_seconds_bucket{rule="segment:bronze",le="+Inf"} 2"#))
            #expect(metrics.text.contains(#"crescent_outbox_entries{status="pending"}"#))
            #expect(metrics.text.contains("crescent_outbox_lag_seconds"))
            // The disk the store takes: the file holds the schema at least, the log the commits above.
            func bytes(_ file: String) -> Int {
                metrics.text.split(separator: "\n").first { $0.hasPrefix(#"crescent_store_size_bytes{file="\#(file)"} "#) }
                    .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) } ?? -1
            }
            #expect(bytes("database") >= 4096)
            #expect(bytes("log") > 0)
            // A few commits never reach the log's bound: no restart yet, and the figures say so.
            #expect(metrics.text.contains("crescent_store_log_restarts_total 0"))
            #expect(metrics.text.contains("crescent_store_log_restart_seconds_max 0"))
        }
    }
}

@Suite("Reports over the admin API")
struct AdminReportsTests {
    @Test("GET /v1/reports/{name} answers the report's tables; unknown names and groupings are refused")
    func reports() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            _ = try await client.execute(uri: "/v1/track", method: .post, headers: [.authorization: basic("wk")], body: ByteBuffer(string:
                #"{"userId":"dee","event":"Order Completed","properties":{"order_id":"r1","total":80,"products":[{"sku":"S1","category":"makeup","price":40,"quantity":2}]}}"#))
            let admin: HTTPFields = [.authorization: "Bearer admin"]
            #expect(try await client.execute(uri: "/v1/reports/sales", method: .get).status == .unauthorized)
            let sales = try await client.execute(uri: "/v1/reports/sales?by=category", method: .get, headers: admin)
            #expect(sales.status == .ok)
            #expect(sales.json["report"] as? String == "sales")
            let table = try #require((sales.json["tables"] as? [[String: Any]])?.first)
            #expect(table["columns"] as? [String] == ["category", "orders", "units", "revenue"])
            let rows = try #require(table["rows"] as? [[Any]])
            #expect(rows.first?.first as? String == "makeup")
            #expect(rows.first?.last as? Double == 80)
            #expect(try await client.execute(uri: "/v1/reports/nope", method: .get, headers: admin).status == .notFound)
            #expect(try await client.execute(uri: "/v1/reports/sales?by=weekday", method: .get, headers: admin).status == .badRequest)
            #expect(try await client.execute(uri: "/v1/reports/sales?since=yesterday", method: .get, headers: admin).status == .badRequest)

            // Recommendations: without consent to personalization, the best sellers, the same for everyone.
            _ = try await client.execute(uri: "/v1/track", method: .post, headers: [.authorization: basic("wk")], body: ByteBuffer(string:
                #"{"userId":"eve","event":"Order Completed","properties":{"order_id":"r2","total":30,"products":[{"sku":"S2","price":30}]}}"#))
            let anonymous = try await client.execute(uri: "/v1/customers/dee/recommendations?n=5", method: .get, headers: admin)
            #expect(anonymous.status == .ok)
            #expect(anonymous.json["personalized"] as? Bool == false)
            #expect((anonymous.json["items"] as? [[String: Any]])?.map { $0["sku"] as? String } == ["S1", "S2"])
            // Once dee consents: not what she bought.
            _ = try await client.execute(uri: "/v1/identify", method: .post, headers: [.authorization: basic("wk")], body: ByteBuffer(string:
                #"{"userId":"dee","traits":{"consent":{"personalization":true}}}"#))
            let recs = try await client.execute(uri: "/v1/customers/dee/recommendations?n=5", method: .get, headers: admin)
            #expect(recs.status == .ok)
            #expect(recs.json["personalized"] as? Bool == true)
            let items = try #require(recs.json["items"] as? [[String: Any]])
            #expect(items.map { $0["sku"] as? String } == ["S2"], "S1 is dee's own; S2 is popular")
            #expect(items.first?["reason"] as? String == "popular")
            #expect(try await client.execute(uri: "/v1/customers/nobody/recommendations", method: .get, headers: admin).status == .notFound)
        }
    }
}
