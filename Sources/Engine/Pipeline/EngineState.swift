import Foundation
import Store

/// The engine's in-memory state: customers, identities, counters and lists,
/// loaded lazily from the store and written behind in each batch.
final class EngineState {
    let store: CrescentStore
    /// The clock rules see: the current event's time during replays.
    var now: Int64 = 0
    var customers: [String: CustomerState] = [:]
    var identities: [String: String] = [:]
    /// counter → key → occurrences (time, value), oldest first.
    var counters: [String: [String: [(at: Int64, value: String?)]]] = [:]
    /// How long each counter keeps occurrences.
    var counterRetention: [String: Int64] = [:]
    var lists: [String: Set<String>] = [:]
    var seenMessages: Set<String> = []
    /// Customers changed since the last commit.
    var dirty: Set<String> = []
    /// Orders touched in this run, by id.
    var orders: [String: OrderRow] = [:]
    /// promotion → customer → times it fired; promotion → recent global fires.
    var fires: [String: [String: [Int64]]] = [:]
    var globalFires: [String: [Int64]] = [:]
    var batch = WriteBatch()
    var logLines: [String] = []

    /// True when the store held no event at start: then everything that
    /// exists is in memory, and cache misses need no database read.
    let freshStore: Bool

    init(store: CrescentStore) throws {
        self.store = store
        self.lists = try store.listEntries()
        self.freshStore = try store.count("events") == 0
    }

    func customer(_ id: String) throws -> CustomerState {
        if let cached = customers[id] { return cached }
        let loaded = freshStore ? CustomerState(row: CustomerRow(id: id)) : try CustomerState.load(id, from: store)
        customers[id] = loaded
        return loaded
    }

    func resolve(alias: String) throws -> String? {
        if let cached = identities[alias] { return cached }
        if freshStore { return nil }
        let stored = try store.resolve(alias: alias)
        if let stored { identities[alias] = stored }
        return stored
    }

    func isDuplicate(_ messageId: String) throws -> Bool {
        if seenMessages.contains(messageId) { return true }
        return freshStore ? false : try store.hasEvent(messageId: messageId)
    }

    // MARK: Counters

    func hits(_ counter: String, _ key: String) -> [(at: Int64, value: String?)] {
        if let known = counters[counter]?[key] { return known }
        let retention = counterRetention[counter] ?? 30 * 86_400_000
        let loaded = freshStore ? [] : (try? store.counterHits(counter: counter, key: key, since: now - retention)) ?? []
        counters[counter, default: [:]][key] = loaded
        return loaded
    }

    func count(_ counter: String, _ key: String, window: Int64) -> Int {
        let since = window < 0 ? Int64.min : now - window
        return hits(counter, key).reduce(0) { $0 + ($1.at >= since ? 1 : 0) }
    }

    func distinct(_ counter: String, _ key: String, window: Int64) -> Int {
        let since = window < 0 ? Int64.min : now - window
        return Set(hits(counter, key).filter { $0.at >= since }.compactMap(\.value)).count
    }

    func addHit(_ counter: String, _ key: String, value: String?) {
        var list = hits(counter, key)
        list.append((now, value))
        let retention = counterRetention[counter] ?? 30 * 86_400_000
        if let first = list.first, first.at < now - retention {
            list.removeAll { $0.at < now - retention }
        }
        counters[counter, default: [:]][key] = list
        batch.counterHits.append((counter, key, now, value))
    }
}
