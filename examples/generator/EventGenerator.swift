import Foundation

/// A deterministic generator of realistic shop traffic as Segment messages.
///
/// The same seed and size always give the same file. Besides ordinary
/// sessions (campaign landings, searches, views, carts, wishlists, orders,
/// refunds, reviews in English and Spanish, an inventory feed, two
/// competitors' prices and a weekly competitor launch; Zipf product popularity; several acquisition channels; consultants
/// and regions on orders, consultations before purchases and ratings of the
/// consultant after them; weekly markdowns of 25% on every fourth product,
/// every other week, so wishlisted products get cheaper) it injects the fraud patterns the shipped rules
/// catch, and a few client retries that repeat a messageId. ``Manifest``
/// says exactly what was injected, so tests can check exact counts.
public struct EventGenerator {
    public var seed: UInt64
    public var events: Int
    public var start: Int64 = 1_767_225_600_000 // 2026-01-01T00:00:00Z
    public var days = 60

    public init(seed: UInt64 = 42, events: Int = 10_000) {
        self.seed = seed
        self.events = events
    }

    /// What was injected.
    public struct Manifest: Codable, Sendable, Equatable {
        public var lines = 0
        public var uniqueMessages = 0
        public var retries = 0
        public var cardTestingOrders: [String] = []
        public var manyCardsOrders: [String] = []
        public var countryMismatchOrders: [String] = []
        public var disposableEmailOrders: [String] = []
        public var fraudRefunds: [String] = []
        /// `Competitor Product Launched` events, and how many of them are in a category the shop sells.
        public var competitorLaunches = 0
        public var launchesInOurCategories = 0
        /// Orders whose `card_number` property holds a card number a checkout leaked (the engine masks them).
        public var leakedCardNumbers = 0
        /// `Ad Spend` events' amounts, by source.
        public var adSpend: [String: Double] = [:]
    }

    static let categories = ["skincare", "makeup", "fragrance", "haircare", "bodycare"]
    static let channels: [(source: String, medium: String)] = [
        ("google", "cpc"), ("facebook", "paid_social"), ("instagram", "social"), ("newsletter", "email"),
        ("google", "organic"), ("direct", "none"),
    ]
    /// What the paid channels cost a week (the organic and direct ones cost nothing).
    static let weeklySpend: [(channel: (source: String, medium: String), amount: Double)] = [
        (("google", "cpc"), 180), (("facebook", "paid_social"), 140), (("instagram", "social"), 90), (("newsletter", "email"), 25),
    ]
    static let regions = ["north", "south", "east", "west"]
    /// The card networks' published test numbers, as a leaking checkout would send them.
    static let testCardNumbers = ["4111 1111 1111 1111", "5555555555554444", "3782-822463-10005"]
    static let competitors = ["rival.example", "glow.example"]
    static let launchNames = ["skincare": ["Velvet Glow Serum", "Vitamin C Brightening Drops"],
                              "makeup": ["Silk Matte Lip Ink", "Lash Lift Mascara"], "fragrance": ["Amber Night Eau de Parfum"],
                              "haircare": ["Keratin Repair Mask"], "bodycare": ["Shea Cloud Body Butter"], "menswear": ["Beard Balm Classic"]]
    static let countries = ["ES", "FR", "DE", "IT", "PT"]
    static let reviewsEN = ["Love it, my skin feels amazing", "Terrible, broke me out, very disappointed",
                            "Good value", "Smells wonderful", "Awful packaging and it arrived late"]
    static let reviewsES = ["Me encanta, muy buena calidad", "Horrible, no lo recomiendo", "Buena relación calidad precio",
                            "Huele de maravilla", "Llegó roto y tarde, muy mal"]

    /// Writes the NDJSON file; returns the manifest.
    public func write(to url: URL) throws -> Manifest {
        let (text, manifest) = generate()
        try Data(text.utf8).write(to: url)
        return manifest
    }

    /// The NDJSON text, one message a line in time order, and its manifest.
    public func generate() -> (text: String, manifest: Manifest) {
        var output: [(at: Int64, line: String)] = []
        var manifest = Manifest()
        var rng = SplitMix64(seed: seed)
        let products = (0..<200).map { i -> (sku: String, category: String, price: Double) in
            let category = Self.categories[i % Self.categories.count]
            let price = Double(5 + (i * 37) % 120) + 0.99
            return (String(format: "SKU-%04d", i), category, price)
        }
        let horizon = Int64(days) * 86_400_000
        var messageCounter = 0
        func emit(_ at: Int64, _ message: [String: Any]) {
            messageCounter += 1
            var m = message
            m["messageId"] = m["messageId"] ?? String(format: "msg-%08d", messageCounter)
            m["timestamp"] = Self.iso(at)
            let data = try! JSONSerialization.data(withJSONObject: m, options: [.sortedKeys])
            output.append((at, String(decoding: data, as: UTF8.self)))
        }
        // Markdowns: every fourth product is 25% off every other week, the weeks staggered
        // by product (no randomness drawn, so the traffic is the same but for these prices).
        func priced(_ product: (sku: String, category: String, price: Double), at: Int64) -> (sku: String, category: String, price: Double) {
            guard let index = Int(product.sku.dropFirst(4)), index % 4 == 0,
                  ((at - start) / (7 * 86_400_000) + Int64(index / 4)) % 2 == 1 else { return product }
            return (product.sku, product.category, (product.price * 75).rounded() / 100)
        }
        func zipfProduct() -> (sku: String, category: String, price: Double) {
            // Popularity ~ 1/rank: sample rank by inverse transform on harmonic weights.
            let u = rng.unit()
            let rank = Int(pow(Double(products.count), u)) - 1
            return products[min(products.count - 1, max(0, rank))]
        }

        // Inventory feed and competitor prices: daily.
        for day in 0..<days {
            let at = start + Int64(day) * 86_400_000 + 6 * 3_600_000
            for (index, listed) in products.enumerated() where index % 10 == day % 10 {
                let product = priced(listed, at: at)
                let region = Self.regions[(index + day) % Self.regions.count]
                emit(at, ["type": "track", "event": "Inventory Updated", "anonymousId": "inventory-feed",
                          "properties": ["sku": product.sku, "name": "Product \(product.sku)", "category": product.category,
                                         "region": region, "quantity": Int(rng.next() % 40)]])
                if index % 20 == 0 {
                    let competitor = (product.price * (0.8 + rng.unit() * 0.3) * 100).rounded() / 100
                    emit(at + 1000, ["type": "track", "event": "Competitor Price Observed", "anonymousId": "price-watch",
                                     "properties": ["sku": product.sku, "competitor": "rival.example", "price": competitor,
                                                    "our_price": product.price]])
                }
                if index % 20 == 0 || index % 20 == 13 { // a second competitor, priced without drawing randomness
                    let factor = 0.82 + 0.04 * Double((index / 20 + day) % 6)
                    emit(at + 2000, ["type": "track", "event": "Competitor Price Observed", "anonymousId": "price-watch",
                                     "properties": ["sku": product.sku, "competitor": "glow.example",
                                                    "price": (product.price * factor * 100).rounded() / 100, "our_price": product.price]])
                }
            }
            // Marketing records each paid channel's spend weekly, for the acquisition report's cost per acquisition.
            if day % 7 == 0 {
                let week = day / 7
                for (channel, weekly) in Self.weeklySpend {
                    let amount = (weekly * (1 + 0.1 * Double(week % 3)) * 100).rounded() / 100
                    emit(at + 4000, ["type": "track", "event": "Ad Spend", "anonymousId": "marketing",
                                     "properties": ["source": channel.source, "medium": channel.medium,
                                                    "campaign": "\(channel.source)-winter", "amount": amount]])
                    manifest.adSpend[channel.source, default: 0] += amount
                }
            }
            // A competitor launches a product every week; every fourth launch is menswear, which the shop does not sell.
            if day % 7 == 3 {
                let week = day / 7
                let category = week % 4 == 3 ? "menswear" : Self.categories[week % Self.categories.count]
                let names = Self.launchNames[category]!
                let name = names[week % names.count]
                emit(at + 3000, ["type": "track", "event": "Competitor Product Launched", "anonymousId": "price-watch",
                                 "properties": ["competitor": Self.competitors[week % 2], "name": name, "category": category,
                                                "price": Double(12 + (week * 7) % 40) + 0.99]])
                manifest.competitorLaunches += 1
                if category != "menswear" { manifest.launchesInOurCategories += 1 }
            }
        }

        // Ordinary customers.
        var customer = 0
        var fraudTurn = 0
        while output.count < events {
            customer += 1
            let userId = String(format: "user-%06d", customer)
            let anonymousId = String(format: "anon-%06d", customer)
            let channel = Self.channels[Int(rng.next() % UInt64(Self.channels.count))]
            let country = Self.countries[Int(rng.next() % UInt64(Self.countries.count))]
            let consent = rng.unit() < 0.7
            let email = "\(userId)@example.com"
            var at = start + Int64(rng.unit() * Double(horizon) * 0.8)
            let sessions = 1 + Int(rng.next() % 4)
            var identified = false
            var orders = 0
            let card = String(format: "card-%06d", customer)
            for session in 0..<sessions {
                let campaign: [String: Any] = ["source": channel.source, "medium": channel.medium, "name": "\(channel.source)-winter"]
                // Direct visits carry no campaign: the report counts them as `(direct)`.
                var context: [String: Any] = session == 0 ? ["campaign": campaign, "ip": "10.0.\(customer % 250).1"] : [:]
                if channel.source == "direct" { context["campaign"] = nil }
                let ids: [String: Any] = identified ? ["userId": userId, "anonymousId": anonymousId] : ["anonymousId": anonymousId]
                emit(at, ids.merging(["type": "page", "name": "Home", "context": context]) { a, _ in a })
                at += 30_000
                if rng.unit() < 0.5 {
                    emit(at, ids.merging(["type": "track", "event": "Products Searched",
                                          "properties": ["query": Self.categories[Int(rng.next() % 5)]]]) { a, _ in a })
                    at += 20_000
                }
                var cart: [(sku: String, category: String, price: Double)] = []
                let cartId = "cart-\(customer)-\(session)"
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let product = priced(zipfProduct(), at: at)
                    emit(at, ids.merging(["type": "track", "event": "Product Viewed",
                                          "properties": ["product_id": product.sku, "sku": product.sku, "category": product.category,
                                                         "price": product.price, "name": "Product \(product.sku)"]]) { a, _ in a })
                    at += 45_000
                    if rng.unit() < 0.35 {
                        cart.append(product)
                        emit(at, ids.merging(["type": "track", "event": "Product Added",
                                              "properties": ["cart_id": cartId, "product_id": product.sku, "sku": product.sku,
                                                             "price": product.price, "quantity": 1, "category": product.category]]) { a, _ in a })
                        at += 15_000
                    } else if rng.unit() < 0.1 {
                        emit(at, ids.merging(["type": "track", "event": "Product Added to Wishlist",
                                              "properties": ["product_id": product.sku, "sku": product.sku, "price": product.price]]) { a, _ in a })
                    }
                }
                let buys = !cart.isEmpty && rng.unit() < 0.6
                // A third of the customers talk to their consultant first: before each purchase,
                // and in their first session even when they do not buy (no randomness drawn).
                let consultant = String(format: "c%02d", customer % 20)
                if customer % 3 == 0 && (buys || session == 0) {
                    emit(at, ids.merging(["type": "track", "event": "Consultation Started",
                                          "properties": ["consultant": consultant, "region": Self.regions[customer % 4]]]) { a, _ in a })
                    at += 60_000
                }
                if buys {
                    if !identified {
                        identified = true
                        emit(at, ["type": "identify", "userId": userId, "anonymousId": anonymousId,
                                  "traits": ["email": email, "country": country, "marketing_consent": consent,
                                             "timezone": "Europe/Madrid"]])
                        at += 5_000
                    }
                    orders += 1
                    let orderId = "order-\(customer)-\(orders)"
                    let total = cart.reduce(0) { $0 + $1.price }
                    var properties: [String: Any] = [
                        "order_id": orderId, "cart_id": cartId, "total": (total * 100).rounded() / 100, "currency": "EUR",
                        "products": cart.map { ["sku": $0.sku, "product_id": $0.sku, "price": $0.price, "quantity": 1,
                                                "category": $0.category] },
                        "payment_method": "card", "card_fingerprint": card, "billing_country": country,
                        "shipping_country": country, "ip_country": country,
                        "consultant": consultant, "region": Self.regions[customer % 4],
                    ]
                    // A misconfigured checkout plugin leaks the card number on some first orders (no randomness drawn).
                    if customer % 97 == 0 && orders == 1 {
                        properties["card_number"] = Self.testCardNumbers[(customer / 97) % Self.testCardNumbers.count]
                        manifest.leakedCardNumbers += 1
                    }
                    emit(at, ["type": "track", "event": "Order Completed", "userId": userId, "anonymousId": anonymousId,
                              "context": ["ip": "10.0.\(customer % 250).1"], "properties": properties])
                    if (customer / 20) % 4 == 0 { // a quarter rate their consultant two hours after buying
                        emit(at + 7_200_000, ["type": "track", "event": "Consultant Rated", "userId": userId,
                                              "properties": ["consultant": consultant, "rating": [5, 4, 5, 3, 2, 4, 5][(customer / 20) % 7]]])
                    }
                    at += 86_400_000 * Int64(1 + rng.next() % 5)
                    if rng.unit() < 0.3 {
                        let spanish = rng.unit() < 0.4
                        let texts = spanish ? Self.reviewsES : Self.reviewsEN
                        let index = Int(rng.next() % UInt64(texts.count))
                        emit(at, ["type": "track", "event": "Product Reviewed", "userId": userId,
                                  "properties": ["product_id": cart[0].sku, "rating": [5, 1, 4, 5, 1][index],
                                                 "review_body": texts[index], "language": spanish ? "es" : "en"]])
                    }
                    if rng.unit() < 0.03 {
                        emit(at + 3_600_000, ["type": "track", "event": "Order Refunded", "userId": userId,
                                              "properties": ["order_id": orderId, "reason": "damaged"]])
                    }
                }
                at += 3 * 86_400_000 + Int64(rng.next() % 86_400_000)
            }

            // Every 40th customer, one fraud pattern, in turn.
            if customer % 40 == 0 {
                fraudTurn += 1
                let fraudAt = start + Int64(rng.unit() * Double(horizon) * 0.9)
                let fraudUser = String(format: "fraud-%04d", fraudTurn)
                func fraudOrder(_ user: String, _ n: Int, _ at: Int64, total: Double, card: String, email: String,
                                billing: String = "ES", shipping: String = "ES", ip: String = "ES",
                                clientIP: String = "192.0.2.\(fraudTurn % 250 + 1)") -> String {
                    let orderId = "order-\(user)-\(n)"
                    emit(at, ["type": "identify", "userId": user, "traits": ["email": email]])
                    emit(at + 1000, ["type": "track", "event": "Order Completed", "userId": user, "context": ["ip": clientIP],
                                     "properties": ["order_id": orderId, "total": total, "currency": "EUR",
                                                    "products": [["sku": "SKU-0001", "price": total, "quantity": 1]],
                                                    "card_fingerprint": card, "billing_country": billing,
                                                    "shipping_country": shipping, "ip_country": ip]])
                    return orderId
                }
                switch fraudTurn % 4 {
                case 0: // card testing: tiny orders on one card from new accounts within minutes, all from one IP
                    for i in 0..<5 {
                        let id = fraudOrder("\(fraudUser)-t\(i)", 1, fraudAt + Int64(i) * 60_000, total: 1.0,
                                            card: "stolen-\(fraudTurn)", email: "t\(i)-\(fraudTurn)@example.com")
                        if i >= 2 { manifest.cardTestingOrders.append(id) }
                    }
                case 1: // many cards on one account
                    for i in 0..<4 {
                        let id = fraudOrder(fraudUser, i + 1, fraudAt + Int64(i) * 600_000, total: 60,
                                            card: "cards-\(fraudTurn)-\(i)", email: "\(fraudUser)@example.com")
                        if i >= 2 { manifest.manyCardsOrders.append(id) }
                    }
                case 2: // billing, shipping and IP in three countries, high value
                    manifest.countryMismatchOrders.append(fraudOrder(fraudUser, 1, fraudAt, total: 640, card: "geo-\(fraudTurn)",
                                                                     email: "\(fraudUser)@example.com", billing: "ES",
                                                                     shipping: "NG", ip: "RU"))
                default: // disposable e-mail domain and a high first order
                    let id = fraudOrder(fraudUser, 1, fraudAt, total: 1250, card: "disp-\(fraudTurn)",
                                        email: "\(fraudUser)@mailinator.com")
                    manifest.disposableEmailOrders.append(id)
                    emit(fraudAt + 5 * 86_400_000, ["type": "track", "event": "Order Refunded", "userId": fraudUser,
                                                    "properties": ["order_id": id, "reason": "chargeback_fraud"]])
                    manifest.fraudRefunds.append(id)
                }
            }
        }

        // Client retries: the same message sent again a few seconds later.
        let originals = output.count
        var index = 7
        while index < originals {
            let retried = output[index]
            output.append((retried.at + 2_000, retried.line))
            manifest.retries += 1
            index += 211
        }
        manifest.uniqueMessages = originals
        manifest.lines = output.count
        output.sort { $0.at < $1.at }
        var text = ""
        text.reserveCapacity(output.count * 300)
        for item in output {
            text += item.line
            text += "\n"
        }
        return (text, manifest)
    }

    static func iso(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        let days = Int(seconds / 86_400)
        let secondOfDay = Int(seconds % 86_400)
        // civil from days (Howard Hinnant)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, secondOfDay / 3600, secondOfDay / 60 % 60,
                      secondOfDay % 60, Int(milliseconds % 1000))
    }
}

/// SplitMix64: a tiny, well-known deterministic generator (same output on every platform).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
