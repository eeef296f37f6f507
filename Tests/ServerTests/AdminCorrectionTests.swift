import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Store
import Testing

@Suite("Admin API: correcting a customer's traits")
struct AdminCorrectionTests {
    let admin: HTTPFields = [.authorization: "Bearer admin"]

    @Test("a correction is an identify on the customer's behalf: traits and consent change, committed, audited by name only")
    func corrects() async throws {
        let (server, _) = try makeServer()
        let store = server.gateway.engine.store
        try await Application(router: server.router()).test(.router) { client in
            #expect(try await client.post("/v1/identify", #"{"userId":"cy","traits":{"email":"cy@old.example","plan":"pro","marketing_consent":false}}"#).status == .ok)
            #expect(try await client.post("/v1/page", #"{"anonymousId":"anon-zed","name":"Home"}"#).status == .ok)
            let customers = try store.count("customers")
            let patch = #"{"traits":{"email":"cy@new.example","plan":null,"marketing_consent":true}}"#
            let refused = try await client.execute(uri: "/v1/customers/cy", method: .patch, body: ByteBuffer(string: patch))
            #expect(refused.status == .unauthorized)

            let corrected = try await client.execute(uri: "/v1/customers/cy", method: .patch, headers: admin, body: ByteBuffer(string: patch))
            #expect(corrected.status == .ok, "\(corrected.text)")
            let traits = try #require(corrected.json["traits"] as? [String: Any])
            #expect(traits["email"] as? String == "cy@new.example")
            #expect(traits["plan"] is NSNull, "null clears a trait")
            #expect((corrected.json["consent"] as? [String: Any])?["marketing"] as? Bool == true)
            #expect((corrected.json["recent_events"] as? [[String: Any]])?.first?["name"] as? String == "Identify")
            let audit = try #require(try store.auditLog().first)
            #expect(audit.action == "correct")
            #expect(audit.subject == "cy")
            #expect(audit.detail.contains(#"["email","marketing_consent","plan"]"#))
            #expect(!audit.detail.contains("new.example"), "the audit log names traits, not their values")
            // The customer's export shows what was done about them.
            let export = try await client.execute(uri: "/v1/customers/cy/export", method: .get, headers: admin)
            let audited = try #require(export.json["audit_log"] as? [[String: Any]])
            #expect(audited.map { $0["action"] as? String } == ["correct"])

            // An anonymous customer is corrected under their anonymous id: nobody new appears.
            let anonymous = try await client.execute(uri: "/v1/customers/anon-zed", method: .patch, headers: admin,
                                                     body: ByteBuffer(string: #"{"traits":{"language":"es"}}"#))
            #expect(anonymous.status == .ok)
            #expect(anonymous.json["id"] as? String == "anon-zed")
            #expect((anonymous.json["traits"] as? [String: Any])?["language"] as? String == "es")
            #expect(try store.count("customers") == customers)

            // Erasing the customer later takes their id out of the audit log too.
            #expect(try await client.execute(uri: "/v1/customers/cy", method: .delete, headers: admin).status == .ok)
            let entries = try store.auditLog()
            #expect(entries.map(\.action) == ["erase", "correct", "correct"])
            #expect(entries[1].subject == "anon-zed")
            #expect(entries[2].subject.hasPrefix("erased-"))
            #expect(entries[2].subject == entries[0].subject)
        }
    }

    @Test("bad corrections are 400 naming the problem; an unknown customer is 404; nothing changes")
    func refuses() async throws {
        let (server, _) = try makeServer()
        let store = server.gateway.engine.store
        try await Application(router: server.router()).test(.router) { client in
            #expect(try await client.post("/v1/identify", #"{"userId":"cy","traits":{"email":"cy@old.example"}}"#).status == .ok)
            let events = try store.count("events")
            for (body, code, words) in [("not json", "invalid_json", "not JSON"),
                                        ("{}", "invalid_correction", #""traits""#),
                                        (#"{"traits":{}}"#, "invalid_correction", "at least one trait"),
                                        (#"{"traits":"x"}"#, "invalid_correction", "must be an object"),
                                        (#"{"traits":{"a":1},"userId":"other"}"#, "invalid_correction", #"unknown field "userId""#),
                                        (#"{"traits":{"note":"\#(String(repeating: "x", count: 40_000))"}}"#, "message_too_large", "32 KB")] {
                let response = try await client.execute(uri: "/v1/customers/cy", method: .patch, headers: admin, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(body.prefix(40))")
                #expect(response.json["code"] as? String == code)
                #expect((response.json["message"] as? String)?.contains(words) == true, "\(response.text)")
            }
            let unknown = try await client.execute(uri: "/v1/customers/nobody", method: .patch, headers: admin,
                                                   body: ByteBuffer(string: #"{"traits":{"a":1}}"#))
            #expect(unknown.status == .notFound)
            #expect(try store.count("events") == events)
            #expect(try store.customer(id: "nobody") == nil)
            #expect(try store.auditLog().isEmpty)
        }
    }
}
