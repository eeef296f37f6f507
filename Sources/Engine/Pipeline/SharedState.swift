import Foundation
import Store

/// Where an event goes: its customer, and the identity work it brings.
public struct Route: Sendable, Equatable {
    /// The customer the event belongs to.
    public var customerId: String
    /// An alias (anonymous id) newly linked to the customer.
    public var link: String?
    /// A customer whose history joins this one (the alias's previous owner).
    public var mergeFrom: String?
}

/// A counter's key: the counter's name and the value it counts by.
struct CounterKey: Hashable {
    var counter: String
    var key: String
}

/// State every shard shares: identities, message ids, counters keyed by
/// anything (cards, IPs), global promotion limits and lists. Thread-safe;
/// the single-shard engine uses it too, uncontended. Message ids, counter
/// keys and identities are held in bounded ``RecentMap``s over the store.
final class SharedState: @unchecked Sendable {
    let store: CrescentStore
    /// True when the store held no event at start: then everything that
    /// exists is in memory, and cache misses need no database read.
    let freshStore: Bool
    private let lock = NSLock()
    /// alias → customer, for aliases used recently.
    private var identities: RecentMap<String, String>
    /// owner → its aliases held in ``identities``, so a merge re-points them at once.
    private var aliasesOf: RecentMap<String, [String]>
    /// merged customer → the one it joined, kept until long committed: an
    /// alias read back from the store may still name the merged customer.
    private var merges: RecentMap<String, String>
    /// Message ids claimed recently; older ones are in the Bloom filter and the store.
    private var seen: RecentMap<String, Void>
    private var droppedIds = StringBloomFilter(bits: 1 << 24)
    /// Message ids a bulk check (``checkStored(_:)``) looked up, and whether
    /// the store held them: their claims need no read of their own.
    private var checked: [String: Bool] = [:]
    private var counters: RecentMap<CounterKey, [(at: Int64, value: String?)]>
    private var globalFires: [String: [Int64]] = [:]
    var counterRetention: [String: Int64] = [:]
    private(set) var lists: [String: Set<String>] = [:]
    /// The entries of `lists` a rule file declared (list → value → file), which a rule file alone removes.
    private var fileListValues: [String: [String: String]] = [:]
    private var listHits: [String: [String: Int]] = [:]
    /// The entries of `lists` rules added (`act:list_add`): neither a file's nor the admin API's.
    private var ruleListValues: [String: Set<String>] = [:]
    private var lastJourneyId: Int64 = 0
    /// Revenue and completed orders per hour (hour start → totals), for schedules.
    private var hourlySales: [Int64: (revenue: Double, orders: Int)]?
    /// When this process started, for instances a live edit moved without a timer.
    let startTime = Int64(Date().timeIntervalSince1970 * 1000)

    /// Co-occurrence and popularity behind recommendations.
    let items: ItemGraph
    /// Trending products and competitor prices.
    let market: MarketSignals
    /// The shop's products, for `catalog.product` and `catalog.category`.
    let catalog: ProductCatalog

    /// `recentKeys`: message ids, counter keys and identities per generation (see ``RecentMap``).
    init(store: CrescentStore, recentKeys: Int = EngineOptions().recentKeys) throws {
        self.store = store
        seen = RecentMap(generationSize: recentKeys)
        identities = RecentMap(generationSize: recentKeys)
        aliasesOf = RecentMap(generationSize: recentKeys)
        merges = RecentMap(generationSize: recentKeys)
        counters = RecentMap(generationSize: recentKeys)
        self.items = try ItemGraph(store: store)
        self.market = try MarketSignals(store: store)
        self.catalog = try ProductCatalog(store: store)
        self.freshStore = try store.count("events") == 0
        (self.lists, self.fileListValues, self.ruleListValues) = try store.listEntries()
    }

    // MARK: Identity

    private func resolveLocked(_ alias: String) -> String? {
        if let cached = identities.value(alias) { return cached }
        if freshStore && !identities.hasDropped && !aliasesOf.hasDropped { return nil }
        guard var owner = (try? store.resolve(alias: alias)) ?? nil else { return nil }
        // The stored link is older than anything in memory: merges since
        // (committed or not) apply to it.
        var hops = 0
        while let into = merges.value(owner), hops < 64 {
            owner = into
            hops += 1
        }
        linkLocked(alias, to: owner)
        return owner
    }

    private func linkLocked(_ alias: String, to owner: String) {
        identities.set(alias, owner)
        if !aliasesOf.modify(owner, onDrop: aliasesDropped, { $0.append(alias) }) {
            aliasesOf.set(owner, [alias], onDrop: aliasesDropped)
        }
    }

    /// Aliases whose owner left ``aliasesOf`` could miss a re-pointing:
    /// they leave memory too and are read back from the store when used.
    private func aliasesDropped(_ dropped: [String: [String]]) {
        identities.removeAll { _, owner in dropped[owner] != nil }
    }

    /// Resolves the event's customer and records any new link at once, so
    /// the next event of that alias is routed to the same customer.
    func route(_ event: Event) -> Route {
        lock.withLock {
            var alias: String?
            let userId: String
            if event.kind == .alias, let user = event.userId, let previous = event.previousId {
                alias = previous
                userId = user
            } else if let user = event.userId {
                userId = user
                if let anonymous = event.anonymousId, anonymous != user, resolveLocked(anonymous) != user { alias = anonymous }
            } else {
                let anonymous = event.anonymousId!
                return Route(customerId: resolveLocked(anonymous) ?? anonymous)
            }
            guard let alias else { return Route(customerId: userId) }
            let owner = resolveLocked(alias) ?? alias
            linkLocked(alias, to: userId)
            if owner != userId {
                merges.set(owner, userId)
                for other in aliasesOf.remove(owner) ?? [] where identities.contains(other) {
                    linkLocked(other, to: userId)
                }
            }
            return Route(customerId: userId, link: alias, mergeFrom: owner != userId ? owner : nil)
        }
    }

    /// Drops the aliases that resolve to an erased customer.
    func forgetIdentities(of customerId: String) {
        lock.withLock {
            aliasesOf.remove(customerId)
            identities.removeAll { _, owner in owner == customerId }
            merges.removeAll { merged, into in merged == customerId || into == customerId }
        }
    }

    /// Whether the store may hold `messageId` though memory does not: ids
    /// dropped from memory are committed, and the filter spares a store read
    /// for nearly every id that was never seen. Under `lock`.
    private func mayBeStoredLocked(_ messageId: String) -> Bool {
        !freshStore || (seen.hasDropped && droppedIds.mightContain(messageId))
    }

    /// Reads in one go which of `messageIds` the store already holds, ahead
    /// of their claims (a request's batch): a restarted server otherwise
    /// reads the store once per message, in a read transaction of its own.
    /// Only the ids the store may hold are asked.
    func checkStored(_ messageIds: [String]) {
        let asked: [String] = lock.withLock { messageIds.filter { !seen.contains($0) && mayBeStoredLocked($0) } }
        guard asked.count > 1, let stored = try? store.storedMessageIds(among: asked) else { return }
        lock.withLock {
            if checked.count > 100_000 { checked.removeAll() } // checked, then never claimed
            for id in asked { checked[id] = stored.contains(id) }
        }
    }

    /// Marks a message id as taken; false when it was already processed.
    func claim(_ messageId: String) -> Bool {
        lock.withLock {
            if seen.contains(messageId) { return false }
            if mayBeStoredLocked(messageId),
               checked.removeValue(forKey: messageId) ?? ((try? store.hasEvent(messageId: messageId)) == true) { return false }
            seen.set(messageId, ()) { dropped in
                for id in dropped.keys { droppedIds.insert(id) }
            }
            return true
        }
    }

    /// Message ids, counter keys and aliases held in memory now.
    var heldKeys: (messageIds: Int, counterKeys: Int, aliases: Int) {
        lock.withLock { (seen.count, counters.count, identities.count) }
    }

    // MARK: Counters

    private func hitsLocked(_ counter: String, _ key: String, now: Int64) -> [(at: Int64, value: String?)] {
        let id = CounterKey(counter: counter, key: key)
        if let known = counters.value(id) { return known }
        let retention = counterRetention[counter] ?? RuleDeclaration.defaultCounterWindow
        let loaded = freshStore && !counters.hasDropped
            ? [] : (try? store.counterHits(counter: counter, key: key, since: now - retention)) ?? []
        counters.set(id, loaded)
        return loaded
    }

    /// For each declared counter, the time before which its hits are past its window at `now`.
    func counterPrunes(now: Int64) -> [(counter: String, before: Int64)] {
        lock.withLock { counterRetention.map { ($0.key, now - $0.value) }.sorted { $0.counter < $1.counter } }
    }

    func count(_ counter: String, _ key: String, window: Int64, now: Int64) -> Int {
        lock.withLock {
            let since = window < 0 ? Int64.min : now - window
            return hitsLocked(counter, key, now: now).reduce(0) { $0 + ($1.at >= since ? 1 : 0) }
        }
    }

    func distinct(_ counter: String, _ key: String, window: Int64, now: Int64) -> Int {
        lock.withLock {
            let since = window < 0 ? Int64.min : now - window
            return Set(hitsLocked(counter, key, now: now).filter { $0.at >= since }.compactMap(\.value)).count
        }
    }

    func addHit(_ counter: String, _ key: String, value: String?, now: Int64) {
        lock.withLock {
            _ = hitsLocked(counter, key, now: now)
            let retention = counterRetention[counter] ?? RuleDeclaration.defaultCounterWindow
            counters.modify(CounterKey(counter: counter, key: key)) { list in
                list.append((now, value))
                if let first = list.first, first.at < now - retention { list.removeAll { $0.at < now - retention } }
            }
        }
    }

    // MARK: Promotions and lists

    func globalPromotionFires(_ promotion: String, now: Int64) -> Int {
        lock.withLock {
            if globalFires[promotion] == nil {
                globalFires[promotion] = freshStore ? [] : (try? store.promotionFires(promotion: promotion, customerId: nil, since: now - 86_400_000)) ?? []
            }
            let since = now - 86_400_000
            var count = 0
            for at in globalFires[promotion]! where at > since { count += 1 }
            return count
        }
    }

    func recordGlobalFire(_ promotion: String, now: Int64) {
        lock.withLock {
            // In place: a copy of the day's fires on every fire cost a copy of up to 10,000 times.
            globalFires[promotion, default: []].append(now)
            if globalFires[promotion]!.count > 10_000 { globalFires[promotion]!.removeAll { $0 <= now - 86_400_000 } }
        }
    }

    func listContains(_ list: String, _ value: String) -> Bool {
        lock.withLock {
            guard lists[list]?.contains(value) == true else { return false }
            listHits[list, default: [:]][value, default: 0] += 1
            return true
        }
    }

    /// How often each entry of a list matched a rule's lookup since start.
    func hits(ofList list: String) -> [String: Int] {
        lock.withLock { listHits[list] ?? [:] }
    }

    /// Removes a list value; true when it was there.
    func removeListValue(_ list: String, _ value: String) -> Bool {
        lock.withLock { lists[list]?.remove(value) != nil }
    }

    /// Adds a list value; true when it is new.
    func addListValue(_ list: String, _ value: String) -> Bool {
        lock.withLock { lists[list, default: []].insert(value).inserted }
    }

    /// Adds a list value a rule's `act:list_add` gave; true when it is new.
    func addRuleListValue(_ list: String, _ value: String) -> Bool {
        lock.withLock {
            guard lists[list, default: []].insert(value).inserted else { return false }
            ruleListValues[list, default: []].insert(value)
            return true
        }
    }

    /// Every list held: its entries, how many of them rule files declare, and the lookups they matched since start.
    func listSizes() -> [String: ListSize] {
        lock.withLock {
            lists.reduce(into: [:]) { sizes, list in
                sizes[list.key] = ListSize(entries: list.value.count, fromFiles: fileListValues[list.key]?.count ?? 0,
                                           fromRules: ruleListValues[list.key]?.intersection(list.value).count ?? 0,
                                           hits: listHits[list.key]?.values.reduce(0, +) ?? 0)
            }
        }
    }

    /// The rule file that declared a list value, when one did (see ``declareListValues(_:)``).
    func declaringFile(_ list: String, _ value: String) -> String? {
        lock.withLock { fileListValues[list]?[value] }
    }

    /// Makes `declared` (the values of the `list` declarations being
    /// installed, with their files) the file-declared entries: new ones are
    /// added, and those a file declared before and no longer does are
    /// removed (an entry the admin API added is not a file's, so it stays).
    /// Returns what changed, for the store; a second shard installing the
    /// same rules gets nothing.
    func declareListValues(_ declared: [(list: String, value: String, file: String)])
        -> (added: [(list: String, value: String, file: String)], removed: [(list: String, value: String)]) {
        lock.withLock {
            var added: [(list: String, value: String, file: String)] = [], removed: [(list: String, value: String)] = []
            var keep: [String: Set<String>] = [:]
            for entry in declared { keep[entry.list, default: []].insert(entry.value) }
            for (list, values) in fileListValues {
                for value in values.keys where keep[list]?.contains(value) != true {
                    fileListValues[list]?[value] = nil
                    if lists[list]?.remove(value) != nil { removed.append((list, value)) }
                }
            }
            for entry in declared where lists[entry.list, default: []].insert(entry.value).inserted {
                fileListValues[entry.list, default: [:]][entry.value] = entry.file
                added.append(entry)
            }
            return (added, removed)
        }
    }

    // MARK: Journeys and schedules

    /// Makes sure new instance ids start above `used`.
    func registerJourneyIds(_ used: Int64) {
        lock.withLock { lastJourneyId = max(lastJourneyId, used) }
    }

    func nextJourneyInstanceId() -> Int64 {
        lock.withLock {
            lastJourneyId += 1
            return lastJourneyId
        }
    }

    /// Counts a completed order in the hourly sales (and takes back a refunded or cancelled one).
    func recordSale(_ total: Double, at time: Int64, orders: Int = 1) {
        lock.withLock {
            loadSalesLocked(now: time)
            let hour = time - ((time % 3_600_000) + 3_600_000) % 3_600_000
            let current = hourlySales![hour] ?? (0, 0)
            hourlySales![hour] = (current.revenue + total, current.orders + orders)
        }
    }

    /// Revenue and completed orders between two times (whole hours), summed
    /// in time order (the same total, to the last bit, on every run).
    func sales(from: Int64, to: Int64) -> (revenue: Double, orders: Int) {
        lock.withLock {
            loadSalesLocked(now: to)
            let hours = hourlySales!
            let first = from - ((from % 3_600_000) + 3_600_000) % 3_600_000
            var total = (revenue: 0.0, orders: 0)
            guard to > first else { return total }
            if (to - first) / 3_600_000 < Int64(hours.count) {
                // A window shorter than the history kept (a day, say): look its hours up.
                var hour = first
                while hour < to {
                    if let sales = hours[hour] {
                        total.revenue += sales.revenue
                        total.orders += sales.orders
                    }
                    hour += 3_600_000
                }
            } else {
                for hour in hours.keys.sorted() where hour >= first && hour < to {
                    total.revenue += hours[hour]!.revenue
                    total.orders += hours[hour]!.orders
                }
            }
            return total
        }
    }

    private func loadSalesLocked(now: Int64) {
        guard hourlySales == nil else { return }
        hourlySales = freshStore ? [:] : (try? store.hourlySales(since: now - 90 * 86_400_000)) ?? [:]
    }
}
