import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Store
import Testing

@Suite("Admin API: export, erasure, segments, decisions, lists")
struct AdminDataTests {
    let admin: HTTPFields = [.authorization: "Bearer admin"]
    let ingest: HTTPFields = [.authorization: basic("wk")]

    func send(_ client: some TestClientProtocol, _ uri: String, _ body: String) async throws {
        let response = try await client.execute(uri: uri, method: .post, headers: ingest, body: ByteBuffer(string: body))
        #expect(response.status == .ok, "\(response.text)")
    }

    @Test("the outbox lists actions by status with the consent each was made under")
    func outboxListing() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            try await send(client, "/v1/identify", #"{"userId":"eva","traits":{"email":"eva@example.com","marketing_consent":true}}"#)
            try await send(client, "/v1/track", #"{"userId":"eva","event":"Order Completed","properties":{"order_id":"oe1","total":80}}"#)
            let pending = try await client.execute(uri: "/v1/outbox?status=pending", method: .get, headers: admin)
            #expect(pending.status == .ok)
            let entries = try #require(pending.json["entries"] as? [[String: Any]])
            let welcome = entries.filter { $0["rule"] as? String == "promotion:first_purchase_welcome" }
            #expect(!welcome.isEmpty && welcome.allSatisfy { $0["consent_purpose"] as? String == "marketing" }, "\(entries)")
            let bad = try await client.execute(uri: "/v1/outbox?status=lost", method: .get, headers: admin)
            #expect(bad.status == .badRequest && bad.text.contains("pending, delivered, dead or withheld"))
            let withheld = try await client.execute(uri: "/v1/outbox?status=withheld", method: .get, headers: admin)
            #expect(withheld.status == .ok && (withheld.json["entries"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("export returns everything held on the customer; erasure leaves only anonymised aggregates, audited")
    func exportAndErase() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            try await send(client, "/v1/track", #"{"anonymousId":"anon-dee","event":"Product Viewed","properties":{"product_id":"p1"}}"#)
            try await send(client, "/v1/identify", #"{"userId":"dee","anonymousId":"anon-dee","traits":{"email":"dee@example.com","marketing_consent":true}}"#)
            try await send(client, "/v1/track", #"{"userId":"dee","event":"Order Completed","properties":{"order_id":"od1","total":80,"card_fingerprint":"fp-dee"}}"#)
            // Messages refused at ingest that name her (by either id) are hers too; another customer's are not.
            for body in [#"{"userId":"dee","properties":{"note":"no event"}}"#, #"{"anonymousId":"anon-dee"}"#, #"{"userId":"zed"}"#] {
                let refused = try await client.execute(uri: "/v1/track", method: .post, headers: ingest, body: ByteBuffer(string: body))
                #expect(refused.status == .badRequest)
            }

            let export = try await client.execute(uri: "/v1/customers/dee/export", method: .get, headers: admin)
            #expect(export.status == .ok)
            let document = export.json
            #expect((document["customers"] as? [[String: Any]])?.first?["id"] as? String == "dee")
            #expect(((document["customers"] as? [[String: Any]])?.first?["traits"] as? [String: Any])?["email"] as? String == "dee@example.com")
            #expect((document["events"] as? [Any])?.count == 3, "the anonymous history was merged in")
            #expect((document["orders"] as? [[String: Any]])?.first?["id"] as? String == "od1")
            #expect((document["identities"] as? [[String: Any]])?.contains { $0["alias"] as? String == "anon-dee" } == true)
            #expect((document["decisions"] as? [Any])?.count == 1)
            let refusedHers = try #require(document["rejected_messages"] as? [[String: Any]])
            #expect(refusedHers.compactMap { ($0["payload"] as? [String: Any])?["userId"] as? String ?? ($0["payload"] as? [String: Any])?["anonymousId"] as? String }
                    == ["dee", "anon-dee"])

            let erased = try await client.execute(uri: "/v1/customers/dee", method: .delete, headers: admin)
            #expect(erased.status == .ok)
            #expect((erased.json["removed"] as? [String: Any])?["events"] as? Int == 3)
            #expect((erased.json["removed"] as? [String: Any])?["rejected_messages"] as? Int == 2)
            let refusedLeft = try await client.execute(uri: "/v1/rejected", method: .get, headers: admin).json["entries"] as? [[String: Any]]
            #expect(refusedLeft?.map { ($0["message"] as? [String: Any])?["userId"] as? String } == ["zed"])
            #expect(try await client.execute(uri: "/v1/customers/dee", method: .get, headers: admin).status == .notFound)
            #expect(try await client.execute(uri: "/v1/customers/anon-dee", method: .get, headers: admin).status == .notFound)
            let store = server.gateway.engine.store
            #expect(try store.recentEvents(customerId: "dee", limit: 10).isEmpty)
            let audit = try #require(try store.auditLog().first)
            #expect(audit.action == "erase")
            #expect(audit.subject.hasPrefix("erased-"))
            let anonymous = try #require(try store.customer(id: audit.subject))
            #expect(anonymous.ordersCount == 1 && anonymous.totalSpent == 80, "aggregates kept")
            #expect(anonymous.traits == "{}" && anonymous.userId == nil, "personal fields gone")
            #expect(try store.order(id: "od1")?.customerId == audit.subject)
            #expect(try await client.execute(uri: "/v1/customers/dee", method: .delete, headers: admin).status == .notFound)

            // The engine forgot them too: a new event starts a new, empty customer.
            try await send(client, "/v1/track", #"{"userId":"dee","event":"Page Viewed"}"#)
            let fresh = try await client.execute(uri: "/v1/customers/dee", method: .get, headers: admin).json
            #expect(fresh["orders_count"] as? Int == 0)
            #expect((fresh["traits"] as? [String: Any])?.isEmpty == true)
        }
    }

    @Test("segments with sizes, members paged, decisions by order, by customer, by verdict and the latest; bad paging is 400")
    func segmentsAndDecisions() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            for n in 0..<3 {
                try await send(client, "/v1/track", #"{"userId":"c\#(n)","event":"Order Completed","properties":{"order_id":"o\#(n)","total":20}}"#)
            }
            let segments = try await client.execute(uri: "/v1/segments", method: .get, headers: admin).json
            let bronze = (segments["segments"] as? [[String: Any]])?.first { $0["name"] as? String == "bronze" }
            #expect(bronze?["size"] as? Int == 3)
            let page1 = try await client.execute(uri: "/v1/segments/bronze/members?limit=2", method: .get, headers: admin).json
            #expect((page1["members"] as? [[String: Any]])?.compactMap { $0["customer_id"] as? String } == ["c0", "c1"])
            let next = try #require(page1["next"] as? String)
            let page2 = try await client.execute(uri: "/v1/segments/bronze/members?limit=2&after=\(next)", method: .get, headers: admin).json
            #expect((page2["members"] as? [[String: Any]])?.compactMap { $0["customer_id"] as? String } == ["c2"])
            #expect(page2["next"] == nil)
            let byOrder = try await client.execute(uri: "/v1/decisions?order_id=o1", method: .get, headers: admin).json
            #expect((byOrder["decisions"] as? [[String: Any]])?.first?["decision"] as? String == "allow")
            let byCustomer = try await client.execute(uri: "/v1/decisions?customer_id=c2", method: .get, headers: admin).json
            #expect((byCustomer["decisions"] as? [[String: Any]])?.first?["order_id"] as? String == "o2")
            func orders(_ uri: String) async throws -> [String] {
                let json = try await client.execute(uri: uri, method: .get, headers: admin).json
                return (json["decisions"] as? [[String: Any]] ?? []).compactMap { $0["order_id"] as? String }
            }
            #expect(try await orders("/v1/decisions").count == 3, "the latest, newest first")
            #expect(try await orders("/v1/decisions?limit=2").count == 2)
            #expect(try await orders("/v1/decisions?decision=allow&customer_id=c1") == ["o1"])
            #expect(try await orders("/v1/decisions?decision=block").isEmpty)
            for (uri, code) in [("/v1/decisions?decision=maybe", "invalid_decision"), ("/v1/decisions?limit=0", "invalid_limit"),
                                ("/v1/segments/bronze/members?limit=1001", "invalid_limit"), ("/v1/rejected?limit=x", "invalid_limit"),
                                ("/v1/rejected?before=soon", "invalid_before"), ("/v1/outbox?before=x", "invalid_before"),
                                ("/v1/customers/c1/recommendations?n=101", "invalid_n")] {
                let response = try await client.execute(uri: uri, method: .get, headers: admin)
                #expect(response.status == .badRequest, "\(uri)")
                #expect(response.json["code"] as? String == code, "\(uri): \(response.text)")
            }
        }
    }

    @Test("a list entry added by the admin API counts in the next decision; removed, it no longer does; a file's entry is the file's")
    func lists() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let added = try await client.execute(uri: "/v1/lists/disposable_domains/sketchy.example", method: .put, headers: admin)
            #expect(added.json["added"] as? Bool == true)
            let entries = try await client.execute(uri: "/v1/lists/disposable_domains", method: .get, headers: admin).json
            #expect((entries["entries"] as? [[String: Any]])?.contains { $0["value"] as? String == "sketchy.example" && $0["source"] as? String == "admin" } == true)
            func decide(_ id: String) async throws -> [String: Any] {
                try await client.execute(uri: "/v1/decide", method: .post, headers: ingest, body: ByteBuffer(string:
                    #"{"userId":"\#(id)","event":"Order Completed","traits":{"email":"x@sketchy.example"},"properties":{"order_id":"\#(id)","total":10}}"#)).json
            }
            let flagged = try await decide("l1")
            #expect((flagged["rules"] as? [[String: Any]])?.contains { $0["rule"] as? String == "fraud:disposable_email" && $0["outcome"] as? String == "hit" } == true)
            let counted = try await client.execute(uri: "/v1/lists/disposable_domains", method: .get, headers: admin).json
            _ = try await client.execute(uri: "/v1/lists/vip_cards/4242", method: .put, headers: admin)
            let index = try await client.execute(uri: "/v1/lists", method: .get, headers: admin).json["lists"] as? [[String: Any]] ?? []
            let domains = index.first { $0["name"] as? String == "disposable_domains" }
            #expect((domains?["file"] as? String)?.hasSuffix("fraud/identity.lua") == true, "the file, as GET /v1/rules names it")
            #expect(domains?["description"] as? String == "Throwaway e-mail providers")
            #expect(domains?["from_files"] as? Int == 6 && domains?["from_admin"] as? Int == 1 && domains?["entries"] as? Int == 7)
            #expect(domains?["hits"] as? Int == 1)
            let cards = index.first { $0["name"] as? String == "vip_cards" }
            #expect(cards?["entries"] as? Int == 1 && cards?["from_admin"] as? Int == 1, "a list only the admin API fills is listed too")
            #expect(cards?["file"] is NSNull)
            #expect((counted["entries"] as? [[String: Any]])?.first { $0["value"] as? String == "sketchy.example" }?["hits"] as? Int == 1)
            let removed = try await client.execute(uri: "/v1/lists/disposable_domains/sketchy.example", method: .delete, headers: admin)
            #expect(removed.json["removed"] as? Bool == true)
            let clean = try await decide("l2")
            #expect((clean["rules"] as? [[String: Any]])?.contains { $0["rule"] as? String == "fraud:disposable_email" && $0["outcome"] as? String == "hit" } == false)
            // A value a rule file declares is the file's: removing it here would last only until the next reload.
            let declared = try await client.execute(uri: "/v1/lists/disposable_domains/mailinator.com", method: .delete, headers: admin)
            #expect(declared.status == .conflict)
            #expect(declared.json["code"] as? String == "declared_in_rules")
            #expect((declared.json["message"] as? String)?.contains("fraud/identity.lua") == true, "names the file to edit: \(declared.text)")
            let still = try await client.execute(uri: "/v1/lists/disposable_domains", method: .get, headers: admin).json
            #expect((still["entries"] as? [[String: Any]])?.contains { $0["value"] as? String == "mailinator.com" } == true)
        }
    }
}
