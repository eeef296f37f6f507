import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Server
import Store
import TestSupport
import Testing

/// A webhook receiver on a free local port that fails the first `failures`
/// deliveries with 500 and records what it received.
final class WebhookReceiver: @unchecked Sendable {
    struct Delivery {
        var body: String
        var signature: String?
        var idempotencyKey: String?
        var attempt: String?
    }
    private let lock = NSLock()
    private var received: [Delivery] = []
    private var failuresLeft: Int
    private var task: Task<Void, any Error>?
    private(set) var port = 0

    init(failures: Int) async throws {
        failuresLeft = failures
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let fail: Bool = self.lock.withLock {
                self.received.append(Delivery(body: body, signature: request.headers[HTTPField.Name("X-Crescent-Signature")!],
                                              idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!],
                                              attempt: request.headers[HTTPField.Name("X-Crescent-Attempt")!]))
                if self.failuresLeft > 0 {
                    self.failuresLeft -= 1
                    return true
                }
                return false
            }
            return Response(status: fail ? .internalServerError : .ok)
        }
        let ready = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in ready.continuation.yield(channel.localAddress?.port ?? 0) })
        task = Task { try await app.run() }
        for await port in ready.stream {
            self.port = port
            break
        }
    }

    var deliveries: [Delivery] { lock.withLock { received } }
    func stop() { task?.cancel() }
}

@Suite("Outbox delivery to webhooks")
struct DeliveryTests {
    /// A store with one pending `webhook` action on channel `crm`.
    func storeWithAction() throws -> CrescentStore {
        let store = try CrescentStore()
        var batch = WriteBatch()
        batch.outbox.append(OutboxRow(idempotencyKey: "m1:promotion:vip:0", messageId: "m1", customerId: "ana", rule: "promotion:vip",
                                      action: "webhook", channel: "crm", payload: #"{"action":"webhook","payload":{"tier":"gold"}}"#,
                                      createdAt: 1_000))
        try store.commit(batch)
        return store
    }

    @Test("a receiver that fails twice gets the action on the third attempt, signed, with its idempotency key")
    func retriesUntilDelivered() async throws {
        let receiver = try await WebhookReceiver(failures: 2)
        defer { receiver.stop() }
        let store = try storeWithAction()
        let channel = WebhookChannel(url: "http://127.0.0.1:\(receiver.port)/hook", secret: "s3cret", maxAttempts: 5)
        let dispatcher = OutboxDispatcher(store: store, channels: ["crm": channel], backoffBase: 1000, jitter: { 1 })
        #expect(try await dispatcher.deliverDue(now: 0) == 1)
        #expect(try store.outboxEntries(status: "pending").first?.lastError == "HTTP 500")
        #expect(try await dispatcher.deliverDue(now: 999) == 0, "not before the backoff")
        #expect(try await dispatcher.deliverDue(now: 1_000) == 1)
        // A restart: a new dispatcher over the same store resumes (backoff doubled: 2 s after the second failure).
        let restarted = OutboxDispatcher(store: store, channels: ["crm": channel], backoffBase: 1000, jitter: { 1 })
        #expect(try await restarted.deliverDue(now: 2_999) == 0)
        #expect(try await restarted.deliverDue(now: 3_000) == 1)
        let delivered = try #require(try store.outboxEntries(status: "delivered").first)
        #expect(delivered.attempts == 3)
        let deliveries = receiver.deliveries
        #expect(deliveries.count == 3)
        #expect(deliveries.map(\.attempt) == ["1", "2", "3"])
        let last = try #require(deliveries.last)
        #expect(last.idempotencyKey == "m1:promotion:vip:0")
        #expect(last.signature == "sha256=" + OutboxDispatcher.signature(last.body, secret: "s3cret"))
        #expect(last.signature != "sha256=" + OutboxDispatcher.signature(last.body, secret: "other"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(last.body.utf8)) as? [String: Any])
        #expect(json["rule"] as? String == "promotion:vip")
        #expect((json["payload"] as? [String: Any])?["action"] as? String == "webhook")
        #expect(try await restarted.deliverDue(now: 100_000) == 0, "delivered once")
    }

    /// A customer row with these traits and consent (JSON text).
    static func customer(_ id: String, traits: String = "{}", consent: String) -> CustomerRow {
        var row = CustomerRow(id: id)
        row.traits = traits
        row.consent = consent
        return row
    }

    /// A `notify` action of `promotion:vip` on channel `crm` for `customer`.
    static func notify(_ key: String, for customer: String, action: String = "notify", consent: String? = nil) -> OutboxRow {
        OutboxRow(idempotencyKey: key, messageId: "m-\(key)", customerId: customer, rule: "promotion:vip", action: action,
                  channel: "crm", payload: #"{"action":"\#(action)","template":"vip"}"#, createdAt: 1_000, consentPurpose: consent)
    }

    @Test("the receiver is told whom to reach: the customer's contact traits and consent as they are at delivery")
    func recipient() async throws {
        let receiver = try await WebhookReceiver(failures: 0)
        defer { receiver.stop() }
        let store = try CrescentStore()
        var batch = WriteBatch()
        batch.customers["ana"] = Self.customer(
            "ana", traits: #"{"email":"ana@example.com","first_name":"Ana","phone":null,"favourite_colour":"teal","timezone":"Europe/Madrid"}"#,
            consent: #"{"marketing":true}"#)
        batch.identities.append((alias: "anon-1", customerId: "ana"))
        for (key, customer) in [("a", "ana"), ("b", "anon-1"), ("c", "nobody")] { batch.outbox.append(Self.notify(key, for: customer)) }
        try store.commit(batch)
        let channel = WebhookChannel(url: "http://127.0.0.1:\(receiver.port)/hook", secret: "s")
        #expect(try await OutboxDispatcher(store: store, channels: ["crm": channel], jitter: { 1 }).deliverDue(now: 2_000) == 3)
        let bodies = try receiver.deliveries.map { try #require(try JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any]) }
        let byKey = Dictionary(uniqueKeysWithValues: bodies.map { ($0["idempotency_key"] as? String ?? "?", $0) })
        let customer = try #require(byKey["a"]?["customer"] as? [String: Any])
        #expect(customer["id"] as? String == "ana")
        #expect(customer["email"] as? String == "ana@example.com")
        #expect(customer["first_name"] as? String == "Ana" && customer["timezone"] as? String == "Europe/Madrid")
        #expect(customer["marketing_consent"] as? Bool == true)
        #expect(customer["favourite_colour"] == nil && customer["phone"] == nil, "contact traits only, and only those held")
        #expect((byKey["b"]?["customer"] as? [String: Any])?["email"] as? String == "ana@example.com", "an anonymous id that joined ana")
        #expect(byKey["c"]?["customer"] is NSNull, "no customer on record")
        #expect(byKey["a"]?["customer_id"] as? String == "ana")
    }

    @Test("an action made under marketing consent is withheld, never sent, when the consent was withdrawn before delivery")
    func consentWithdrawn() async throws {
        let receiver = try await WebhookReceiver(failures: 0)
        defer { receiver.stop() }
        let store = try CrescentStore()
        var batch = WriteBatch()
        for (id, consent) in [("ana", #"{"marketing":true}"#), ("bo", #"{"marketing":false}"#)] {
            batch.customers[id] = Self.customer(id, consent: consent)
        }
        for (key, customer, purpose) in [("a", "ana", "marketing"), ("b", "bo", "marketing"), ("c", "bo", nil)] as [(String, String, String?)] {
            batch.outbox.append(Self.notify(key, for: customer, action: purpose == nil ? "alert" : "notify", consent: purpose))
        }
        try store.commit(batch)
        let channel = WebhookChannel(url: "http://127.0.0.1:\(receiver.port)/hook", secret: "s")
        let dispatcher = OutboxDispatcher(store: store, channels: ["crm": channel], jitter: { 1 })
        #expect(try await dispatcher.deliverDue(now: 2_000) == 3)
        #expect(receiver.deliveries.compactMap(\.idempotencyKey).sorted() == ["a", "c"], "bo's marketing message is not sent; an alert needs no consent")
        let withheld = try #require(try store.outboxEntries(status: "withheld").first)
        #expect(withheld.row.idempotencyKey == "b" && withheld.attempts == 0)
        #expect(withheld.lastError == "marketing consent withdrawn before delivery")
        #expect(try store.outboxCounts() == ["delivered": 2, "withheld": 1])
        #expect(try await dispatcher.deliverDue(now: 100_000) == 0, "never tried again")
    }

    @Test("a receiver that never recovers: dead letter after the last attempt, with the error kept")
    func deadLetter() async throws {
        let receiver = try await WebhookReceiver(failures: .max)
        defer { receiver.stop() }
        let store = try storeWithAction()
        let channel = WebhookChannel(url: "http://127.0.0.1:\(receiver.port)/hook", secret: "s", maxAttempts: 3)
        let dispatcher = OutboxDispatcher(store: store, channels: ["crm": channel], backoffBase: 10, jitter: { 1 })
        for now in [0, 10_000, 20_000, 30_000] as [Int64] { try await dispatcher.deliverDue(now: now) }
        let dead = try #require(try store.outboxEntries(status: "dead").first)
        #expect(dead.attempts == 3)
        #expect(dead.lastError == "HTTP 500")
        #expect(receiver.deliveries.count == 3)
    }

    @Test("an unreachable channel counts as a failed attempt; actions of other channels wait for their own")
    func unreachable() async throws {
        let store = try storeWithAction()
        let dispatcher = OutboxDispatcher(store: store, channels: ["crm": WebhookChannel(url: "http://127.0.0.1:1/hook", secret: "s")],
                                          timeout: .milliseconds(500), jitter: { 1 })
        try await dispatcher.deliverDue(now: 0)
        let pending = try #require(try store.outboxEntries(status: "pending").first)
        #expect(pending.attempts == 1)
        #expect(pending.lastError != nil)
        let other = OutboxDispatcher(store: store, channels: ["email": WebhookChannel(url: "http://127.0.0.1:1/x", secret: "s")])
        #expect(try await other.deliverDue(now: 1_000_000) == 0)
    }

    @Test("backoff doubles with each failure, within the cap, with jitter applied")
    func backoff() throws {
        let dispatcher = OutboxDispatcher(store: try CrescentStore(), channels: [:], backoffBase: 1000, backoffCap: 5000, jitter: { 1.5 })
        #expect((1...5).map { dispatcher.backoff(afterAttempts: $0) } == [1500, 3000, 6000, 7500, 7500])
    }
}

@Suite("Channels declared in rules and plugins")
struct DeclaredChannelTests {
    @Test("a plugin declares a channel; its secret comes from the environment; the configuration wins")
    func pluginChannel() throws {
        let dir = try TestSupport.Fixtures.temporaryDirectory(files: [
            "rules/uses_crm.lua": "local crm = require(\"crm\")\nsegment \"any\" { when = function(c) return true end }",
            "plugins/crm.lua": "channel \"crm\" { url = \"http://127.0.0.1:9/hook\", secret_env = \"CRM_SECRET\", max_attempts = 3 }\nreturn {}",
            "rules/ops.lua": "channel \"ops\" { url = \"ftp://nope\", secret_env = \"OPS_SECRET\" }",
        ])
        var configuration = ServerConfiguration()
        configuration.database = dir.appendingPathComponent("c.db").path
        configuration.rules = dir.appendingPathComponent("rules").path
        configuration.plugins = dir.appendingPathComponent("plugins").path
        let server = try CrescentServer(configuration: configuration)
        let channels = server.deliveryChannels(environment: ["CRM_SECRET": "s3cret", "OPS_SECRET": "x"])
        #expect(channels["crm"] == WebhookChannel(url: "http://127.0.0.1:9/hook", secret: "s3cret", maxAttempts: 3))
        #expect(channels["ops"] == nil, "not an http(s) address")
        #expect(server.deliveryChannels(environment: [:])["crm"] == nil, "no secret, no delivery")

        configuration.channels["crm"] = WebhookChannel(url: "http://127.0.0.1:10/other", secret: "configured")
        let configured = try CrescentServer(configuration: configuration)
        #expect(configured.deliveryChannels(environment: ["CRM_SECRET": "s3cret"])["crm"]?.secret == "configured")
    }
}
