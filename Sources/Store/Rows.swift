import GRDB

// Plain rows the engine hands to the store. Times are milliseconds since the
// Unix epoch; JSON columns are already-encoded JSON text.

/// One event of the append-only log.
public struct EventRow: Sendable, Equatable {
    public var messageId: String
    public var customerId: String?
    public var type: String
    public var name: String
    public var timestamp: Int64
    public var payload: String
    /// The rule set that evaluated it, and every rule's result (compact form).
    public var rulesetVersion: String?
    public var results: String?

    public init(messageId: String, customerId: String?, type: String, name: String, timestamp: Int64, payload: String,
                rulesetVersion: String? = nil, results: String? = nil) {
        self.rulesetVersion = rulesetVersion
        self.results = results
        self.messageId = messageId
        self.customerId = customerId
        self.type = type
        self.name = name
        self.timestamp = timestamp
        self.payload = payload
    }
}

/// A customer's durable state: identity, traits and computed aggregates.
public struct CustomerRow: Sendable, Equatable, Codable, FetchableRecord {
    public var id: String
    public var userId: String?
    public var anonymousId: String?
    public var traits: String
    public var consent: String
    public var firstSeen: Int64?
    public var lastSeen: Int64?
    public var ordersCount: Int
    public var totalSpent: Double
    public var lastOrderAt: Int64?
    public var firstTouch: String?
    public var lastTouch: String?
    public var mergedInto: String?
    /// Until when (engine time) the customer's segment answers hold, as of
    /// the last write, under the rule set `segmentsVersion`: a nightly sweep
    /// leaves a customer that is only in the store alone until then. Nil
    /// when something they read changed since they last ran.
    public var segmentsHoldUntil: Int64?
    public var segmentsVersion: String?

    public init(id: String) {
        self.id = id
        self.traits = "{}"
        self.consent = "{}"
        self.ordersCount = 0
        self.totalSpent = 0
    }

    enum CodingKeys: String, CodingKey {
        case id, traits, consent
        case userId = "user_id", anonymousId = "anonymous_id", firstSeen = "first_seen", lastSeen = "last_seen"
        case ordersCount = "orders_count", totalSpent = "total_spent", lastOrderAt = "last_order_at"
        case firstTouch = "first_touch", lastTouch = "last_touch", mergedInto = "merged_into"
        case segmentsHoldUntil = "segments_hold_until", segmentsVersion = "segments_version"
    }

    /// Reads the columns by name, without Codable (on the hot path of warming customers).
    public init(row: Row) {
        id = row["id"]
        userId = row["user_id"]
        anonymousId = row["anonymous_id"]
        traits = row["traits"]
        consent = row["consent"]
        firstSeen = row["first_seen"]
        lastSeen = row["last_seen"]
        ordersCount = row["orders_count"]
        totalSpent = row["total_spent"]
        lastOrderAt = row["last_order_at"]
        firstTouch = row["first_touch"]
        lastTouch = row["last_touch"]
        mergedInto = row["merged_into"]
        segmentsHoldUntil = row["segments_hold_until"]
        segmentsVersion = row["segments_version"]
    }
}

/// An order and its current status.
public struct OrderRow: Sendable, Equatable {
    public var id: String
    public var customerId: String?
    public var status: String
    public var total: Double
    public var currency: String?
    public var createdAt: Int64
    public var updatedAt: Int64
    public var isFirst: Bool
    public var payment: String?
    public var shipping: String?
    public var campaign: String?
    public var consultant: String?
    public var region: String?
    public var refundReason: String?
    public var refundedAt: Int64?
    public var items: [OrderItemRow]

    public init(id: String, customerId: String?, status: String, total: Double, createdAt: Int64) {
        self.id = id
        self.customerId = customerId
        self.status = status
        self.total = total
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.isFirst = false
        self.items = []
    }
}

/// One line of an order.
public struct OrderItemRow: Sendable, Equatable {
    public var sku: String?
    public var name: String?
    public var category: String?
    public var price: Double?
    public var quantity: Int

    public init(sku: String?, name: String?, category: String?, price: Double?, quantity: Int) {
        self.sku = sku
        self.name = name
        self.category = category
        self.price = price
        self.quantity = quantity
    }
}

/// A product learned from event properties.
public struct ProductRow: Sendable, Equatable {
    public var sku: String
    public var name: String?
    public var category: String?
    public var brand: String?
    public var price: Double?
    public var updatedAt: Int64

    public init(sku: String, name: String?, category: String?, brand: String?, price: Double?, updatedAt: Int64) {
        self.sku = sku
        self.name = name
        self.category = category
        self.brand = brand
        self.price = price
        self.updatedAt = updatedAt
    }

    /// This row over an earlier one of the same product: each field this
    /// row leaves out keeps the earlier value (a `Product Added` without a
    /// name does not erase the name a `Product Viewed` gave just before).
    public func overlaid(on earlier: ProductRow) -> ProductRow {
        ProductRow(sku: sku, name: name ?? earlier.name, category: category ?? earlier.category, brand: brand ?? earlier.brand,
                   price: price ?? earlier.price, updatedAt: max(updatedAt, earlier.updatedAt))
    }
}

/// A segment entry or exit.
public struct SegmentChangeRow: Sendable, Equatable {
    public var segment: String
    public var customerId: String
    public var entered: Bool
    public var at: Int64
    public var messageId: String?

    public init(segment: String, customerId: String, entered: Bool, at: Int64, messageId: String?) {
        self.segment = segment
        self.customerId = customerId
        self.entered = entered
        self.at = at
        self.messageId = messageId
    }
}

/// An action waiting in the outbox for delivery.
public struct OutboxRow: Sendable, Equatable {
    public var idempotencyKey: String
    public var messageId: String
    public var customerId: String?
    public var rule: String
    public var action: String
    public var channel: String?
    public var payload: String
    public var createdAt: Int64
    /// The consent the action was made under (`marketing`), which must still
    /// be given when it is delivered; nil for one that needs none (an alert).
    public var consentPurpose: String?

    public init(idempotencyKey: String, messageId: String, customerId: String?, rule: String, action: String,
                channel: String?, payload: String, createdAt: Int64, consentPurpose: String? = nil) {
        self.consentPurpose = consentPurpose
        self.idempotencyKey = idempotencyKey
        self.messageId = messageId
        self.customerId = customerId
        self.rule = rule
        self.action = action
        self.channel = channel
        self.payload = payload
        self.createdAt = createdAt
    }
}

/// A fraud decision with every rule's contribution.
public struct DecisionRow: Sendable, Equatable {
    public var messageId: String
    public var customerId: String?
    public var orderId: String?
    public var decision: String
    public var score: Double
    public var reasons: String
    public var rules: String
    public var rulesetVersion: String?
    public var at: Int64

    public init(messageId: String, customerId: String?, orderId: String?, decision: String, score: Double,
                reasons: String, rules: String, rulesetVersion: String?, at: Int64) {
        self.messageId = messageId
        self.customerId = customerId
        self.orderId = orderId
        self.decision = decision
        self.score = score
        self.reasons = reasons
        self.rules = rules
        self.rulesetVersion = rulesetVersion
        self.at = at
    }
}

/// What every rule did with one event.
public struct EvaluationRow: Sendable, Equatable {
    public var messageId: String
    public var customerId: String?
    public var rulesetVersion: String?
    public var at: Int64
    public var results: String

    public init(messageId: String, customerId: String?, rulesetVersion: String?, at: Int64, results: String) {
        self.messageId = messageId
        self.customerId = customerId
        self.rulesetVersion = rulesetVersion
        self.at = at
        self.results = results
    }
}
