import GRDB

/// Writes one ``WriteBatch`` inside an open transaction, with cached statements.
struct BatchWriter {
    let db: Database
    /// ``WriteBatch/mergedInBatch``: customers whose rows here are written under another.
    let moved: [String: String]

    init(_ db: Database, moved: [String: String] = [:]) {
        self.db = db
        self.moved = moved
    }

    /// The customer a row of `id` in this batch belongs to: `id`, or the one
    /// it merged into in this batch (following a chain of such merges).
    func owner(_ id: String?) -> String? {
        guard !moved.isEmpty, var current = id else { return id }
        var hops = 0
        while let next = moved[current], hops < 64 {
            current = next
            hops += 1
        }
        return current
    }

    func write(_ batch: WriteBatch) throws {
        if !batch.events.isEmpty {
            let insert = try RawStatement(db, """
                INSERT OR IGNORE INTO events (message_id, customer_id, type, name, timestamp, payload, ruleset_version, results)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for event in batch.events {
                insert.bind(1, event.messageId); insert.bind(2, owner(event.customerId)); insert.bind(3, event.type)
                insert.bind(4, event.name); insert.bind(5, event.timestamp); insert.bind(6, event.payload)
                insert.bind(7, event.rulesetVersion); insert.bind(8, event.results)
                try insert.step()
            }
        }
        // Upserts, not INSERT OR REPLACE: a replace deletes the row and appends
        // it again under a new rowid, rewriting every index; an upsert changes
        // the row where it is.
        if !batch.customers.isEmpty {
            let upsert = try RawStatement(db, """
                INSERT INTO customers (id, user_id, anonymous_id, traits, consent, first_seen, last_seen, orders_count,
                    total_spent, last_order_at, first_touch, last_touch, merged_into, segments_hold_until, segments_version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id, anonymous_id = excluded.anonymous_id,
                    traits = excluded.traits, consent = excluded.consent, first_seen = excluded.first_seen,
                    last_seen = excluded.last_seen, orders_count = excluded.orders_count, total_spent = excluded.total_spent,
                    last_order_at = excluded.last_order_at, first_touch = excluded.first_touch, last_touch = excluded.last_touch,
                    merged_into = excluded.merged_into, segments_hold_until = excluded.segments_hold_until,
                    segments_version = excluded.segments_version
                """)
            for customer in batch.customers.values {
                upsert.bind(1, customer.id); upsert.bind(2, customer.userId); upsert.bind(3, customer.anonymousId)
                upsert.bind(4, customer.traits); upsert.bind(5, customer.consent); upsert.bind(6, customer.firstSeen)
                upsert.bind(7, customer.lastSeen); upsert.bind(8, customer.ordersCount); upsert.bind(9, customer.totalSpent)
                upsert.bind(10, customer.lastOrderAt); upsert.bind(11, customer.firstTouch); upsert.bind(12, customer.lastTouch)
                upsert.bind(13, customer.mergedInto); upsert.bind(14, customer.segmentsHoldUntil)
                upsert.bind(15, customer.segmentsVersion)
                try upsert.step()
            }
        }
        if !batch.identities.isEmpty {
            let insert = try RawStatement(db, "INSERT OR REPLACE INTO identities (alias, customer_id) VALUES (?, ?)")
            for identity in batch.identities {
                insert.bind(1, identity.alias); insert.bind(2, owner(identity.customerId))
                try insert.step()
            }
        }
        if !batch.orders.isEmpty { try writeOrders(batch.orders.values) }
        if !batch.products.isEmpty {
            let upsert = try RawStatement(db, """
                INSERT INTO products (sku, name, category, brand, price, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(sku) DO UPDATE SET name = COALESCE(excluded.name, name), category = COALESCE(excluded.category, category),
                    brand = COALESCE(excluded.brand, brand), price = COALESCE(excluded.price, price), updated_at = excluded.updated_at
                """)
            for product in batch.products.values {
                upsert.bind(1, product.sku); upsert.bind(2, product.name); upsert.bind(3, product.category)
                upsert.bind(4, product.brand); upsert.bind(5, product.price); upsert.bind(6, product.updatedAt)
                try upsert.step()
            }
        }
        try run("INSERT OR REPLACE INTO inventory (sku, region, quantity, updated_at) VALUES (?, ?, ?, ?)",
                batch.inventory.map { [$0.sku, $0.region, $0.quantity, $0.at] })
        if !batch.carts.isEmpty {
            let upsert = try RawStatement(db, """
                INSERT INTO carts (cart_id, customer_id, value, items, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(cart_id) DO UPDATE SET customer_id = excluded.customer_id, value = excluded.value,
                    items = excluded.items, updated_at = excluded.updated_at
                """)
            for (id, cart) in batch.carts {
                upsert.bind(1, id); upsert.bind(2, owner(cart.customerId)); upsert.bind(3, cart.value)
                upsert.bind(4, cart.items); upsert.bind(5, cart.at)
                try upsert.step()
            }
        }
        // A moved customer's entry does not replace the surviving customer's
        // own for the same product (as in memory, and as a stored merge does).
        if !batch.wishlist.isEmpty {
            let replace = try RawStatement(db, "INSERT OR REPLACE INTO wishlist (customer_id, sku, price, added_at) VALUES (?, ?, ?, ?)")
            let keep = try RawStatement(db, "INSERT OR IGNORE INTO wishlist (customer_id, sku, price, added_at) VALUES (?, ?, ?, ?)")
            for entry in batch.wishlist {
                let into = owner(entry.customerId)
                let insert = into == entry.customerId ? replace : keep
                insert.bind(1, into); insert.bind(2, entry.sku); insert.bind(3, entry.price); insert.bind(4, entry.at)
                try insert.step()
            }
        }
        try run("INSERT OR IGNORE INTO reviews (message_id, customer_id, sku, rating, text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                batch.reviews.map { [$0.messageId, owner($0.customerId), $0.sku, $0.rating, $0.text, $0.at] })
        if !batch.segmentChanges.isEmpty { try writeSegmentChanges(batch.segmentChanges) }
        if !batch.shadowSegmentChanges.isEmpty {
            let enter = try RawStatement(db, "INSERT OR REPLACE INTO shadow_segment_members (segment, customer_id, entered_at) VALUES (?, ?, ?)")
            let exit = try RawStatement(db, "DELETE FROM shadow_segment_members WHERE segment = ? AND customer_id = ?")
            for change in batch.shadowSegmentChanges {
                let statement = change.entered ? enter : exit
                statement.bind(1, change.segment); statement.bind(2, change.customerId)
                if change.entered { statement.bind(3, change.at) }
                try statement.step()
            }
        }
        if !batch.counterHits.isEmpty {
            let insert = try RawStatement(db, "INSERT INTO counter_hits (counter, key, at, value) VALUES (?, ?, ?, ?)")
            for hit in batch.counterHits {
                insert.bind(1, hit.counter); insert.bind(2, hit.key); insert.bind(3, hit.at); insert.bind(4, hit.value)
                try insert.step()
            }
        }
        try run("DELETE FROM counter_hits WHERE counter = ? AND at < ?", batch.counterPrunes.map { [$0.counter, $0.before] })
        try run("DELETE FROM list_entries WHERE list = ? AND value = ? AND source <> 'admin' AND source NOT LIKE 'rule:%'",
                batch.listRemovals.map { [$0.list, $0.value] })
        try run("INSERT OR IGNORE INTO list_entries (list, value, source, added_at) VALUES (?, ?, ?, ?)",
                batch.listAdditions.map { [$0.list, $0.value, $0.source, $0.at] })
        if !batch.decisions.isEmpty {
            let insert = try RawStatement(db, """
                INSERT OR REPLACE INTO decisions (message_id, customer_id, order_id, decision, score, reasons, rules, ruleset_version, at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for row in batch.decisions {
                insert.bind(1, row.messageId); insert.bind(2, owner(row.customerId)); insert.bind(3, row.orderId)
                insert.bind(4, row.decision); insert.bind(5, row.score); insert.bind(6, row.reasons); insert.bind(7, row.rules)
                insert.bind(8, row.rulesetVersion); insert.bind(9, row.at)
                try insert.step()
            }
        }
        if !batch.promotionFires.isEmpty {
            let insert = try RawStatement(db, "INSERT INTO promotion_fires (promotion, customer_id, at, fire_key) VALUES (?, ?, ?, ?)")
            for fire in batch.promotionFires {
                insert.bind(1, fire.promotion); insert.bind(2, owner(fire.customerId)); insert.bind(3, fire.at); insert.bind(4, fire.key)
                try insert.step()
            }
        }
        try run("""
            INSERT INTO competitor_prices (sku, competitor, price, at) VALUES (?, ?, ?, ?)
            ON CONFLICT (sku, competitor) DO UPDATE SET price = excluded.price, at = excluded.at WHERE excluded.at >= at
            """, batch.competitorPrices.map { [$0.0, $0.1, $0.2, $0.3] })
        if !batch.itemPairDeltas.isEmpty {
            let upsert = try RawStatement(db, """
                INSERT INTO item_pairs (a, b, weight) VALUES (?, ?, ?) ON CONFLICT (a, b) DO UPDATE SET weight = weight + excluded.weight
                """)
            for (a, b, weight) in batch.itemPairDeltas {
                upsert.bind(1, a); upsert.bind(2, b); upsert.bind(3, weight)
                try upsert.step()
            }
        }
        if !batch.itemPopularityDeltas.isEmpty {
            let upsert = try RawStatement(db, """
                INSERT INTO item_popularity (scope, sku, count) VALUES (?, ?, ?)
                ON CONFLICT (scope, sku) DO UPDATE SET count = count + excluded.count
                """)
            for (scope, sku, count) in batch.itemPopularityDeltas {
                upsert.bind(1, scope); upsert.bind(2, sku); upsert.bind(3, count)
                try upsert.step()
            }
        }
        if !batch.outbox.isEmpty {
            let insert = try RawStatement(db, """
                INSERT OR IGNORE INTO outbox (idempotency_key, message_id, customer_id, rule, action, channel, payload, created_at,
                                              consent_purpose)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for row in batch.outbox {
                insert.bind(1, row.idempotencyKey); insert.bind(2, row.messageId); insert.bind(3, owner(row.customerId))
                insert.bind(4, row.rule); insert.bind(5, row.action); insert.bind(6, row.channel)
                insert.bind(7, row.payload); insert.bind(8, row.createdAt); insert.bind(9, row.consentPurpose)
                try insert.step()
            }
        }
        try writeJourneys(batch)
        // Merges last: a row this batch wrote for the merged customer, from
        // an event before the merge, moves with the rest of their history.
        if !batch.merges.isEmpty { try writeMerges(batch.merges) }
        if let ruleset = batch.ruleset {
            try run("INSERT OR IGNORE INTO rulesets (version, loaded_at, sources, rules) VALUES (?, ?, ?, ?)",
                    [[ruleset.version, ruleset.at, ruleset.sources, ruleset.rules]])
        }
    }

    /// Orders and their items: the items of a stored order are replaced
    /// (an update may change them), an order's new positions inserted.
    private func writeOrders(_ orders: Dictionary<String, OrderRow>.Values) throws {
        let upsert = try RawStatement(db, """
            INSERT INTO orders (id, customer_id, status, total, currency, created_at, updated_at, is_first, payment,
                shipping, campaign, consultant, region, refund_reason, refunded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status,
                total = excluded.total, currency = excluded.currency, created_at = excluded.created_at,
                updated_at = excluded.updated_at, is_first = excluded.is_first, payment = excluded.payment,
                shipping = excluded.shipping, campaign = excluded.campaign, consultant = excluded.consultant,
                region = excluded.region, refund_reason = excluded.refund_reason, refunded_at = excluded.refunded_at
            """)
        let removeItems = try RawStatement(db, "DELETE FROM order_items WHERE order_id = ?")
        let insertItem = try RawStatement(db, """
            INSERT INTO order_items (order_id, position, sku, name, category, price, quantity) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for order in orders {
            upsert.bind(1, order.id); upsert.bind(2, owner(order.customerId)); upsert.bind(3, order.status)
            upsert.bind(4, order.total); upsert.bind(5, order.currency); upsert.bind(6, order.createdAt)
            upsert.bind(7, order.updatedAt); upsert.bind(8, order.isFirst); upsert.bind(9, order.payment)
            upsert.bind(10, order.shipping); upsert.bind(11, order.campaign); upsert.bind(12, order.consultant)
            upsert.bind(13, order.region); upsert.bind(14, order.refundReason); upsert.bind(15, order.refundedAt)
            try upsert.step()
            guard !order.items.isEmpty else { continue }
            removeItems.bind(1, order.id)
            try removeItems.step()
            for (position, item) in order.items.enumerated() {
                insertItem.bind(1, order.id); insertItem.bind(2, position); insertItem.bind(3, item.sku)
                insertItem.bind(4, item.name); insertItem.bind(5, item.category); insertItem.bind(6, item.price)
                insertItem.bind(7, item.quantity)
                try insertItem.step()
            }
        }
    }

    /// Moves each merged customer's rows to the customer it merged into.
    private func writeMerges(_ merges: [(from: String, into: String)]) throws {
        let clearSegments = try RawStatement(db, "DELETE FROM segment_members WHERE customer_id = ?")
        let clearShadowSegments = try RawStatement(db, "DELETE FROM shadow_segment_members WHERE customer_id = ?")
        let moves = try ["events", "orders", "carts", "reviews", "decisions", "outbox", "promotion_fires", "journey_instances"].map {
            try RawStatement(db, "UPDATE \($0) SET customer_id = ? WHERE customer_id = ?")
        }
        // A product on both wishlists keeps the surviving customer's entry, as in memory.
        let moveWishlist = try RawStatement(db, "UPDATE OR IGNORE wishlist SET customer_id = ? WHERE customer_id = ?")
        let dropWishlist = try RawStatement(db, "DELETE FROM wishlist WHERE customer_id = ?")
        let moveIdentities = try RawStatement(db, "UPDATE OR REPLACE identities SET customer_id = ? WHERE customer_id = ?")
        for merge in merges {
            clearSegments.bind(1, merge.from)
            try clearSegments.step()
            clearShadowSegments.bind(1, merge.from)
            try clearShadowSegments.step()
            // First seen in this batch: its rows above went to the survivor already.
            if moved[merge.from] != nil { continue }
            let into = owner(merge.into)
            for move in moves + [moveWishlist] {
                move.bind(1, into); move.bind(2, merge.from)
                try move.step()
            }
            dropWishlist.bind(1, merge.from)
            try dropWishlist.step()
            moveIdentities.bind(1, into); moveIdentities.bind(2, merge.from)
            try moveIdentities.step()
        }
    }

    /// Segment memberships and their history.
    private func writeSegmentChanges(_ changes: [SegmentChangeRow]) throws {
        let enter = try RawStatement(db, "INSERT OR REPLACE INTO segment_members (segment, customer_id, entered_at) VALUES (?, ?, ?)")
        let exit = try RawStatement(db, "DELETE FROM segment_members WHERE segment = ? AND customer_id = ?")
        let history = try RawStatement(db, """
            INSERT INTO segment_history (segment, customer_id, change, at, message_id) VALUES (?, ?, ?, ?, ?)
            """)
        for change in changes {
            if change.entered {
                enter.bind(1, change.segment); enter.bind(2, change.customerId); enter.bind(3, change.at)
                try enter.step()
            } else {
                exit.bind(1, change.segment); exit.bind(2, change.customerId)
                try exit.step()
            }
            history.bind(1, change.segment); history.bind(2, change.customerId)
            history.bind(3, change.entered ? "entered" : "exited"); history.bind(4, change.at); history.bind(5, change.messageId)
            try history.step()
        }
    }

    func run(_ sql: String, _ rows: [[(any DatabaseValueConvertible)?]]) throws {
        if rows.isEmpty { return }
        let statement = try db.cachedStatement(sql: sql)
        for row in rows {
            try statement.execute(arguments: StatementArguments(row))
        }
    }
}
