import Foundation
import Hummingbird
import HummingbirdTesting
import Server
import Store
import TestSupport
import Testing

@Suite("A server restarted on its database")
struct RestartIngestTests {
    @Test("a batch after a restart: retried messages stay duplicates, new ones are processed, their ids checked in one read")
    func batchAfterRestart() async throws {
        let (first, dir) = try makeServer()
        try await Application(router: first.router()).test(.router) { client in
            let sent = try await client.post("/v1/batch", """
                {"batch":[{"type":"track","userId":"ana","event":"Product Viewed","messageId":"old-1"},
                          {"type":"track","userId":"bo","event":"Product Viewed","messageId":"old-2"}]}
                """)
            #expect(sent.status == .ok)
        }
        try first.gateway.engine.flush()

        let (second, _) = try makeServer { $0.database = dir.appendingPathComponent("serve.db").path }
        let store = second.gateway.engine.store
        try await Application(router: second.router()).test(.router) { client in
            let again = try await client.post("/v1/batch", """
                {"batch":[{"type":"track","userId":"ana","event":"Product Viewed","messageId":"old-1"},
                          {"type":"track","userId":"bo","event":"Product Viewed","messageId":"old-2"},
                          {"type":"track","userId":"ana","event":"Product Added","messageId":"new-1"},
                          {"type":"track","userId":"bo","event":"Product Added","messageId":"new-2"},
                          {"type":"track","userId":"cy","event":"Product Viewed","messageId":"new-3"}]}
                """)
            #expect(again.status == .ok)
            #expect(again.text == #"{"success":true}"#)
        }
        #expect(try store.count("events") == 5, "the two retried messages were not stored again")
        #expect(store.messageIdReads == 0, "the batch's ids were checked together, not one read each")
        #expect(try store.customer(id: "ana")?.userId == "ana")
    }
}
