import Engine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Store
import TestSupport
import Testing

@Suite("Messages stamped ahead of the server's clock, or long before it")
struct ClockSkewTests {
    @Test("a device clock years ahead cannot move the engine's clock: its time is corrected, the message kept")
    func futureTimestamps() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let before = Int64(Date().timeIntervalSince1970 * 1000)
            let ahead = try await client.post("/v1/track",
                #"{"userId":"u1","event":"Product Viewed","messageId":"f1","timestamp":"2099-01-01T00:00:00Z"}"#)
            #expect(ahead.status == .ok)
            // Segment's batch sentAt: the device measured 10 s between the event and the send.
            let batch = try await client.post("/v1/batch", """
                {"batch":[{"type":"track","userId":"u2","event":"Product Viewed","messageId":"f2","timestamp":"2099-01-01T00:00:00Z"}],
                 "sentAt":"2099-01-01T00:00:10Z"}
                """)
            #expect(batch.status == .ok)
            let after = Int64(Date().timeIntervalSince1970 * 1000)
            let store = server.gateway.engine.store
            let first = try #require(try store.event(messageId: "f1"))
            #expect((before...after).contains(first.timestamp), "the receive time")
            #expect(first.payload.contains(#""originalTimestamp":4070908800000"#), "the device's own time stays, as Segment keeps it")
            let second = try #require(try store.event(messageId: "f2"))
            #expect((before - 10_000...after - 10_000).contains(second.timestamp), "10 s before the receive time")
            #expect(server.gateway.engine.clockHint <= after, "the engine's clock did not jump to 2099")
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains("crescent_timestamps_corrected_total 2"))
        }
    }

    @Test("numbers no clock or quantity means get 400 naming the field, or are set aside; the server goes on")
    func hostileNumbers() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            for stamp in ["-1.114483543347576e+187", "1e300", "-9223372036854775"] {
                let response = try await client.post("/v1/track", #"{"userId":"u1","event":"Product Viewed","timestamp":\#(stamp)}"#)
                #expect(response.status == .badRequest)
                #expect((response.json["message"] as? String)?.contains("field 'timestamp'") == true, "\(response.text)")
            }
            let cart = try await client.post("/v1/track",
                #"{"userId":"u1","event":"Product Added","properties":{"cart_id":"c","price":1,"quantity":1e300}}"#)
            #expect(cart.status == .ok)
            let order = try await client.post("/v1/decide",
                #"{"userId":"u1","event":"Order Completed","properties":{"order_id":"o1","total":1,"products":[{"sku":"a","quantity":-1e300}]}}"#)
            #expect(order.status == .ok)
            for (n, body) in [#""event":"Inventory Updated","properties":{"sku":"a","quantity":1e300,"region":"eu"}"#,
                              #""event":"Order Completed","properties":{"order_id":"o2","total":1.7e308,"products":[{"sku":"a","category":"c","price":1.7e308}]}"#,
                              #""event":"Order Completed","properties":{"order_id":"o3","total":1.7e308,"products":[{"sku":"a","category":"c","price":1.7e308}]}"#]
                .enumerated() {
                let response = try await client.post("/v1/track", #"{"userId":"u\#(n)",\#(body)}"#)
                #expect(response.status == .ok, "\(body): \(response.text)")
            }
            // Revenue past what a Double holds is infinite: the dashboard still draws.
            #expect(try await client.execute(uri: "/?token=admin", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
    }

    @Test("history imported late updates the customer but sends nothing: no thank-you e-mail for a year-old order")
    func historicalEvents() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let identify = try await client.post("/v1/identify", #"{"userId":"ana","traits":{"marketing_consent":true,"email":"ana@example.com"}}"#)
            #expect(identify.status == .ok)
            let backfill = try await client.post("/v1/import", """
                {"batch":[{"type":"track","userId":"ana","event":"Order Completed","messageId":"h1","timestamp":"2025-01-02T10:00:00Z",
                           "properties":{"order_id":"old-1","total":40,"cart_id":"c0"}},
                          {"type":"track","userId":"ana","event":"Product Added","messageId":"h2","timestamp":"2025-01-03T10:00:00Z",
                           "properties":{"cart_id":"c1","product_id":"p1","price":30,"quantity":1}}]}
                """)
            #expect(backfill.status == .ok)
            let store = server.gateway.engine.store
            #expect(try store.customer(id: "ana")?.ordersCount == 1, "the history counts")
            #expect(try store.count("outbox") == 0, "no promotion for it")
            #expect(try store.count("journey_instances") == 0, "no journey for a year-old cart")
            let explained = try #require(try store.evaluation(messageId: "h1")?.results)
            #expect(explained.contains("historical event of 2025-01-02T10:00:00.000Z, more than 1d before the clock: no action"), "\(explained)")
            // An order placed now acts as usual (its first_purchase_welcome does not fire: the history made it the second).
            let now = try await client.post("/v1/track",
                #"{"userId":"ana","event":"Order Completed","messageId":"n1","properties":{"order_id":"new-1","total":50}}"#)
            #expect(now.status == .ok)
            #expect(try store.count("journey_instances") == 1, "the review request for the new order")
            #expect(try store.evaluation(messageId: "n1")?.results.contains("historical") == false)
        }
    }
}
