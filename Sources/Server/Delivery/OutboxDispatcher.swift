import AsyncHTTPClient
import Crypto
import Engine
import Foundation
import NIOCore
import NIOHTTP1
import Store

/// A webhook destination for outbox actions of one channel (or `default`
/// for every channel without its own).
public struct WebhookChannel: Sendable, Equatable {
    public var url: String
    /// Signs each body: `X-Crescent-Signature: sha256=<hex HMAC-SHA256>`.
    public var secret: String
    /// Attempts before an action is dead-lettered.
    public var maxAttempts: Int

    public init(url: String, secret: String, maxAttempts: Int = 8) {
        self.url = url
        self.secret = secret
        self.maxAttempts = max(1, maxAttempts)
    }
}

/// Delivers the outbox to webhook channels, at least once: each action is
/// POSTed as JSON with an `Idempotency-Key` header and an HMAC-SHA256
/// signature; a failure (non-2xx or no answer) is retried with exponential
/// backoff and jitter, and after `maxAttempts` the action is `dead`. State
/// lives in the outbox rows, so a restart resumes where delivery stopped.
/// Time is an input (`deliverDue(now:)`), so tests need no waiting.
public final class OutboxDispatcher: Sendable {
    let store: CrescentStore
    let channels: [String: WebhookChannel]
    let client: HTTPClient
    /// First retry delay and the cap, in milliseconds.
    let backoffBase: Int64
    let backoffCap: Int64
    let jitter: @Sendable () -> Double
    /// How long one attempt may take (connecting included).
    let timeout: TimeAmount

    public init(store: CrescentStore, channels: [String: WebhookChannel], client: HTTPClient = .shared,
                backoffBase: Int64 = 1000, backoffCap: Int64 = 3_600_000, timeout: TimeAmount = .seconds(10),
                jitter: @escaping @Sendable () -> Double = { Double.random(in: 0.5...1.5) }) {
        self.timeout = timeout
        self.store = store
        self.channels = channels
        self.client = client
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.jitter = jitter
    }

    /// The delay before attempt `attempts + 1`, after `attempts` failures.
    public func backoff(afterAttempts attempts: Int) -> Int64 {
        let exponential = Double(backoffBase) * pow(2, Double(max(0, attempts - 1)))
        return Int64(min(Double(backoffCap), exponential) * jitter())
    }

    /// Tries every action due at `now` once; returns how many were tried.
    @discardableResult
    public func deliverDue(now: Int64, limit: Int = 100) async throws -> Int {
        let names = channels["default"] == nil ? Array(channels.keys) : nil
        let due = try store.dueOutbox(now: now, limit: limit, channels: names)
        for entry in due {
            guard let channel = channels[entry.row.channel ?? ""] ?? channels["default"] else { continue }
            let recipient = Self.recipient(entry.row.customerId, in: store)
            // Made under consent the customer has withdrawn since: never delivered.
            if let purpose = entry.row.consentPurpose, recipient["consent"]?[purpose] != .bool(true) {
                try store.markWithheld(id: entry.id, reason: "\(purpose) consent withdrawn before delivery")
                continue
            }
            let failure = await attempt(entry, channel, recipient: recipient)
            if let failure {
                let attempts = entry.attempts + 1
                let retryAt = attempts >= channel.maxAttempts ? nil : now + backoff(afterAttempts: attempts)
                try store.markFailed(id: entry.id, error: failure, retryAt: retryAt)
            } else {
                try store.markDelivered(id: entry.id, at: now)
            }
        }
        return due.count
    }

    /// Delivers until the task is cancelled, on the wall clock.
    public func run() async {
        while !Task.isCancelled {
            let tried = (try? await deliverDue(now: Int64(Date().timeIntervalSince1970 * 1000))) ?? 0
            if tried == 0 { try? await Task.sleep(for: .milliseconds(250)) }
        }
    }

    /// One POST; nil when delivered, else why not.
    private func attempt(_ entry: OutboxEntry, _ channel: WebhookChannel, recipient: JSONValue) async -> String? {
        let body = Self.body(entry, recipient: recipient)
        var request = HTTPClientRequest(url: channel.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: entry.row.idempotencyKey)
        request.headers.add(name: "X-Crescent-Signature", value: "sha256=" + Self.signature(body, secret: channel.secret))
        request.headers.add(name: "X-Crescent-Attempt", value: String(entry.attempts + 1))
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, deadline: .now() + timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (200..<300).contains(response.status.code) ? nil : "HTTP \(response.status.code)"
        } catch {
            return "\(error)"
        }
    }

    /// The JSON body: the action's envelope with its payload.
    /// The contact traits a receiver needs to reach the customer.
    static let contactTraits = ["email", "phone", "name", "first_name", "last_name", "timezone", "locale"]

    /// Whom an action is for, as the store holds them at delivery (an erasure
    /// or a correction since the action was made shows): `id`, the contact
    /// traits they have, `marketing_consent`, and `consent` (every purpose);
    /// null without a customer.
    /// Read at delivery, so no copy of them is kept in the outbox.
    static func recipient(_ customerId: String?, in store: CrescentStore) -> JSONValue {
        guard let customerId else { return .null }
        let id = (try? store.resolve(alias: customerId)) ?? nil
        guard let row = try? store.customer(id: id ?? customerId) else { return .null }
        var fields: [String: JSONValue] = ["id": .string(row.id)]
        let traits = (try? JSONValue.parse(Data(row.traits.utf8))) ?? .object([:])
        for name in contactTraits {
            if let value = traits[name], value != .null { fields[name] = value }
        }
        let consent = (try? JSONValue.parse(Data(row.consent.utf8))) ?? .object([:])
        fields["marketing_consent"] = .bool(consent["marketing"] == .bool(true))
        fields["consent"] = consent
        return .object(fields)
    }

    static func body(_ entry: OutboxEntry, recipient: JSONValue = .null) -> String {
        func quote(_ text: String?) -> String {
            guard let text else { return "null" }
            let data = (try? JSONSerialization.data(withJSONObject: [text])) ?? Data("[\"\"]".utf8)
            return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
        }
        let row = entry.row
        return #"{"id":\#(entry.id),"idempotency_key":\#(quote(row.idempotencyKey)),"message_id":\#(quote(row.messageId)),"#
            + #""customer_id":\#(quote(row.customerId)),"rule":\#(quote(row.rule)),"action":\#(quote(row.action)),"#
            + #""channel":\#(quote(row.channel)),"created_at":\#(row.createdAt),"customer":\#(recipient.jsonText),"#
            + #""payload":\#(row.payload)}"#
    }

    /// Hex HMAC-SHA256 of the body with the channel's secret.
    public static func signature(_ body: String, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }
}
