import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import Server
import Engine
import Synchronization
import Testing

@Suite("Card numbers at ingest")
struct MaskedCardNumbersTests {
    @Test("a card number in an event is masked before it is stored, answered 200 as usual, and counted in /metrics")
    func maskedAtIngest() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let sent = try await client.post("/v1/batch", #"""
                {"batch": [
                  {"type": "track", "userId": "ana", "event": "Order Completed",
                   "properties": {"order_id": "o1", "total": 20, "card_number": "4111 1111 1111 1111"}},
                  {"type": "track", "userId": "ana", "event": "Payment Info Entered", "properties": {"card": 5555555555554444}}
                ]}
                """#)
            #expect(sent.status == .ok)
            let admin: HTTPFields = [.authorization: "Bearer admin"]
            let export = try await client.execute(uri: "/v1/customers/ana/export", method: .get, headers: admin)
            #expect(export.status == .ok)
            #expect(export.text.contains("411111******1111") && export.text.contains("555555******4444"))
            #expect(!export.text.contains("4111 1111 1111 1111") && !export.text.contains("5555555555554444"))
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains("crescent_card_numbers_masked_total 2"), "\(metrics.text.prefix(2000))")
        }
    }

    @Test("each field is logged once, and at most 100 fields: a sender inventing field names cannot flood the log")
    func boundedLog() {
        let lines = Mutex<[String]>([])
        let masked = MaskedCardNumbers { line in lines.withLock { $0.append(line) } }
        let events = (0..<150).map { i -> Event in
            var event = Event(messageId: "m\(i)", kind: .track, name: "X", userId: "u", timestamp: 0)
            event.maskedCardNumbers = ["properties.f\(i)"]
            return event
        }
        masked.report(events, from: "/v1/batch", metrics: ServerMetrics())
        masked.report(Array(events.prefix(3)), from: "/v1/batch", metrics: ServerMetrics())
        let logged = lines.withLock { $0 }
        #expect(logged.count == MaskedCardNumbers.loggedFields)
        #expect(logged.first?.contains("properties.f0 of message m0 (/v1/batch)") == true)
    }
}
