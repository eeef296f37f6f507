import Foundation
import GRDB

/// Everything the engine keeps in memory about a customer, read from the
/// store in one go: the row, segments, last fraud block, wishlist, recent
/// event times, recent marketing messages and completed orders.
public struct CustomerSnapshot: Sendable {
    public var row: CustomerRow
    public var segments: Set<String> = []
    /// Shadow-mode segments the customer would be in.
    public var shadowSegments: Set<String> = []
    /// Fraud blocks not cleared by a review since: the order (when the decision had one) and when.
    public var blocks: [(order: String?, at: Int64)] = []
    public var wishlist: [String: Double] = [:]
    /// Event times of the 90 days before the customer was last seen, oldest first.
    public var eventTimes: [(name: String, at: Int64)] = []
    /// `notify` actions of the 30 days before the customer was last seen, oldest first.
    public var messages: [(rule: String, at: Int64)] = []
    /// Completed orders, oldest first (at most 500).
    public var orders: [(id: String, at: Int64, total: Double)] = []
    /// Open carts: id → value and items.
    public var carts: [String: (value: Double, items: Int)] = [:]
    /// Recently viewed product ids, newest first (at most 50).
    public var viewed: [String] = []

    public init(row: CustomerRow) { self.row = row }
}

extension CrescentStore {
    /// Snapshots of the known customers among `ids`, in one read transaction
    /// and a handful of queries per 500 ids (a cold cache warms in bulk).
    /// With `full` false, only what sending a message needs: the row, the
    /// last fraud block and recent messages (segments, wishlist, events and
    /// orders stay empty).
    public func customerSnapshots(ids: [String], full: Bool = true) throws -> [String: CustomerSnapshot] {
        var snapshots: [String: CustomerSnapshot] = [:]
        customersRead.add(ids.count, ordering: .relaxed)
        customerReadCalls.add(1, ordering: .relaxed)
        try read { db in
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Self.padded(Array(ids[start..<min(ids.count, start + 500)]))
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let arguments = StatementArguments(chunk)
                for row in try CustomerRow.fetchAll(db.cachedStatement(sql: "SELECT * FROM customers WHERE id IN (\(marks))"),
                                                    arguments: arguments) {
                    snapshots[row.id] = CustomerSnapshot(row: row)
                }
                func each(_ sql: String, _ body: (inout CustomerSnapshot, Row) -> Void) throws {
                    let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
                    while let row = try rows.next() {
                        let id: String = row["customer_id"]
                        guard snapshots[id] != nil else { continue }
                        body(&snapshots[id]!, row)
                    }
                }
                try each("""
                    SELECT customer_id, order_id, at FROM decisions WHERE customer_id IN (\(marks)) AND decision = 'block'
                    AND (order_id IS NULL OR order_id NOT IN (\(Self.clearedOrdersSQL))) ORDER BY at
                    """) {
                    $0.blocks.append((order: $1["order_id"], at: $1["at"]))
                }
                try each("SELECT customer_id, rule, created_at FROM outbox WHERE customer_id IN (\(marks)) AND action = 'notify' ORDER BY id") {
                    let at: Int64 = $1["created_at"]
                    if at >= ($0.row.lastSeen ?? 0) - 30 * 86_400_000 { $0.messages.append(($1["rule"], at)) }
                }
                guard full else { continue }
                try each("SELECT customer_id, segment FROM segment_members WHERE customer_id IN (\(marks))") {
                    $0.segments.insert($1["segment"])
                }
                try each("SELECT customer_id, segment FROM shadow_segment_members WHERE customer_id IN (\(marks))") {
                    $0.shadowSegments.insert($1["segment"])
                }
                try each("SELECT customer_id, sku, price FROM wishlist WHERE customer_id IN (\(marks))") {
                    $0.wishlist[$1["sku"]] = $1["price"] ?? 0
                }
                try each("SELECT customer_id, name, timestamp FROM events WHERE customer_id IN (\(marks)) ORDER BY customer_id, timestamp") {
                    let at: Int64 = $1["timestamp"]
                    if at >= ($0.row.lastSeen ?? 0) - 90 * 86_400_000 { $0.eventTimes.append(($1["name"], at)) }
                }
                try each("SELECT customer_id, cart_id, value, items FROM carts WHERE customer_id IN (\(marks)) AND items > 0") {
                    $0.carts[$1["cart_id"]] = ($1["value"], $1["items"])
                }
                try each("""
                    SELECT customer_id, payload FROM events WHERE customer_id IN (\(marks)) AND +name = 'Product Viewed' -- the customer index, not the name one
                    ORDER BY customer_id, timestamp DESC
                    """) {
                    guard $0.viewed.count < 50, let text: String = $1["payload"],
                          let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                          let properties = json["properties"] as? [String: Any],
                          let product = (properties["product_id"] ?? properties["sku"]).map({ "\($0)" }),
                          !$0.viewed.contains(product) else { return }
                    $0.viewed.append(product)
                }
                try each("SELECT customer_id, id, created_at, total FROM orders WHERE customer_id IN (\(marks)) AND status = 'completed' ORDER BY created_at") {
                    $0.orders.append(($1["id"], $1["created_at"], $1["total"]))
                }
            }
        }
        for id in snapshots.keys {
            if snapshots[id]!.eventTimes.count > 5000 { snapshots[id]!.eventTimes.removeFirst(snapshots[id]!.eventTimes.count - 5000) }
            if snapshots[id]!.orders.count > 500 { snapshots[id]!.orders.removeFirst(snapshots[id]!.orders.count - 500) }
        }
        return snapshots
    }

    /// `ids` with its last id repeated up to the next of a few fixed lengths
    /// (1, 4, 16, 64, 256, 500), so that the snapshot queries' `IN` lists
    /// take a handful of shapes, each prepared once per connection and then
    /// reused from GRDB's statement cache. (A restarted engine reads most
    /// customers one at a time; preparing nine statements anew for each was
    /// about a fifth of its shard's time.) A repeated id matches nothing more.
    static func padded(_ ids: [String]) -> [String] {
        guard let last = ids.last, let size = [1, 4, 16, 64, 256, 500].first(where: { $0 >= ids.count }) else { return ids }
        return ids + Array(repeating: last, count: size - ids.count)
    }
}
