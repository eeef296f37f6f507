/// The events only the shop's servers may send, with a server write key.
///
/// A browser write key is public (it sits in every page that loads the
/// SDK), so anyone can send with it, for any user id. These events change
/// what rules and reports trust: orders and totals (a made-up `Order
/// Completed` would lift its sender into the gold tier, with its coupon, or
/// drown a victim's real orders), stock, prices, ad spend and fraud labels.
/// From a browser key they are refused, each alone, naming the event.
enum ServerOnlyEvents {
    static let names: Set<String> = [
        "Order Completed", "Order Updated", "Order Cancelled", "Order Refunded",
        "Inventory Updated", "Competitor Price Observed", "Competitor Product Launched", "Ad Spend",
        "Fraud Confirmed", "Fraud Cleared",
    ]

    /// Why a browser key may not send `event`; nil when it may.
    static func refusal(_ event: String) -> ServerOnlyEvent? {
        names.contains(event) ? ServerOnlyEvent(event: event) : nil
    }
}

/// A server-only event sent with a browser write key.
struct ServerOnlyEvent: Error, CustomStringConvertible {
    var event: String
    var description: String {
        "field 'event': '\(event)' may only come from the shop's servers (a browser write key is public): send it with a server write key"
    }
}
