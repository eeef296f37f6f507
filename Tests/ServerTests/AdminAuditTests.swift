import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Testing

@Suite("Admin API: the audit log")
struct AdminAuditTests {
    let admin: HTTPFields = [.authorization: "Bearer admin"]

    @Test("what the admin API changed is in GET /v1/audit, newest first, filtered and paged; nothing without the token")
    func readsTheLog() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            #expect(try await client.post("/v1/identify", #"{"userId":"cy","traits":{"email":"cy@example.com"}}"#).status == .ok)
            #expect(try await client.execute(uri: "/v1/lists/blocked_cards/fp-stolen", method: .put, headers: admin).status == .ok)
            // Adding it again changes nothing, and records nothing.
            #expect(try await client.execute(uri: "/v1/lists/blocked_cards/fp-stolen", method: .put, headers: admin).status == .ok)
            #expect(try await client.execute(uri: "/v1/customers/cy", method: .patch, headers: admin,
                                              body: ByteBuffer(string: #"{"traits":{"plan":"pro"}}"#)).status == .ok)
            #expect(try await client.execute(uri: "/v1/lists/blocked_cards/fp-stolen", method: .delete, headers: admin).status == .ok)
            let reloaded = try await client.execute(uri: "/v1/rules/reload", method: .post, headers: admin)
            #expect(reloaded.status == .ok)

            #expect(try await client.execute(uri: "/v1/audit", method: .get).status == .unauthorized)
            let log = try await client.execute(uri: "/v1/audit", method: .get, headers: admin)
            #expect(log.status == .ok)
            let entries = try #require(log.json["entries"] as? [[String: Any]])
            #expect(entries.map { $0["action"] as? String } == ["rules_reload", "list_remove", "correct", "list_add"])
            #expect(entries[0]["subject"] as? String == "rules")
            #expect((entries[0]["detail"] as? [String: Any])?["result"] as? String == "unchanged")
            #expect(entries[1]["subject"] as? String == "list:blocked_cards")
            #expect((entries[1]["detail"] as? [String: Any])?["value"] as? String == "fp-stolen")
            #expect(entries[2]["subject"] as? String == "cy")
            #expect((entries[3]["at"] as? String)?.hasSuffix("Z") == true)
            #expect(log.json["next"] == nil, "one page holds them all")

            let lists = try await client.execute(uri: "/v1/audit?subject=list:blocked_cards", method: .get, headers: admin)
            #expect((lists.json["entries"] as? [[String: Any]])?.map { $0["action"] as? String } == ["list_remove", "list_add"])
            let firstPage = try await client.execute(uri: "/v1/audit?limit=2", method: .get, headers: admin)
            let next = try #require(firstPage.json["next"] as? Int)
            let secondPage = try await client.execute(uri: "/v1/audit?limit=2&before=\(next)", method: .get, headers: admin)
            #expect((secondPage.json["entries"] as? [[String: Any]])?.map { $0["action"] as? String } == ["correct", "list_add"])
            #expect(try await client.execute(uri: "/v1/audit?before=soon", method: .get, headers: admin).status == .badRequest)
            let typo = try await client.execute(uri: "/v1/audit?action=list_added", method: .get, headers: admin)
            #expect(typo.status == .badRequest && typo.text.contains("invalid_action"), "a typo is an error, not an empty log")
        }
    }
}
