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

@Suite("Messages stamped ahead of the server's clock")
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
}
