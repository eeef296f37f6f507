import CompressNIO
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

/// A server over the shipped rules and a fresh database file, with write key `wk` and admin token `admin`.
func makeServer(maxInFlight: Int = 20_000, configure: (inout ServerConfiguration) throws -> Void = { _ in }) throws -> (CrescentServer, URL) {
    let dir = try Fixtures.temporaryDirectory()
    var configuration = ServerConfiguration()
    configuration.database = dir.appendingPathComponent("serve.db").path
    configuration.rules = Fixtures.packageRoot.appendingPathComponent("rules").path
    configuration.plugins = Fixtures.packageRoot.appendingPathComponent("plugins").path
    configuration.maxInFlight = maxInFlight
    configuration.addWriteKeys(["wk", "second-key"])
    configuration.setAdminToken("admin")
    try configure(&configuration)
    return (try CrescentServer(configuration: configuration), dir)
}

func basic(_ user: String, _ password: String? = "") -> String {
    let text = password.map { "\(user):\($0)" } ?? user
    return "Basic " + Data(text.utf8).base64EncodedString()
}

extension TestClientProtocol {
    /// POSTs `body` to `uri` with the write key `wk` as the Basic user.
    func post(_ uri: String, _ body: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: [.authorization: basic("wk")], body: ByteBuffer(string: body))
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }
}

@Suite("Segment tracking API")
struct TrackingAPITests {
    @Test("track, identify, page and batch are accepted with the write key and committed before the answer")
    func acceptsMessages() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let auth: HTTPFields = [.authorization: basic("wk"), .contentType: "application/json"]
            let identify = try await client.execute(uri: "/v1/identify", method: .post, headers: auth, body: ByteBuffer(string:
                #"{"userId":"ana","traits":{"email":"ana@example.com","marketing_consent":true},"messageId":"m1"}"#))
            #expect(identify.status == .ok)
            #expect(identify.text == #"{"success":true}"#)
            let track = try await client.execute(uri: "/v1/track", method: .post, headers: auth, body: ByteBuffer(string:
                #"{"userId":"ana","event":"Order Completed","properties":{"order_id":"o1","total":42.5},"messageId":"m2"}"#))
            #expect(track.status == .ok)
            let batch = try await client.execute(uri: "/v1/batch", method: .post, headers: auth, body: ByteBuffer(string: """
                {"batch":[{"type":"page","userId":"ana","name":"Home","messageId":"m3"},
                          {"type":"track","userId":"ana","event":"Product Viewed","properties":{"product_id":"p1"},"messageId":"m4"}],
                 "context":{"library":{"name":"test"}}}
                """))
            #expect(batch.status == .ok)
            // Acknowledged means committed: the store has them now.
            let store = server.gateway.engine.store
            #expect(try store.count("events") == 4)
            #expect(try store.customer(id: "ana")?.ordersCount == 1)
            let page = try #require(try store.event(messageId: "m3"))
            #expect(page.payload.contains(#""library":{"name":"test"}"#), "batch context merged into the item")
        }
    }

    @Test("every way to present the write key, and every way to get it wrong")
    func authentication() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            func send(_ headers: HTTPFields, _ body: String = #"{"userId":"u","event":"E"}"#) async throws -> TestResponse {
                try await client.execute(uri: "/v1/track", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            #expect(try await send([.authorization: basic("wk", "ignored")], #"{"userId":"u","event":"A"}"#).status == .ok)
            #expect(try await send([.authorization: basic("second-key", nil)], #"{"userId":"u","event":"B"}"#).status == .ok,
                    "a missing colon is tolerated")
            #expect(try await send([:], #"{"userId":"u","event":"C","writeKey":"wk"}"#).status == .ok)
            let stored = try #require(try server.gateway.engine.store.recentEvents(customerId: "u", limit: 5).first)
            #expect(!stored.payload.contains("writeKey"), "the write key is not kept with the event")
            let wrong = try await send([.authorization: basic("nope")])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.json["code"] as? String == "invalid_write_key")
            let none = try await send([:])
            #expect(none.status == .unauthorized)
            #expect(none.json["code"] as? String == "missing_write_key")
            #expect(try server.gateway.engine.store.count("events") == 3)
        }
    }

    @Test("malformed JSON, oversized messages and batches, and bad messages get 400 naming the problem")
    func badInput() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let malformed = try await client.post("/v1/track", #"{"userId": "u", "event": "#)
            #expect(malformed.status == .badRequest)
            #expect(malformed.json["code"] as? String == "invalid_json")
            let big = String(repeating: "x", count: 33 * 1024)
            let oversized = try await client.post("/v1/track", #"{"userId":"u","event":"E","properties":{"note":"\#(big)"}}"#)
            #expect(oversized.status == .badRequest)
            #expect(oversized.json["code"] as? String == "message_too_large")
            let item = #"{"type":"track","userId":"u","event":"E","properties":{"note":"\#(String(repeating: "y", count: 20_000))"}}"#
            let hugeBatch = try await client.post("/v1/batch", #"{"batch":[\#(Array(repeating: item, count: 30).joined(separator: ","))]}"#)
            #expect(hugeBatch.status == .badRequest)
            #expect(hugeBatch.json["code"] as? String == "batch_too_large")
            let small = #"{"type":"track","userId":"u","event":"E"}"#
            let tooMany = try await client.post("/v1/batch", #"{"batch":[\#(Array(repeating: small, count: 2501).joined(separator: ","))]}"#)
            #expect(tooMany.status == .badRequest)
            #expect((tooMany.json["message"] as? String)?.contains("2500") == true)
            let noEvent = try await client.post("/v1/batch", #"{"batch":[{"type":"track","userId":"u"}]}"#)
            #expect(noEvent.status == .badRequest, "a batch of which nothing is valid is refused whole")
            #expect((noEvent.json["message"] as? String)?.contains("batch[0]") == true)
            #expect((noEvent.json["message"] as? String)?.contains("event") == true)
            let allBad = try await client.post("/v1/batch", #"{"batch":[{"type":"track","userId":"u"},{"type":"track","event":"E"}]}"#)
            #expect(allBad.status == .badRequest)
            #expect((allBad.json["message"] as? String)?.contains("all 2 messages refused") == true)
            let listIntegrations = try await client.post("/v1/batch", #"{"batch":[\#(small)],"integrations":[null]}"#)
            #expect(listIntegrations.status == .badRequest)
            #expect(listIntegrations.json["message"] as? String == #"a batch's "integrations" must be an object"#)
            let textContext = try await client.post("/v1/import", #"{"batch":[\#(small)],"context":"web"}"#)
            #expect((textContext.json["message"] as? String)?.contains(#""context""#) == true)
            #expect(try server.gateway.engine.store.count("events") == 0, "nothing from a refused request is kept")
            let nullShared = try await client.post("/v1/batch", #"{"batch":[\#(small)],"context":null,"integrations":null}"#)
            #expect(nullShared.status == .ok, "null is as absent")
        }
    }

    @Test("browser SDKs: analytics.js's short paths with text/plain bodies, RudderStack's beacon, CORS on ingest (preflight too), none on the admin API")
    func browsers() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let page: HTTPFields = [.origin: "https://shop.example", .contentType: "text/plain"]
            // What analytics.js's fetch sends: no Authorization header (no preflight), the write key in the body.
            let track = try await client.execute(uri: "/v1/t", method: .post, headers: page, body: ByteBuffer(string:
                #"{"writeKey":"wk","type":"track","event":"Product Viewed","anonymousId":"anon-web","properties":{"product_id":"p1"},"messageId":"web-1"}"#))
            #expect(track.status == .ok)
            #expect(track.headers[.accessControlAllowOrigin] == "*", "the page's script may read the answer")
            let batch = try await client.execute(uri: "/v1/b", method: .post, headers: page, body: ByteBuffer(string:
                #"{"writeKey":"wk","batch":[{"type":"page","anonymousId":"anon-web","name":"Home","messageId":"web-2"},{"type":"identify","userId":"web-user","anonymousId":"anon-web","messageId":"web-3"}]}"#))
            #expect(batch.status == .ok)
            // RudderStack's beacon (navigator.sendBeacon sets no header): the key in the query, there only.
            let beaconBody = ByteBuffer(string: #"{"batch":[{"type":"track","event":"Page Left","anonymousId":"anon-web","messageId":"web-4"}]}"#)
            let beacon = try await client.execute(uri: "/beacon/v1/batch?writeKey=wk", method: .post, headers: page, body: beaconBody)
            #expect(beacon.status == .ok)
            let keyInQuery = try await client.execute(uri: "/v1/batch?writeKey=wk", method: .post, headers: page, body: beaconBody)
            #expect(keyInQuery.status == .unauthorized, "a query key is read on the beacon path only")
            let store = server.gateway.engine.store
            #expect(try store.event(messageId: "web-4")?.name == "Page Left")
            #expect(try store.event(messageId: "web-1")?.name == "Product Viewed")
            #expect(try store.event(messageId: "web-2")?.type == "page")
            #expect(try store.resolve(alias: "anon-web") == "web-user")
            // RudderStack's JavaScript SDK sends JSON with Authorization and AnonymousId: the browser asks first.
            let preflight = try await client.execute(uri: "/v1/track", method: .options, headers: [
                .origin: "https://shop.example", .accessControlRequestMethod: "POST",
                .accessControlRequestHeaders: "authorization,content-type,anonymousid"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "*")
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)
            let allowed = (preflight.headers[.accessControlAllowHeaders] ?? "").lowercased()
            #expect(allowed.contains("authorization") && allowed.contains("content-type") && allowed.contains("anonymousid"))
            // A refusal reaches the page too, with what to do next.
            let wrongKey = try await client.execute(uri: "/v1/p", method: .post, headers: page,
                                                    body: ByteBuffer(string: #"{"writeKey":"nope","anonymousId":"a"}"#))
            #expect(wrongKey.status == .unauthorized)
            #expect(wrongKey.headers[.accessControlAllowOrigin] == "*")
            // The admin API and decisions are for the shop's servers: no CORS.
            let admin = try await client.execute(uri: "/v1/customers/web-user", method: .get,
                                                 headers: [.origin: "https://shop.example", .authorization: "Bearer admin"])
            #expect(admin.status == .ok)
            #expect(admin.headers[.accessControlAllowOrigin] == nil)
            let adminPreflight = try await client.execute(uri: "/v1/customers/web-user", method: .options,
                                                          headers: [.origin: "https://shop.example", .accessControlRequestMethod: "GET"])
            #expect(adminPreflight.status == .methodNotAllowed)
            #expect(adminPreflight.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test("a method a path does not serve is 405 with Allow; an unknown path is a JSON 404")
    func unservedMethods() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let get = try await client.execute(uri: "/v1/track", method: .get, headers: [.authorization: basic("wk")])
            #expect(get.status == .methodNotAllowed)
            #expect(get.headers[.allow] == "OPTIONS, POST")
            #expect(get.json["code"] as? String == "method_not_allowed")
            let customer = try await client.execute(uri: "/v1/customers/ana", method: .put, headers: [.authorization: "Bearer admin"])
            #expect(customer.status == .methodNotAllowed)
            #expect(customer.headers[.allow] == "DELETE, GET, HEAD, PATCH", "every method of the path, a captured id matching any")
            let headTrack = try await client.execute(uri: "/v1/track", method: .head, headers: [.authorization: basic("wk")])
            #expect(headTrack.status == .methodNotAllowed, "HEAD only where GET is served")
            let list = try await client.execute(uri: "/v1/lists/blocked_ips/1.2.3.4", method: .post, headers: [.authorization: "Bearer admin"])
            #expect(list.headers[.allow] == "DELETE, PUT")
            let unknown = try await client.execute(uri: "/v1/nothing/here", method: .get)
            #expect(unknown.status == .notFound)
            #expect(unknown.json["code"] as? String == "not_found")
            // A served method still answers, including the route's own 404.
            let missing = try await client.execute(uri: "/v1/customers/nobody", method: .get, headers: [.authorization: "Bearer admin"])
            #expect(missing.status == .notFound)
            #expect(missing.headers[.allow] == nil)
        }
    }

    @Test("HEAD answers wherever GET does: the same status and headers, no body")
    func headRequests() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let admin: HTTPFields = [.authorization: "Bearer admin"]
            let get = try await client.execute(uri: "/v1/rules", method: .get, headers: admin)
            let head = try await client.execute(uri: "/v1/rules", method: .head, headers: admin)
            #expect(get.status == .ok && head.status == .ok)
            #expect(head.headers[.contentType] == get.headers[.contentType])
            #expect(head.body.readableBytes == 0, "no body on a HEAD")
            #expect(get.body.readableBytes > 0)
            let unauthorized = try await client.execute(uri: "/v1/rules", method: .head)
            #expect(unauthorized.status == .unauthorized, "HEAD is checked like GET")
            let missing = try await client.execute(uri: "/v1/customers/nobody", method: .head, headers: admin)
            #expect(missing.status == .notFound)
            let health = try await client.execute(uri: "/health", method: .head)
            #expect(health.status == .ok)
        }
    }

    @Test("a batch keeps its valid messages; those refused are listed in the answer and kept for GET /v1/rejected")
    func partialBatch() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let auth: HTTPFields = [.authorization: basic("wk")]
            let batch = try await client.execute(uri: "/v1/batch", method: .post, headers: auth, body: ByteBuffer(string: """
                {"writeKey":"wk","batch":[{"type":"identify","userId":"bo","traits":{"email":"bo@example.com"},"messageId":"ok-1"},
                          {"type":"nope","userId":"x","messageId":"bad-1"},
                          {"type":"track","userId":"bo","event":"Product Viewed","messageId":"ok-2"},
                          {"type":"track","messageId":"bad-2","event":"E"}]}
                """))
            #expect(batch.status == .ok)
            #expect(batch.json["success"] as? Bool == true)
            let refused = try #require(batch.json["rejected"] as? [[String: Any]])
            #expect(refused.map { $0["index"] as? Int } == [1, 3])
            #expect((refused[0]["message"] as? String)?.contains("batch[1]: field 'type'") == true)
            #expect((refused[1]["message"] as? String)?.contains("userId") == true)
            let store = server.gateway.engine.store
            #expect(try store.event(messageId: "ok-1") != nil)
            #expect(try store.event(messageId: "ok-2") != nil)
            #expect(try store.count("events") == 2, "the refused messages are not events")

            let alone = try await client.execute(uri: "/v1/track", method: .post, headers: auth,
                                                 body: ByteBuffer(string: #"{"userId":"bo","messageId":"bad-3"}"#))
            #expect(alone.status == .badRequest)

            let admin: HTTPFields = [.authorization: "Bearer admin"]
            #expect(try await client.execute(uri: "/v1/rejected", method: .get).status == .unauthorized)
            let listed = try await client.execute(uri: "/v1/rejected", method: .get, headers: admin)
            #expect(listed.status == .ok)
            let entries = try #require(listed.json["entries"] as? [[String: Any]])
            #expect(entries.map { $0["source"] as? String } == ["/v1/track", "/v1/batch[3]", "/v1/batch[1]"], "newest first")
            #expect(entries.map { ($0["message"] as? [String: Any])?["messageId"] as? String } == ["bad-3", "bad-2", "bad-1"])
            #expect(entries.allSatisfy { $0["code"] as? String == "invalid_message" })
            #expect((entries[0]["reason"] as? String)?.contains("event") == true)
            #expect(!listed.text.contains("writeKey"), "the write key is not kept")
            let older = try await client.execute(uri: "/v1/rejected?limit=1&before=\((entries[0]["id"] as? Int) ?? 0)",
                                                 method: .get, headers: admin)
            #expect((older.json["entries"] as? [[String: Any]])?.map { $0["source"] as? String } == ["/v1/batch[3]"])
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains("crescent_messages_rejected_total 3"))
        }
    }

    @Test("the store keeps only the latest refused messages")
    func rejectedKeptBounded() throws {
        let store = try CrescentStore(path: Fixtures.temporaryDirectory().appendingPathComponent("r.db").path)
        let messages = (0..<25).map { RejectedMessage(receivedAt: Int64($0), source: "/v1/track", code: "invalid_message",
                                                      reason: "r\($0)", payload: "{}") }
        try store.recordRejected(Array(messages[..<20]), keep: 10)
        try store.recordRejected(Array(messages[20...]), keep: 10)
        let kept = try store.rejectedMessages(limit: 100)
        #expect(kept.map(\.reason) == (15..<25).reversed().map { "r\($0)" })
        let long = RejectedMessage(receivedAt: 0, source: "/v1/track", code: "invalid_message", reason: "long",
                                   payload: "{\"note\":\"" + String(repeating: "é", count: 10_000) + "\"}")
        #expect(long.payload.utf8.count <= RejectedMessage.payloadKept && long.payload.utf8.count > 4000, "only the first 4 KB are kept")
    }

    @Test("gzip bodies are accepted; a duplicate messageId changes nothing")
    func gzipAndDuplicates() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            var plain = ByteBuffer(string: #"{"batch":[{"type":"track","userId":"u","event":"E","messageId":"same"}]}"#)
            let compressed = try plain.compress(with: .gzip())
            let headers: HTTPFields = [.authorization: basic("wk"), .contentEncoding: "gzip"]
            #expect(try await client.execute(uri: "/v1/batch", method: .post, headers: headers, body: compressed).status == .ok)
            #expect(try await client.execute(uri: "/v1/batch", method: .post, headers: headers, body: compressed).status == .ok)
            #expect(try server.gateway.engine.store.count("events") == 1)
            let broken = try await client.execute(uri: "/v1/batch", method: .post, headers: headers, body: ByteBuffer(string: "not gzip"))
            #expect(broken.status == .badRequest)
            #expect(broken.json["code"] as? String == "invalid_gzip")
        }
    }

    @Test("decide answers the fraud decision with every rule's score and reason")
    func decide() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let order = #"""
                {"userId":"new-buyer","event":"Order Completed","messageId":"d1","traits":{"email":"x@mailinator.com"},
                 "properties":{"order_id":"o9","total":2500,"currency":"EUR","card_fingerprint":"fp1","card_country":"US",
                               "shipping_country":"ES","billing_country":"US","ip_country":"RU"}}
                """#
            let response = try await client.execute(uri: "/v1/decide", method: .post, headers: [.authorization: basic("wk")],
                                                    body: ByteBuffer(string: order))
            #expect(response.status == .ok)
            let json = response.json
            #expect(json["evaluated"] as? Bool == true)
            #expect(["review", "block"].contains(json["decision"] as? String))
            #expect((json["score"] as? Double ?? 0) >= 50)
            let rules = try #require(json["rules"] as? [[String: Any]])
            #expect(rules.contains { $0["rule"] as? String == "fraud:high_value_first_order" && $0["outcome"] as? String == "hit" })
            #expect(!(json["reasons"] as? [String] ?? []).isEmpty)
            #expect(try server.gateway.engine.store.decision(messageId: "d1") != nil, "decided means committed")
            // Where the time went, for the checkout's own monitoring: the shard, the commit, the whole answer.
            let timing = try #require(response.headers[HTTPField.Name("Server-Timing")!], "a Server-Timing header")
            var spent: [String: Double] = [:]
            for metric in timing.split(separator: ",") {
                let parts = metric.trimmingCharacters(in: .whitespaces).split(separator: ";")
                if parts.count == 2, parts[1].hasPrefix("dur=") { spent[String(parts[0])] = Double(parts[1].dropFirst(4)) }
            }
            #expect(Set(spent.keys) == ["evaluate", "commit", "total"], "\(timing)")
            let total = try #require(spent["total"]), evaluate = try #require(spent["evaluate"]), commit = try #require(spent["commit"])
            #expect(evaluate >= 0 && commit >= 0 && total > 0)
            #expect(total + 0.002 >= evaluate + commit, "the whole answer holds both phases: \(timing)")
            // The checkout retries (a timeout on its side): the same decision, not a fresh "allow".
            let retry = try await client.execute(uri: "/v1/decide", method: .post, headers: [.authorization: basic("wk")],
                                                 body: ByteBuffer(string: order)).json
            #expect(retry["duplicate"] as? Bool == true)
            #expect(retry["evaluated"] as? Bool == true)
            #expect(retry["decision"] as? String == json["decision"] as? String)
            #expect(retry["score"] as? Double == json["score"] as? Double)
            #expect(retry["reasons"] as? [String] == json["reasons"] as? [String])
            #expect((retry["rules"] as? [[String: Any]])?.map { $0["rule"] as? String } == rules.map { $0["rule"] as? String })
            #expect(try server.gateway.engine.store.count("decisions") == 1)
        }
    }
}
