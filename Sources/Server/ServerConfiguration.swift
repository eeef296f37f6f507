import Crypto
import Engine
import Foundation

/// How `crescent serve` runs: where it listens, its database and rules, and
/// the secrets it accepts. Read from flags, a JSON configuration file and the
/// environment (`CRESCENT_WRITE_KEYS`, `CRESCENT_ADMIN_TOKEN`); secrets are
/// kept only as SHA-256 digests and compared in constant time.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var database = "crescent.db"
    public var rules = "rules"
    public var plugins = "plugins"
    public var shards = 1
    /// Watch the rules and plugins folders and reload on a change (guarded by check and scenarios).
    public var watchRules = true
    /// Run the scenario files (`*_test.lua`) before a reload is swapped in.
    public var reloadRunsScenarios = true
    /// Events accepted but not yet committed before requests get `429`.
    public var maxInFlight = 20_000
    /// How long `/metrics` waits for the shards' figures before it answers
    /// with the last ones taken (the shards are busy catching up after a start).
    public var metricsWait: Duration = .seconds(1)
    /// Customers a segment sweep evaluates before the shard takes the
    /// events and decisions queued behind it (``EngineOptions/sweepSlice``).
    public var sweepSlice = 64
    /// Journey timers due while stopped that fire before the shard takes
    /// the events and decisions queued behind them (``EngineOptions/timerSlice``).
    public var timerSlice = 512
    /// How far ahead of the server's clock a message's time may be before
    /// it is corrected (``Timestamps/skewCorrected(_:sentAt:receivedAt:tolerance:)``), in ms.
    public var clockSkewTolerance: Int64 = 60_000
    /// Events older than this before the server's clock (ms) are history
    /// arriving late: no promotion or journey acts on them
    /// (``EngineOptions/historicalAfter``); 0 lets every event act.
    public var historicalAfter: Int64 = 86_400_000
    /// The address browsers reach the server at (`https://events.shop.example`),
    /// given to analytics.js with its settings; nil: the request's `Host`
    /// and `X-Forwarded-Proto` (else `http`).
    public var publicURL: URL?
    /// Webhook channels by name (`default` takes channels without their own).
    public var channels: [String: WebhookChannel] = [:]
    /// Digests of the accepted server write keys (``WriteKeyKind/server``).
    public private(set) var writeKeyDigests: [Data] = []
    /// Digests of the write keys for the shop's pages and apps (``WriteKeyKind/browser``).
    public private(set) var browserWriteKeyDigests: [Data] = []
    /// The shop's identity secret: when set, a browser key's message naming a
    /// user id must carry that id's HMAC-SHA256 under it (``IdentityVerification``).
    public var identitySecret: String?
    /// Digest of the admin token; nil disables the admin API.
    public private(set) var adminTokenDigest: Data?

    public init() {}

    /// Adds write keys (stored as digests).
    public mutating func addWriteKeys(_ keys: [String]) {
        for key in keys where !key.isEmpty { writeKeyDigests.append(Self.digest(key)) }
    }

    public mutating func setAdminToken(_ token: String) {
        adminTokenDigest = token.isEmpty ? nil : Self.digest(token)
    }

    /// Adds write keys for the shop's pages and apps (stored as digests).
    public mutating func addBrowserWriteKeys(_ keys: [String]) {
        for key in keys where !key.isEmpty { browserWriteKeyDigests.append(Self.digest(key)) }
    }

    /// Whether `key` is one of the write keys, of either kind.
    public func acceptsWriteKey(_ key: String) -> Bool { writeKeyKind(key) != nil }

    /// The kind of write key `key` is; nil when it is none (every digest
    /// compared, in constant time). A key listed as both is a browser key.
    public func writeKeyKind(_ key: String) -> WriteKeyKind? {
        let candidate = Self.digest(key)
        var server = false, browser = false
        for digest in writeKeyDigests where Self.constantTimeEqual(digest, candidate) { server = true }
        for digest in browserWriteKeyDigests where Self.constantTimeEqual(digest, candidate) { browser = true }
        return browser ? .browser : server ? .server : nil
    }

    public func acceptsAdminToken(_ token: String) -> Bool {
        guard let adminTokenDigest else { return false }
        return Self.constantTimeEqual(adminTokenDigest, Self.digest(token))
    }

    /// An http(s) address with a host, without a trailing slash; nil otherwise.
    static func publicURL(_ text: String) -> URL? {
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard let url = URL(string: trimmed), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false else { return nil }
        return url
    }

    static func digest(_ secret: String) -> Data { Data(SHA256.hash(data: Data(secret.utf8))) }

    static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// Applies a JSON configuration file: `{"host", "port", "db", "rules", "plugins", "shards",
    /// "write_keys": [...], "browser_write_keys": [...], "identity_secret", "admin_token", "max_in_flight", "historical_after", "public_url", ...}`. Unknown keys are an error naming the key.
    public mutating func apply(file path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("\(path): cannot read the configuration file")
        }
        do {
            _ = try JSONValue.parse(data)
        } catch {
            throw ConfigurationError("\(path): not valid JSON: \(JSONValue.location(of: error, in: data) ?? "\(error)")")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ConfigurationError("\(path): not a JSON object")
        }
        for (key, value) in object {
            switch (key, value) {
            case ("host", let v as String): host = v
            case ("port", let v as Int): port = v
            case ("db", let v as String): database = v
            case ("rules", let v as String): rules = v
            case ("plugins", let v as String): plugins = v
            case ("shards", let v as Int): shards = v
            case ("max_in_flight", let v as Int): maxInFlight = v
            case ("watch_rules", let v as Bool): watchRules = v
            case ("reload_runs_scenarios", let v as Bool): reloadRunsScenarios = v
            case ("historical_after", let v as String):
                guard let ms = DurationText.milliseconds(v) else {
                    throw ConfigurationError("\(path): \"historical_after\" must be a duration such as \"24h\" or \"7d\" (\"0s\": every event may act), not \"\(v)\"")
                }
                historicalAfter = ms
            case ("write_keys", let v as [String]): addWriteKeys(v)
            case ("browser_write_keys", let v as [String]): addBrowserWriteKeys(v)
            case ("identity_secret", let v as String): identitySecret = v.isEmpty ? nil : v
            case ("admin_token", let v as String): setAdminToken(v)
            case ("public_url", let v as String):
                guard let url = Self.publicURL(v) else {
                    throw ConfigurationError("\(path): \"public_url\" must be an http or https address with a host, not \"\(v)\"")
                }
                publicURL = url
            case ("channels", let v as [String: Any]):
                for (name, spec) in v {
                    guard let spec = spec as? [String: Any], let url = spec["url"] as? String, URL(string: url)?.scheme != nil else {
                        throw ConfigurationError("\(path): channels.\(name) needs \"url\": \"https://...\"")
                    }
                    guard let secret = spec["secret"] as? String, !secret.isEmpty else {
                        throw ConfigurationError("\(path): channels.\(name) needs a \"secret\" to sign deliveries")
                    }
                    channels[name] = WebhookChannel(url: url, secret: secret, maxAttempts: spec["max_attempts"] as? Int ?? 8)
                }
            case ("host", _), ("port", _), ("db", _), ("rules", _), ("plugins", _), ("shards", _), ("max_in_flight", _), ("watch_rules", _), ("reload_runs_scenarios", _), ("historical_after", _),
                 ("write_keys", _), ("browser_write_keys", _), ("identity_secret", _), ("admin_token", _), ("channels", _), ("public_url", _):
                throw ConfigurationError("\(path): \"\(key)\" has the wrong type")
            default:
                throw ConfigurationError("\(path): unknown key \"\(key)\"")
            }
        }
    }

    /// Applies `CRESCENT_WRITE_KEYS` and `CRESCENT_BROWSER_WRITE_KEYS` (comma-separated), `CRESCENT_IDENTITY_SECRET`, `CRESCENT_ADMIN_TOKEN`,
    /// `CRESCENT_PUBLIC_URL`, and `CRESCENT_WEBHOOK_URL` with
    /// `CRESCENT_WEBHOOK_SECRET` (the `default` channel).
    public mutating func apply(environment: [String: String]) throws {
        if let keys = environment["CRESCENT_WRITE_KEYS"] {
            addWriteKeys(keys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        if let keys = environment["CRESCENT_BROWSER_WRITE_KEYS"] {
            addBrowserWriteKeys(keys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        if let secret = environment["CRESCENT_IDENTITY_SECRET"], !secret.isEmpty { identitySecret = secret }
        if let token = environment["CRESCENT_ADMIN_TOKEN"] { setAdminToken(token) }
        if let text = environment["CRESCENT_PUBLIC_URL"] {
            guard let url = Self.publicURL(text) else {
                throw ConfigurationError("CRESCENT_PUBLIC_URL must be an http or https address with a host, not \"\(text)\"")
            }
            publicURL = url
        }
        if let url = environment["CRESCENT_WEBHOOK_URL"], let secret = environment["CRESCENT_WEBHOOK_SECRET"] {
            channels["default"] = WebhookChannel(url: url, secret: secret)
        }
    }
}

/// Who holds a write key, and so which events it may send.
public enum WriteKeyKind: Sendable, Equatable {
    /// The shop's servers: a secret, trusted with every event.
    case server
    /// The shop's pages and apps: public by nature (anyone can read it in
    /// a page), so it may not send the events that change orders, stock,
    /// prices, ad spend or fraud labels (``ServerOnlyEvents``), nor ask
    /// for decisions.
    case browser
}

/// A configuration problem, with the file or variable named.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
