import Foundation
import Store

/// How each event changes durable state: identity, traits, consent,
/// acquisition, orders, products, inventory, carts, wishlists, reviews.
extension EngineState {
    /// A product quantity from an event, as a whole number: 1 when it is
    /// missing, or not a number a shop could mean (not finite, past a billion).
    static func quantity(_ value: Double?) -> Int {
        guard let value, value.isFinite, abs(value) <= 1e9 else { return 1 }
        return Int(value)
    }

    /// Applies a route's identity work: records the link, and merges the
    /// alias's previous owner (with any history) into the customer.
    /// `adopted` is that owner's state when another shard handed it over.
    func apply(_ route: Route, adopted: CustomerState?) throws {
        guard let alias = route.link else { return }
        batch.identities.append((alias, route.customerId))
        guard let owner = route.mergeFrom else { return }
        let from: CustomerState
        if let adopted {
            from = adopted
        } else {
            from = try customer(owner)
        }
        guard from.row.firstSeen != nil else { return } // no history to merge
        customers[owner] = from
        let into = try customer(route.customerId)
        merge(from, into: into)
        batch.merges.append((owner, route.customerId))
        if adopted == nil && from.bornInBatch == batchNumber { batch.mergedInBatch[owner] = route.customerId }
    }

    private func merge(_ from: CustomerState, into: CustomerState) {
        invalidateSegments(of: into)
        into.row.ordersCount += from.row.ordersCount
        into.row.totalSpent += from.row.totalSpent
        into.row.firstSeen = [into.row.firstSeen, from.row.firstSeen].compactMap { $0 }.min()
        into.row.lastSeen = [into.row.lastSeen, from.row.lastSeen].compactMap { $0 }.max()
        into.row.lastOrderAt = [into.row.lastOrderAt, from.row.lastOrderAt].compactMap { $0 }.max()
        into.row.firstTouch = into.row.firstTouch ?? from.row.firstTouch
        into.row.lastTouch = into.row.lastTouch ?? from.row.lastTouch
        into.row.anonymousId = into.row.anonymousId ?? from.row.anonymousId ?? from.row.id
        into.traits = from.traits.merging(into.traits) { _, user in user }
        // Two identities answering one purpose differently: the no wins, so a withdrawal made on either is never lost
        // (an answer given with the merging identify, or on a later event, applies after this).
        into.consent = from.consent.merging(into.consent) { anonymous, user in anonymous && user }
        into.orders = (from.orders + into.orders).sorted { $0.at < $1.at }
        into.orderTotals.merge(from.orderTotals) { a, _ in a }
        for (name, times) in from.eventTimes { into.eventTimes[name, default: []] += times }
        into.viewed = Array((into.viewed + from.viewed).prefix(50))
        into.carts.merge(from.carts) { a, _ in a }
        into.wishlist.merge(from.wishlist) { a, _ in a }
        into.blocks = (into.blocks + from.blocks).sorted { $0.at < $1.at }
        // Promotion limits follow the customer: the anonymous history's fires count for the user.
        for (name, moved) in fires.removeValue(forKey: from.row.id) ?? [:] {
            let (promotion, key) = Self.promotionAndKey(name)
            let existing = promotionFires(promotion, into.row.id, key: key)
            fires[into.row.id, default: [:]][name] = (existing + moved).sorted()
        }
        for instance in journeys.reassign(from: from.row.id, to: into.row.id, at: now) {
            batch.journeyInstances[instance.id] = instance.row
        }
        from.row.mergedInto = into.row.id
        from.row.ordersCount = 0
        from.row.totalSpent = 0
        from.segments = []
        invalidateSegments(of: from)
        dirty.insert(from.row.id)
    }

    /// The events that carry an order for rules (`e.order`), as ``apply(_:to:)``
    /// finds one: the order events, and a fraud review naming an `order_id`.
    static let orderEventNames: Set<String> = [
        "Order Completed", "Order Updated", "Order Cancelled", "Order Refunded", "Fraud Confirmed", "Fraud Cleared",
    ]

    /// Applies the event's effects; returns the order it concerns, if any,
    /// and whether the event is an `Order Completed` for an order already
    /// completed (a checkout retried under a new messageId, or one order sent
    /// from both the browser and the server): its totals are not added again.
    func apply(_ event: Event, to customer: CustomerState) throws -> (order: OrderRow?, repeatsCompletedOrder: Bool) {
        let time = event.timestamp
        var row = customer.row
        var changed: CustomerInputs = [.seen, .events, .event(named: event.name)]
        if row.firstSeen == nil { row.firstSeen = time }
        row.lastSeen = max(row.lastSeen ?? time, time)
        if let userId = event.userId, userId != row.userId {
            row.userId = userId
            changed.insert(.identity)
        }
        if row.anonymousId == nil, let anonymous = event.anonymousId {
            row.anonymousId = anonymous
            changed.insert(.identity)
        }
        customer.row = row

        if !event.traits.isEmpty {
            applyTraits(event.traits, to: customer)
            changed.formUnion([.traits, .consent])
        }
        if applyConsentContext(event, to: customer) { changed.insert(.consent) }
        if applyAcquisition(event, to: customer) { changed.insert(.acquisition) }
        customer.record(event: event.name, at: time)
        switch event.name {
        case "Order Completed", "Order Updated", "Order Cancelled", "Order Refunded": changed.formUnion([.orders, .carts])
        case "Product Viewed": changed.insert(.viewed)
        case "Product Added", "Product Removed": changed.insert(.carts)
        case "Product Added to Wishlist": changed.insert(.wishlist)
        default: break
        }
        customer.changedInputs.formUnion(changed)
        for product in products(in: event) {
            // Several events of one batch may describe a product, each with some of its fields.
            batch.products[product.sku] = batch.products[product.sku].map(product.overlaid(on:)) ?? product
            shared.catalog.learn(product)
        }

        var order: OrderRow?
        var repeatsCompletedOrder = false
        switch event.name {
        case "Order Completed", "Order Updated", "Order Cancelled", "Order Refunded":
            (order, repeatsCompletedOrder) = try applyOrder(event, to: customer)
        case "Product Viewed":
            if let sku = event.property("product_id") ?? event.property("sku") {
                shared.items.recordView(sku, previous: customer.viewed)
                shared.market.recordView(sku, at: event.timestamp)
                customer.viewed.removeAll { $0 == sku }
                customer.viewed.insert(sku, at: 0)
                if customer.viewed.count > 50 { customer.viewed.removeLast() }
            }
        case "Product Added", "Product Removed":
            let cartId = event.property("cart_id") ?? "default"
            let price = event.number("price").flatMap { $0.isFinite ? $0 : nil } ?? 0
            let amount = price * Double(Self.quantity(event.number("quantity")))
            let sign: Double = event.name == "Product Added" ? 1 : -1
            var cart = customer.carts[cartId] ?? (0, 0)
            cart.value = max(0, cart.value + sign * amount)
            cart.items = max(0, cart.items + Int(sign) * Self.quantity(event.number("quantity")))
            customer.carts[cartId] = cart
            batch.carts[cartId] = (customer.row.id, cart.value, cart.items, time)
        case "Product Added to Wishlist":
            if let sku = event.property("product_id") ?? event.property("sku") {
                customer.wishlist[sku] = event.number("price") ?? 0
                batch.wishlist.append((customer.row.id, sku, event.number("price"), time))
            }
        case "Product Reviewed":
            batch.reviews.append((event.messageId, customer.row.id, event.property("product_id") ?? event.property("sku"),
                                  event.number("rating"), event.property("review_body") ?? event.property("text"), time))
        case "Fraud Confirmed", "Fraud Cleared":
            // The reviewed order, as rules read it (`e.order`: its card, its items); unchanged.
            if let id = event.property("order_id") {
                order = try orders[id] ?? (freshStore ? nil : store.order(id: id))
                // Found legitimate: its block no longer holds promotions back.
                if event.name == "Fraud Cleared" { customer.blocks.removeAll { $0.order == id } }
            }
        case "Unsubscribed", "Email Marked as Spam":
            // The e-mail provider's word that the customer wants no more: marketing consent is withdrawn.
            customer.consent["marketing"] = false
            customer.changedInputs.insert(.consent)
        case "Competitor Price Observed":
            if let sku = event.property("sku") ?? event.property("product_id"), let price = event.number("price"),
               shared.market.observe(sku: sku, competitor: event.property("competitor") ?? "unknown", price: price, at: time) {
                batch.competitorPrices.append((sku, event.property("competitor") ?? "unknown", price, time))
            }
        case "Inventory Updated":
            // A level no warehouse holds (not finite, past a trillion) changes nothing.
            if let sku = event.property("sku") ?? event.property("product_id"), let quantity = event.number("quantity"),
               quantity.isFinite, abs(quantity) <= 1e12 {
                batch.inventory.append((sku, event.property("region") ?? "default", Int(quantity), time))
            }
        default:
            break
        }
        dirty.insert(customer.row.id)
        return (order, repeatsCompletedOrder)
    }

    private func applyTraits(_ traits: [String: JSONValue], to customer: CustomerState) {
        for (key, value) in traits {
            switch key {
            case "consent":
                for (purpose, granted) in value.object ?? [:] { customer.consent[purpose] = granted.boolValue }
            case "marketing_consent":
                customer.consent["marketing"] = value.boolValue
            default:
                customer.traits[key] = value
            }
        }
    }

    /// Applies a consent management platform's answers, as Segment's consent
    /// object carries them on any event (`context.consent.categoryPreferences`,
    /// category → true or false): each category is the purpose of that name,
    /// in lower case. True when it held any.
    private func applyConsentContext(_ event: Event, to customer: CustomerState) -> Bool {
        guard let preferences = event.context["consent"]?["categoryPreferences"]?.object, !preferences.isEmpty else { return false }
        var applied = false
        for (category, answer) in preferences {
            guard case .bool(let granted) = answer else { continue }
            customer.consent[category.lowercased()] = granted
            applied = true
        }
        return applied
    }

    /// Records the event's campaign touch, if it has one (true then).
    @discardableResult
    private func applyAcquisition(_ event: Event, to customer: CustomerState) -> Bool {
        var touch: [String: JSONValue] = [:]
        if let campaign = event.context["campaign"]?.object {
            for (key, value) in campaign { touch[key] = value }
        }
        for key in ["utm_source", "utm_medium", "utm_campaign"] {
            if let value = event.properties[key] { touch[String(key.dropFirst(4))] = value }
        }
        if let referrer = event.context["page"]?["referrer"]?.stringValue ?? event.properties["referrer"]?.stringValue,
           !referrer.isEmpty {
            touch["referrer"] = .string(referrer)
        }
        guard !touch.isEmpty else { return false }
        touch["at"] = .int(event.timestamp)
        let text = JSONValue.object(touch).jsonText
        if customer.row.firstTouch == nil { customer.row.firstTouch = text }
        customer.row.lastTouch = text
        return true
    }

    func products(in event: Event) -> [ProductRow] {
        var found: [ProductRow] = []
        func product(_ p: [String: JSONValue]) {
            guard let sku = p["sku"]?.stringValue ?? p["product_id"]?.stringValue else { return }
            found.append(ProductRow(sku: sku, name: p["name"]?.stringValue, category: p["category"]?.stringValue,
                                    brand: p["brand"]?.stringValue, price: p["price"]?.doubleValue, updatedAt: event.timestamp))
        }
        if event.name.hasPrefix("Product") && event.name != "Products Searched" { product(event.properties) }
        // A stock feed names the products it counts (an ERP's feed does); its price, if any, is not a selling price.
        if event.name == "Inventory Updated", ["name", "category", "brand"].contains(where: { event.properties[$0] != nil }) {
            var stocked = event.properties
            stocked["price"] = nil
            product(stocked)
        }
        if case .array(let items)? = event.properties["products"] {
            for item in items { if let p = item.object { product(p) } }
        }
        return found
    }

    private func applyOrder(_ event: Event, to customer: CustomerState) throws -> (OrderRow, repeatsCompletedOrder: Bool) {
        let orderId = event.property("order_id") ?? event.property("checkout_id") ?? event.messageId
        let time = event.timestamp
        var order = try orders[orderId] ?? (freshStore ? nil : store.order(id: orderId))
            ?? OrderRow(id: orderId, customerId: customer.row.id, status: "pending", total: 0, createdAt: time)
        order.updatedAt = time
        var items: [OrderItemRow] = []
        if case .array(let products)? = event.properties["products"] {
            for case .object(let p) in products {
                items.append(OrderItemRow(sku: p["sku"]?.stringValue ?? p["product_id"]?.stringValue, name: p["name"]?.stringValue,
                                          category: p["category"]?.stringValue, price: p["price"]?.doubleValue,
                                          quantity: Self.quantity(p["quantity"]?.doubleValue)))
            }
        }
        let itemsTotal = items.reduce(0) { $0 + ($1.price ?? 0) * Double($1.quantity) }
        let total = event.number("total") ?? event.number("revenue") ?? (items.isEmpty ? order.total : itemsTotal)
        let counted = customer.orderTotals[orderId]
        let repeatsCompletedOrder = event.name == "Order Completed" && order.status == "completed"

        switch event.name {
        case "Order Completed", "Order Updated":
            if !items.isEmpty { order.items = items }
            order.total = total
            order.currency = event.property("currency") ?? order.currency
            order.payment = subset(event, ["payment_method", "card_fingerprint", "card_bin", "card_country", "card_last4"]) ?? order.payment
            order.shipping = subset(event, ["shipping_country", "billing_country", "shipping_method", "ip_country"]) ?? order.shipping
            order.campaign = event.context["campaign"]?["name"]?.stringValue ?? order.campaign
            order.consultant = event.property("consultant") ?? order.consultant
            order.region = event.property("region") ?? order.region
            if event.name == "Order Completed" || order.status == "completed" {
                if counted == nil {
                    order.isFirst = customer.row.ordersCount == 0
                    customer.row.ordersCount += 1
                    customer.row.totalSpent += total
                    customer.row.lastOrderAt = max(customer.row.lastOrderAt ?? time, time)
                    customer.orders.append((orderId, time, total))
                    shared.recordSale(total, at: time)
                    let bought = order.items.compactMap { item in item.sku.map { (sku: $0, quantity: item.quantity) } }
                    if !bought.isEmpty {
                        shared.items.recordOrder(bought, scopes: ItemGraph.scopes(of: customer))
                        for item in bought { shared.market.recordPurchase(item.sku, units: item.quantity, at: time) }
                        customer.recentPurchases.removeAll { sku in bought.contains { $0.sku == sku } }
                        customer.recentPurchases.insert(contentsOf: bought.map(\.sku), at: 0)
                    }
                    if customer.orders.count > CustomerState.recentLimit { customer.orders.removeFirst() }
                } else if let counted {
                    customer.row.totalSpent += total - counted
                    if let index = customer.orders.firstIndex(where: { $0.id == orderId }) { customer.orders[index].total = total }
                }
                customer.orderTotals[orderId] = total
                order.status = "completed"
                if let cart = event.property("cart_id") {
                    customer.carts[cart] = nil
                    batch.carts[cart] = (customer.row.id, 0, 0, time)
                }
            }
        case "Order Cancelled", "Order Refunded":
            order.status = event.name == "Order Cancelled" ? "cancelled" : "refunded"
            if event.name == "Order Refunded" {
                order.refundReason = event.property("reason") ?? event.property("refund_reason")
                order.refundedAt = time
            }
            if let counted {
                let refunded = event.name == "Order Refunded" ? min(counted, event.number("total") ?? counted) : counted
                customer.row.totalSpent -= refunded
                customer.orderTotals[orderId] = counted - refunded
                if counted - refunded <= 0 {
                    customer.orderTotals[orderId] = nil
                    customer.row.ordersCount = max(0, customer.row.ordersCount - 1)
                    customer.orders.removeAll { $0.id == orderId }
                }
            }
        default:
            break
        }
        order.customerId = customer.row.id
        batch.orders[orderId] = order
        orders[orderId] = order
        return (order, repeatsCompletedOrder)
    }

    private func subset(_ event: Event, _ keys: [String]) -> String? {
        var object: [String: JSONValue] = [:]
        for key in keys { if let value = event.properties[key] { object[key] = value } }
        return object.isEmpty ? nil : JSONValue.object(object).jsonText
    }
}
