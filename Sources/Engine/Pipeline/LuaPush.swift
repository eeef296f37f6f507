import LuaKit

/// Pushing engine values straight onto a Lua stack, without building
/// ``LuaValue`` trees first (the per-event hot path).
extension LuaStack {
    /// Pushes a JSON value; `null` becomes nil, nesting past 32 levels is cut to nil.
    func push(json: JSONValue, depth: Int = 0) {
        guard depth < 32, ensure(4) else {
            pushNil()
            return
        }
        switch json {
        case .null: pushNil()
        case .bool(let b): push(b)
        case .int(let i): push(i)
        case .double(let d): push(d)
        case .string(let s): push(s)
        case .array(let items):
            pushTable(array: items.count)
            for (index, item) in items.enumerated() {
                push(json: item, depth: depth + 1)
                setIndex(index + 1)
            }
        case .object(let fields):
            pushTable(fields: fields.count)
            for (key, value) in fields where value != .null {
                push(json: value, depth: depth + 1)
                setField(name: key)
            }
        }
    }

    func push(object fields: [String: JSONValue]) {
        push(json: .object(fields))
    }
}

extension Engine {
    /// Pushes the event table `e` for the rules: the plain fields; the
    /// structured ones (``pushField(_:of:order:_:)``) are fetched by the
    /// prelude when a rule first reads them.
    static func push(_ event: Event, _ s: LuaStack) {
        s.pushTable(fields: 12)
        s.push(event.name); s.setField("name")
        s.push(event.kind.rawValue); s.setField("type")
        s.push(event.messageId); s.setField("message_id")
        s.push(event.timestamp); s.setField("timestamp")
        s.push(event.isInternal); s.setField("internal")
        if let userId = event.userId { s.push(userId); s.setField("user_id") }
        if let anonymousId = event.anonymousId { s.push(anonymousId); s.setField("anonymous_id") }
    }

    /// Pushes one structured field of `e`: `properties`, `traits`,
    /// `context` (tables) or `order` (nil unless the event concerns an order).
    static func pushField(_ name: String, of event: Event, order: OrderRow?, _ s: LuaStack) {
        switch name {
        case "properties": s.push(object: event.properties)
        case "traits": s.push(object: event.traits)
        case "context": s.push(object: event.context)
        case "order":
            if let order { push(order, s) } else { s.pushNil() }
        default: s.pushNil()
        }
    }

    /// Pushes `e.order`.
    private static func push(_ order: OrderRow, _ s: LuaStack) {
        s.pushTable(fields: 8)
        s.push(order.id); s.setField("id")
        s.push(order.total); s.setField("total")
        s.push(order.status); s.setField("status")
        s.push(order.isFirst); s.setField("is_first")
        if let currency = order.currency { s.push(currency); s.setField("currency") }
        s.pushTable(array: order.items.count)
        for (index, item) in order.items.enumerated() {
            s.pushTable(fields: 5)
            s.push(item.quantity); s.setField("quantity")
            if let sku = item.sku { s.push(sku); s.setField("sku") }
            if let name = item.name { s.push(name); s.setField("name") }
            if let category = item.category { s.push(category); s.setField("category") }
            if let price = item.price { s.push(price); s.setField("price") }
            s.setIndex(index + 1)
        }
        s.setField("items")
        for (key, text) in [("payment", order.payment), ("shipping", order.shipping)] {
            if let text, let json = try? JSONValue.parse(Data(text.utf8)) {
                s.push(json: json)
                s.setField(name: key)
            }
        }
    }
}

import Foundation
import Store

extension CustomerState {
    /// Pushes the customer table `c` for the rules: the plain fields; the
    /// structured ones (``pushField(_:_:now:)``) are fetched by the prelude
    /// when a rule first reads them.
    func push(_ s: LuaStack, now: Int64) {
        s.pushTable(fields: 12)
        s.push(row.id); s.setField("id")
        s.push(row.ordersCount); s.setField("orders_count")
        s.push(row.totalSpent); s.setField("total_spent")
        s.push(row.totalSpent); s.setField("lifetime_value")
        s.push(row.ordersCount > 0 ? row.totalSpent / Double(row.ordersCount) : 0); s.setField("avg_order_value")
        s.push(cartValue); s.setField("cart_total")
        if let userId = row.userId { s.push(userId); s.setField("user_id") }
        if let anonymousId = row.anonymousId { s.push(anonymousId); s.setField("anonymous_id") }
        if let v = row.firstSeen { s.push(v); s.setField("first_seen") }
        if let v = row.lastSeen { s.push(v); s.setField("last_seen") }
        if let v = row.lastOrderAt { s.push(v); s.setField("last_order_at") }
    }

    /// Pushes one structured field of `c` (always a table; an empty one for an unknown name).
    func pushField(_ name: String, _ s: LuaStack, now: Int64) {
        switch name {
        case "traits":
            s.push(object: traits)
        case "consent":
            s.pushTable(fields: consent.count)
            for (purpose, granted) in consent { s.push(granted); s.setField(name: purpose) }
        case "segments":
            s.pushTable(fields: segments.count)
            for name in segments { s.push(true); s.setField(name: name) }
        case "wishlist":
            s.pushTable(fields: wishlist.count)
            for (sku, price) in wishlist { s.push(price); s.setField(name: sku) }
        case "carts":
            s.pushTable(fields: carts.count)
            for (id, cart) in carts {
                s.pushTable(fields: 2)
                s.push(cart.value); s.setField("value")
                s.push(cart.items); s.setField("items")
                s.setField(name: id)
            }
        case "orders":
            s.pushTable(array: orders.count)
            for (index, order) in orders.enumerated() {
                s.pushTable(fields: 3)
                s.push(order.id); s.setField("id")
                s.push(order.at); s.setField("at")
                s.push(order.total); s.setField("total")
                s.setIndex(index + 1)
            }
        case "acquisition":
            s.pushTable(fields: 2)
            if let json = touch(&firstTouchCache, row.firstTouch) { s.push(json: json); s.setField("first_touch") }
            if let json = touch(&lastTouchCache, row.lastTouch) { s.push(json: json); s.setField("last_touch") }
        case "rfm":
            let scores = rfm(now: now)
            s.pushTable(fields: 3)
            s.push(scores.recency); s.setField("recency")
            s.push(scores.frequency); s.setField("frequency")
            s.push(scores.monetary); s.setField("monetary")
        default:
            s.pushTable()
        }
    }

    /// A first- or last-touch JSON text, parsed once per value.
    private func touch(_ cache: inout (text: String, value: JSONValue)?, _ text: String?) -> JSONValue? {
        guard let text else { return nil }
        if let cached = cache, cached.text == text { return cached.value }
        guard let value = try? JSONValue.parse(Data(text.utf8)) else { return nil }
        cache = (text, value)
        return value
    }
}
