import LuaKit

/// The kinds of declaration a rule file can make.
public enum RuleKind: String, Sendable, CaseIterable, Codable {
    case segment, promotion, fraud, fraudPolicy = "fraud_policy", counter, distinctCounter = "distinct_counter", list
    case journey, schedule, messaging, channel
}

/// One declaration read from a rule file: `segment "gold" { ... }`.
/// Immutable and shared: the phases pass declarations around on every
/// event, and a copy of a class costs one reference count, not one per field.
public final class RuleDeclaration: Sendable {
    public let kind: RuleKind
    public let name: String
    public let file: String
    public let line: Int
    /// Field values; functions appear as their handle in ``functions``.
    public let fields: [String: LuaValue]
    /// Field name → handle of the Lua function given for it.
    public let functions: [String: Int64]
    /// The stable id of a rule in results and statistics: `kind:name`.
    public let ruleId: String

    /// `mode = "shadow"`: evaluated and recorded, never acted on.
    public let isShadow: Bool

    /// Event names this declaration listens to (`on`), if it has any.
    public let triggers: [String]?

    /// Whether a promotion is marketing (the default; `marketing = false`
    /// for operational alerts), so the host asks for marketing consent.
    public let isMarketing: Bool

    /// A promotion's `limit` table, read once: `per_customer`, `per_day`,
    /// and `cooldown` as given and in milliseconds.
    public let limits: PromotionLimits

    public init(kind: RuleKind, name: String, file: String, line: Int, fields: [String: LuaValue], functions: [String: Int64]) {
        self.kind = kind
        self.name = name
        self.file = file
        self.line = line
        self.fields = fields
        self.functions = functions
        self.ruleId = "\(kind.rawValue):\(name)"
        self.isShadow = fields["mode"]?.stringValue == "shadow"
        self.isMarketing = fields["marketing"] != .boolean(false)
        var limits = PromotionLimits()
        if case .table(let t)? = fields["limit"] {
            limits.perCustomer = t[.string(LuaString("per_customer"))]?.doubleValue
            limits.perDay = t[.string(LuaString("per_day"))]?.doubleValue
            if let cooldown = t[.string(LuaString("cooldown"))] {
                limits.cooldownText = cooldown.stringValue ?? cooldown.display
                limits.cooldown = ScheduleTiming.milliseconds(cooldown)
            }
        }
        self.limits = limits
        switch fields["on"] {
        case .string(let s)?: triggers = [s.description]
        case .array(let items)?: triggers = items.compactMap(\.stringValue)
        default: triggers = nil
        }
    }

    public func number(_ field: String) -> Double? { fields[field]?.doubleValue }

    /// A field holding one event name or a list of them.
    public func eventNames(_ field: String) -> [String] {
        switch fields[field] {
        case .string(let s)?: [s.description]
        case .array(let items)?: items.compactMap(\.stringValue)
        default: []
        }
    }
    public func string(_ field: String) -> String? { fields[field]?.stringValue }

    /// `limit = { per_customer = 1, per_day = 1000, cooldown = "7d" }` fields.
    public func limit(_ key: String) -> LuaValue? {
        if case .table(let t)? = fields["limit"] { return t[.string(LuaString(key))] }
        return nil
    }
}

/// A problem found while loading or checking rules: `path:line: message`.
extension RuleDeclaration {
    /// How long a counter keeps its hits when it names no `window`.
    public static let defaultCounterWindow: Int64 = 30 * 86_400_000

    /// A counter's `window` in milliseconds (the default when it has none).
    var counterWindow: Int64 {
        fields["window"].flatMap(ScheduleTiming.milliseconds) ?? Self.defaultCounterWindow
    }
}

public struct RuleProblem: Sendable, Equatable, CustomStringConvertible {
    /// An error fails `crescent check` (exit 1) and blocks a reload; a warning only informs.
    public enum Severity: String, Sendable { case error, warning }
    public var severity: Severity
    public var file: String
    public var line: Int?
    public var message: String

    public init(_ severity: Severity, file: String, line: Int?, _ message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return severity == .warning ? "\(location): warning: \(message)" : "\(location): \(message)"
    }
}

/// Event names Crescent knows: the Segment e-commerce spec v2 and e-mail
/// spec, the page and identity events, and the engine's own internal events.
public enum KnownEvents {
    public static let names: Set<String> = [
        "Identify", "Page Viewed", "Screen Viewed", "Group", "Alias",
        "Products Searched", "Product List Viewed", "Product List Filtered", "Promotion Viewed", "Promotion Clicked",
        "Product Clicked", "Product Viewed", "Product Added", "Product Removed", "Cart Viewed", "Checkout Started",
        "Checkout Step Viewed", "Checkout Step Completed", "Payment Info Entered", "Order Updated", "Order Completed",
        "Order Refunded", "Order Cancelled", "Coupon Entered", "Coupon Applied", "Coupon Denied", "Coupon Removed",
        "Product Added to Wishlist", "Product Removed from Wishlist", "Wishlist Product Added to Cart", "Product Shared",
        "Cart Shared", "Product Reviewed", "Inventory Updated", "Competitor Price Observed", "Competitor Product Launched", "Fraud Confirmed",
        "Fraud Cleared",
        "Ad Spend", "Consultant Feedback", "Segment Entered", "Segment Exited",
        // Sent by Segment's SDKs when a consent management platform's answers change.
        "Segment Consent Preference Updated",
        // Segment's e-mail spec (an open arrives through the tracking pixel).
        "Email Delivered", "Email Opened", "Email Link Clicked", "Email Bounced", "Email Marked as Spam", "Unsubscribed",
    ]
}

/// A promotion's limits, as its `limit` table gives them.
public struct PromotionLimits: Sendable {
    /// At most this many fires per customer (and key).
    public var perCustomer: Double?
    /// At most this many fires a day, for all customers.
    public var perDay: Double?
    /// Milliseconds between two fires for the same customer (and key).
    public var cooldown: Int64?
    /// The cooldown as the rule wrote it, for explanations.
    public var cooldownText: String?
}
