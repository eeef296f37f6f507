import Engine
import Foundation
import Store

/// Builds engines over temporary rule folders and in-memory stores.
public enum EngineFixtures {
    /// A fraud policy (review at 50, block at 80), orders counted per card, card velocity
    /// (+40 from the third use in an hour) and a big first order (+50 over 1000).
    public static let velocityRules = """
        fraud_policy { on = { "Order Completed" }, review_at = 50, block_at = 80 }
        counter "orders_per_card" { on = "Order Completed", key = function(e) return e.properties.card_fingerprint end }
        fraud "card_velocity" {
          score = function(e, c, ctx)
            local n = ctx:count("orders_per_card", e.properties.card_fingerprint, "1h")
            if n >= 3 then return 40, ("card used %d times in the last hour"):format(n) end
          end,
        }
        fraud "big_first_order" {
          score = function(e, c) if e.order.is_first and e.order.total > 1000 then return 50, "first order over 1000" end end,
        }
        """

    /// An engine whose rules are `files` (path under rules/ → source).
    public static func engine(rules files: [String: String], plugins: [String: String] = [:],
                              options: EngineOptions = EngineOptions(), store: CrescentStore? = nil) throws -> Engine {
        var all: [String: String] = [:]
        for (path, text) in files { all["rules/" + path] = text }
        for (path, text) in plugins { all["plugins/" + path] = text }
        all["plugins/.keep"] = ""
        let root = try Fixtures.temporaryDirectory(files: all)
        return try Engine(store: try store ?? CrescentStore(), rulesDirectory: root.appendingPathComponent("rules").path,
                          pluginsDirectory: root.appendingPathComponent("plugins").path, options: options)
    }

    /// 2026-01-01T00:00:00Z in milliseconds, plus `offset`: a duration
    /// (`"90s"`, `"7d"`), several run together (`"7d9h30m"`), or one before
    /// (`"-1m"`). A typo stops the test run rather than quietly meaning midnight.
    public static func time(_ offset: String = "0s") -> Int64 {
        if offset.hasPrefix("-") { return 2 * time() - time(String(offset.dropFirst())) }
        var total: Int64 = 0
        var rest = Substring(offset)
        while !rest.isEmpty {
            guard let unit = rest.firstIndex(where: { $0.isLetter }),
                  let part = DurationText.milliseconds(String(rest[...unit])) else {
                guard let whole = DurationText.milliseconds(String(rest)) else { preconditionFailure("not a time offset: \(offset)") }
                return 1_767_225_600_000 + total + whole
            }
            total += part
            rest = rest[rest.index(after: unit)...]
        }
        return 1_767_225_600_000 + total
    }

    nonisolated(unsafe) private static var counter = 0

    /// A track event.
    public static func track(_ name: String, user: String? = "u1", anonymous: String? = nil,
                             _ properties: [String: JSONValue] = [:], at offset: String = "0s",
                             id: String? = nil, traits: [String: JSONValue] = [:]) -> Event {
        counter += 1
        return Event(messageId: id ?? "m\(counter)-\(UUID().uuidString.prefix(8))", kind: .track, name: name, userId: user,
                     anonymousId: anonymous, properties: properties, traits: traits, timestamp: time(offset))
    }

    /// An identify event.
    public static func identify(_ user: String?, anonymous: String? = nil, traits: [String: JSONValue], at offset: String = "0s") -> Event {
        counter += 1
        return Event(messageId: "i\(counter)-\(UUID().uuidString.prefix(8))", kind: .identify, name: "Identify", userId: user,
                     anonymousId: anonymous, traits: traits, timestamp: time(offset))
    }

    /// An `Order Completed` event.
    public static func order(_ id: String, user: String = "u1", total: Double, at offset: String = "0s",
                             _ extra: [String: JSONValue] = [:]) -> Event {
        var properties: [String: JSONValue] = ["order_id": .string(id), "total": .double(total), "currency": "EUR"]
        properties.merge(extra) { _, new in new }
        return track("Order Completed", user: user, properties, at: offset)
    }
}


extension EngineFixtures {
    /// An engine over the shipped rules and plugins, with an in-memory store.
    public static func shippedEngine() throws -> Engine {
        try Engine(store: try CrescentStore(), rulesDirectory: Fixtures.packageRoot.appendingPathComponent("rules").path,
                   pluginsDirectory: Fixtures.packageRoot.appendingPathComponent("plugins").path)
    }
}

extension EventOutcome {
    /// The result of one rule (`kind:name`), if it ran.
    public func result(_ rule: String) -> RuleResult? { results.last { $0.rule == rule } }
    /// Whether the rule hit.
    public func hit(_ rule: String) -> Bool { result(rule)?.outcome == .hit }
}

extension EngineFixtures {
    /// After a flush: one payload field (`template`, `message`, ...) and the
    /// time of each committed action of a rule, optionally of one kind and customer.
    public static func committed(_ engine: Engine, rule: String, action: String? = nil, customer: String? = nil,
                                 field: String) throws -> [(value: String, at: Int64)] {
        try engine.flush()
        return try engine.store.outbox(rule: rule, customerId: customer).filter { action == nil || $0.action == action }.map {
            ((try JSONValue.parse(Data($0.payload.utf8)))[field]?.stringValue ?? "?", $0.createdAt)
        }
    }
}
