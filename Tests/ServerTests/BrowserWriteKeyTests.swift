import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Store
import TestSupport
import Testing

/// A browser write key is public: it sends what a page sees, never orders, stock, prices or fraud labels.
@Suite("Browser write keys")
struct BrowserWriteKeyTests {
    @Test("a browser key's batch keeps the page's events and refuses a forged order, naming it; a server key sends orders")
    func forgedOrderRefused() async throws {
        let (server, _) = try makeServer { $0.addBrowserWriteKeys(["pk"]) }
        try await Application(router: server.router()).test(.router) { client in
            let page: HTTPFields = [.authorization: basic("pk")]
            let batch = try await client.execute(uri: "/v1/batch", method: .post, headers: page, body: ByteBuffer(string: """
                {"batch":[{"type":"track","userId":"eve","event":"Product Viewed","properties":{"sku":"S1"},"messageId":"v-1"},
                          {"type":"track","userId":"eve","event":"Order Completed","properties":{"order_id":"fake","total":5000},"messageId":"o-1"},
                          {"type":"identify","userId":"eve","traits":{"email":"eve@example.com"},"messageId":"i-1"}]}
                """))
            #expect(batch.status == .ok)
            let refused = try #require(batch.json["rejected"] as? [[String: Any]])
            #expect(refused.map { $0["index"] as? Int } == [1])
            #expect(refused.first?["code"] as? String == "server_only_event")
            #expect((refused.first?["message"] as? String)?.contains("'Order Completed' may only come from the shop's servers") == true)
            let store = server.gateway.engine.store
            #expect(try store.event(messageId: "v-1") != nil && store.event(messageId: "i-1") != nil)
            #expect(try store.event(messageId: "o-1") == nil)
            #expect(try store.customer(id: "eve")?.ordersCount == 0, "no order, no total: no tier and no coupon")

            // The same order alone is refused whole (403), and kept with the refused messages.
            let alone = try await client.execute(uri: "/v1/track", method: .post, headers: page, body: ByteBuffer(string:
                #"{"userId":"eve","event":"Order Refunded","properties":{"order_id":"o9"},"messageId":"o-2"}"#))
            #expect(alone.status == .forbidden)
            #expect(alone.json["code"] as? String == "server_only_event")
            let listed = try await client.execute(uri: "/v1/rejected", method: .get, headers: [.authorization: "Bearer admin"])
            #expect((listed.json["entries"] as? [[String: Any]])?.map { $0["code"] as? String } == ["server_only_event", "server_only_event"])

            // The shop's server sends orders with its own key.
            let shop = try await client.execute(uri: "/v1/track", method: .post, headers: [.authorization: basic("wk")],
                                                body: ByteBuffer(string: #"{"userId":"eve","event":"Order Completed","properties":{"order_id":"real","total":40},"messageId":"o-3"}"#))
            #expect(shop.status == .ok)
            #expect(try store.customer(id: "eve")?.ordersCount == 1)
        }
    }

    @Test("decisions are for the shop's servers: a browser key gets 403, a server key its decision")
    func decideNeedsServerKey() async throws {
        let (server, _) = try makeServer { $0.addBrowserWriteKeys(["pk"]) }
        try await Application(router: server.router()).test(.router) { client in
            let body = #"{"userId":"eve","event":"Checkout Started","properties":{"order_id":"c1","total":20},"messageId":"d-1"}"#
            let page = try await client.execute(uri: "/v1/decide", method: .post, headers: [.authorization: basic("pk")],
                                                body: ByteBuffer(string: body))
            #expect(page.status == .forbidden)
            #expect(page.json["code"] as? String == "browser_write_key")
            #expect(try server.gateway.engine.store.event(messageId: "d-1") == nil, "nothing of it was kept")
            let shop = try await client.execute(uri: "/v1/decide", method: .post, headers: [.authorization: basic("wk")],
                                                body: ByteBuffer(string: body))
            #expect(shop.status == .ok && shop.json["decision"] as? String == "allow")
        }
    }

    @Test("browser keys come from the environment and the configuration file; a key is of one kind")
    func configured() throws {
        var configuration = ServerConfiguration()
        try configuration.apply(environment: ["CRESCENT_WRITE_KEYS": "sk", "CRESCENT_BROWSER_WRITE_KEYS": "pk1, pk2"])
        let dir = try Fixtures.temporaryDirectory(files: ["c.json": #"{"browser_write_keys": ["pk3"]}"#])
        defer { try? FileManager.default.removeItem(at: dir) }
        try configuration.apply(file: dir.appendingPathComponent("c.json").path)
        #expect(configuration.writeKeyKind("sk") == .server)
        #expect(["pk1", "pk2", "pk3"].allSatisfy { configuration.writeKeyKind($0) == .browser })
        #expect(configuration.writeKeyKind("nope") == nil && !configuration.acceptsWriteKey("nope"))
        configuration.addBrowserWriteKeys(["sk"])
        #expect(configuration.writeKeyKind("sk") == .browser, "listed as both, the key is public")
    }

    @Test("with an identity secret, a browser key speaks for a user only with the shop's hash of their id, which is not kept")
    func identityVerification() async throws {
        let (server, _) = try makeServer {
            $0.addBrowserWriteKeys(["pk"])
            $0.identitySecret = "shop-secret"
        }
        // What the shop's server computes for the page of the user it logged in.
        let proof = Self.hmac("ana", secret: "shop-secret")
        try await Application(router: server.router()).test(.router) { client in
            let page: HTTPFields = [.authorization: basic("pk")]
            let batch = try await client.execute(uri: "/v1/batch", method: .post, headers: page, body: ByteBuffer(string: """
                {"batch":[{"type":"track","userId":"ana","event":"Product Viewed","context":{"user_hash":"\(proof)"},"messageId":"a-1"},
                          {"type":"track","userId":"ana","event":"Unsubscribed","messageId":"a-2"},
                          {"type":"track","userId":"ana","event":"Unsubscribed","context":{"user_hash":"\(Self.hmac("ana", secret: "guess"))"},"messageId":"a-3"},
                          {"type":"track","anonymousId":"visitor-1","event":"Product Viewed","messageId":"a-4"}]}
                """))
            #expect(batch.status == .ok)
            let refused = try #require(batch.json["rejected"] as? [[String: Any]])
            #expect(refused.map { $0["index"] as? Int } == [1, 2])
            #expect(refused.allSatisfy { $0["code"] as? String == "unverified_user_id" })
            #expect((refused[0]["message"] as? String)?.contains("field 'context.user_hash': is required") == true)
            let store = server.gateway.engine.store
            #expect(try store.event(messageId: "a-1") != nil && store.event(messageId: "a-4") != nil)
            #expect(try store.event(messageId: "a-2") == nil && store.event(messageId: "a-3") == nil, "no stranger unsubscribes ana")
            #expect(try store.event(messageId: "a-1")?.payload.contains("user_hash") == false, "the proof is a credential: not kept")

            // The shop's own server needs no hash.
            let shop = try await client.execute(uri: "/v1/track", method: .post, headers: [.authorization: basic("wk")],
                                                body: ByteBuffer(string: #"{"userId":"ana","event":"Order Completed","properties":{"order_id":"o1","total":10},"messageId":"a-5"}"#))
            #expect(shop.status == .ok)
            let alone = try await client.execute(uri: "/v1/identify", method: .post, headers: page,
                                                 body: ByteBuffer(string: #"{"userId":"bo","anonymousId":"v2","messageId":"a-6"}"#))
            #expect(alone.status == .forbidden && alone.json["code"] as? String == "unverified_user_id")
        }
    }

    static func hmac(_ userId: String, secret: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(userId.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }
}
