import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Store
import Testing

@Suite("Admin API: reviewing flagged orders")
struct AdminReviewTests {
    let admin: HTTPFields = [.authorization: "Bearer admin"]

    /// A first order of 1,250 from a throwaway address: the shipped fraud rules block it.
    static let blocked = #"{"userId":"zoe","event":"Order Completed","properties":{"order_id":"z1","total":1250,"card_fingerprint":"fp-z","billing_country":"ES","shipping_country":"ES","ip_country":"ES"}}"#

    func review(_ client: some TestClientProtocol, _ order: String, _ body: String, auth: Bool = true) async throws -> TestResponse {
        try await client.execute(uri: "/v1/orders/\(order)/review", method: .post, headers: auth ? admin : [:],
                                 body: ByteBuffer(string: body))
    }

    func decisions(_ client: some TestClientProtocol, _ query: String) async throws -> [[String: Any]] {
        let response = try await client.execute(uri: "/v1/decisions?\(query)", method: .get, headers: admin)
        return response.json["decisions"] as? [[String: Any]] ?? []
    }

    @Test("a review leaves the open queue, shows on the decision, is a label for the fraud report and is audited")
    func reviewQueue() async throws {
        let (server, _) = try makeServer()
        let store = server.gateway.engine.store
        try await Application(router: server.router()).test(.router) { client in
            #expect(try await client.post("/v1/identify", #"{"userId":"zoe","traits":{"email":"zoe@mailinator.com"}}"#).status == .ok)
            #expect(try await client.post("/v1/track", Self.blocked).status == .ok)
            #expect(try await decisions(client, "decision=block&review=open").map { $0["order_id"] as? String } == ["z1"])

            #expect(try await review(client, "z1", #"{"outcome":"fraud"}"#, auth: false).status == .unauthorized)
            let bad = try await review(client, "z1", #"{"outcome":"maybe"}"#)
            #expect(bad.status == .badRequest && bad.json["code"] as? String == "invalid_review")
            #expect(try await review(client, "z1", #"{"outcome":"fraud","verdict":"x"}"#).text.contains(#"unknown field \"verdict\""#))
            #expect(try await review(client, "z1", #"{"outcome":"fraud","note":5}"#).status == .badRequest)
            #expect(try await review(client, "z1", "not json").json["code"] as? String == "invalid_json")
            #expect(try await review(client, "nope", #"{"outcome":"fraud"}"#).status == .notFound)
            let badFilter = try await client.execute(uri: "/v1/decisions?review=later", method: .get, headers: admin)
            #expect(badFilter.status == .badRequest)

            let done = try await review(client, "z1", #"{"outcome":"fraud","note":"chargeback from the bank","analyst":"marta"}"#)
            #expect(done.status == .ok, "\(done.text)")
            #expect(done.json["decision"] as? String == "block" && done.json["customer_id"] as? String == "zoe")
            #expect(try await decisions(client, "decision=block&review=open").isEmpty)
            let decided = try #require(try await decisions(client, "order_id=z1").first)
            let results = try #require(decided["rules"] as? [[String: Any]], "each rule's result as JSON, as /v1/decide gives them")
            #expect(results.contains { $0["rule"] as? String == "fraud:disposable_email" && $0["outcome"] as? String == "hit" })
            let shown = try #require(decided["review"] as? [String: Any])
            #expect(shown["outcome"] as? String == "fraud" && shown["note"] as? String == "chargeback from the bank")
            #expect(shown["analyst"] as? String == "marta")
            #expect(try await decisions(client, "review=done").count == 1)

            let report = try await client.execute(uri: "/v1/reports/fraud", method: .get, headers: admin)
            let labels = try #require((report.json["tables"] as? [[String: Any]])?[2])
            let row = try #require((labels["rows"] as? [[Any]])?.first)
            let columns = labels["columns"] as? [String] ?? []
            #expect(row[columns.firstIndex(of: "true_positives")!] as? Double == 1)
            #expect(row[columns.firstIndex(of: "unreviewed_false_positives")!] as? Double == 0)
            #expect(try store.fraudLabels() == ["z1"])

            // Found legitimate after all: the latest review wins, and the order is no label.
            #expect(try await review(client, "z1", #"{"outcome":"legitimate","note":"the bank withdrew it"}"#).status == .ok)
            #expect(try store.fraudLabels().isEmpty)
            let latest = try #require(try await decisions(client, "order_id=z1").first?["review"] as? [String: Any])
            #expect(latest["outcome"] as? String == "legitimate")
            #expect(try store.auditLog().filter { $0.action == "review" }.count == 2)
        }
    }

    @Test("a card confirmed by review goes on the shipped blocked_cards list: the next order on it is blocked, from any account")
    func confirmedCardBlocked() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            #expect(try await client.post("/v1/identify", #"{"userId":"ray","traits":{"email":"ray@example.com"}}"#).status == .ok)
            #expect(try await client.post("/v1/track", #"{"userId":"ray","event":"Order Completed","properties":{"order_id":"r1","total":40,"card_fingerprint":"fp-ray"}}"#).status == .ok)
            #expect(try await decisions(client, "order_id=r1").first?["decision"] as? String == "allow")
            #expect(try await review(client, "r1", #"{"outcome":"fraud","note":"the card holder disputed it"}"#).status == .ok)

            let lists = try await client.execute(uri: "/v1/lists", method: .get, headers: admin)
            let blocked = try #require((lists.json["lists"] as? [[String: Any]])?.first { $0["name"] as? String == "blocked_cards" })
            #expect(blocked["from_rules"] as? Int == 1 && blocked["from_admin"] as? Int == 0)

            let next = try await client.post("/v1/decide", #"{"userId":"sam","event":"Order Completed","properties":{"order_id":"s1","total":20,"card_fingerprint":"fp-ray"}}"#)
            #expect(next.json["decision"] as? String == "block", "\(next.text)")
            #expect((next.json["reasons"] as? [String])?.contains("card fp-ray was confirmed as fraud") == true)
        }
    }
}
