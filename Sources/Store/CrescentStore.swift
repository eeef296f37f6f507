import CPageCache
import CWALBuffer
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Crescent's durable state in one SQLite file (WAL), through GRDB.
///
/// Writes arrive as whole ``WriteBatch``es, one transaction each (group
/// commit); reads serve the engine's cache misses, explanations and reports.
public final class CrescentStore: Sendable {
    let writer: any DatabaseWriter
    /// The database file, or nil for an in-memory store.
    public let path: String?
    /// The write-ahead log's length, for a server's log restarts (``restartLogIfLong()``).
    let logLength = LogLength()
    /// Customers asked of ``customerSnapshots(ids:full:)`` so far.
    let customersRead = Atomic<Int>(0)
    /// How many customers the engine has read back from this store so far
    /// (each id asked of ``customerSnapshots(ids:full:)``, found or not).
    public var customerReads: Int { customersRead.load(ordering: .relaxed) }
    /// Calls of ``customerSnapshots(ids:full:)`` so far: with ``customerReads``,
    /// how well the engine reads its customers in bulk.
    let customerReadCalls = Atomic<Int>(0)
    /// How many times the engine has read customers back from this store
    /// (one read may bring many: ``customerReads`` counts the customers).
    public var customerReadBatches: Int { customerReadCalls.load(ordering: .relaxed) }

    /// Opens (creating and migrating when needed) the database at `path`.
    public init(path: String) throws {
        Self.configureSQLite()
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Pages cached per connection: 256 MiB for the one writer, 64 MiB
            // for each reader. At a million events the indexes keyed by
            // customer (events, journeys, outbox, decisions...) that a commit
            // updates no longer fit in 64 MiB: the commit thread read 8.9 GB
            // back from the files. 256 MiB took a million-event replay from
            // 19.0 k to 20.8 k events/s and its CPU from 84.5 to 75.8 s
            // (docs/performance-history.md).
            try db.execute(sql: "PRAGMA cache_size = \(db.configuration.readonly ? -65_536 : -262_144)")
            // Checkpoint the WAL every ~400 MiB instead of every 4 MiB: a page
            // that many commits rewrite (an index's) is copied into the file
            // once per checkpoint, and checkpoints, which sync, are rare. At a
            // million events this took the replay from 14.9 k to 18 k events/s
            // (docs/performance-history.md). The log file is cut back to 192 MiB after
            // (a server starts it over at 173 MiB: ``BackgroundCheckpoints``).
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 100000")
            try db.execute(sql: "PRAGMA journal_size_limit = 201326592")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pool = try DatabasePool(path: path, configuration: configuration)
        try Schema.migrator.migrate(pool)
        self.writer = pool
        self.path = path
    }

    /// Configures SQLite once per process, before its first connection: the
    /// page cache that spares small commits a scan of the whole cache (see
    /// `CPageCache`; installed when the program loads, since it must come
    /// before SQLite initializes), then the VFS
    /// shim that passes the write-ahead log's writes to the system in large
    /// calls (see `CWALBuffer`: SQLite writes each page of a commit as two
    /// small writes, and at a million events those calls were the commit
    /// thread's largest single cost).
    static func configureSQLite() {
        _ = sqliteConfigured
    }

    private static let sqliteConfigured: Bool = {
        let environment = ProcessInfo.processInfo.environment
        if environment["CRESCENT_SQLITE_PAGE_CACHE"] != "default" { _ = crescent_page_cache_install() }
        if environment["CRESCENT_NO_WAL_BUFFER"] != nil { return false }
        return crescent_wal_buffer_register() == 0 // SQLITE_OK
    }()

    /// Makes the connection's file grow 8 MiB at a time (its blocks written
    /// ahead), so a checkpoint's copy rarely changes its size: a sync that
    /// must also record a new size and new blocks took 5–22 ms on this
    /// project's machine, one that need not, about 1 ms. A server's
    /// connections that checkpoint (copy pages past the end) set it
    /// (``BackgroundCheckpoints``); a small file still takes 8 MiB of disk.
    static func growInChunks(_ db: Database) {
        var chunk: Int32 = 8 << 20
        sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_CHUNK_SIZE, &chunk)
    }

    /// Bytes of pages the writing connection's cache holds now.
    func writerCacheBytes() throws -> Int {
        try writer.writeWithoutTransaction { db in
            var current: Int32 = 0, highest: Int32 = 0
            sqlite3_db_status(db.sqliteConnection, SQLITE_DBSTATUS_CACHE_USED, &current, &highest, 0)
            return Int(current)
        }
    }

    /// Whole-cache scans the page cache wrapper avoided so far in this process.
    public static var savedCacheScans: Int { Int(crescent_page_cache_saved_scans()) }

    /// System write calls the log buffer saved so far in this process.
    public static var savedLogWrites: Int { Int(crescent_wal_buffer_saved_writes()) }

    /// A store over an opened database (already migrated).
    init(writer: any DatabaseWriter, path: String?) {
        self.writer = writer
        self.path = path
    }

    /// A private in-memory store (tests, scratch replays).
    public init() throws {
        Self.configureSQLite()
        let queue = try DatabaseQueue()
        try Schema.migrator.migrate(queue)
        self.writer = queue
        self.path = nil
    }

    /// Writes the batch in one transaction.
    public func commit(_ batch: WriteBatch) throws {
        if batch.isEmpty { return }
        try writer.write { db in try BatchWriter(db, moved: batch.mergedInBatch).write(batch) }
    }

    /// Copies the write-ahead log into the database file and empties the log
    /// (waits for readers; for the end of a bulk load, not the hot path).
    public func checkpoint() throws {
        try writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    }

    /// Runs a read-only query.
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try writer.read(body)
    }

    /// Runs one statement outside a transaction: its own snapshot is all
    /// it needs, and it spares the `BEGIN` and `COMMIT` around it (the
    /// engine's lookups of one message id, order, alias or counter key; a
    /// transaction took three quarters of such a read's time).
    func pointRead<T>(_ body: (Database) throws -> T) throws -> T {
        try writer.unsafeRead(body)
    }

    // MARK: Queries the engine needs

    /// Message ids looked up one at a time (``hasEvent(messageId:)``) so far.
    let messageIdLookups = Atomic<Int>(0)
    /// How many message ids were looked up in the log one at a time so far
    /// (a bulk check, ``storedMessageIds(among:)``, spares those reads).
    public var messageIdReads: Int { messageIdLookups.load(ordering: .relaxed) }

    /// The customer with this id, if known.
    public func customer(id: String) throws -> CustomerRow? {
        try pointRead { db in try CustomerRow.fetchOne(db.cachedStatement(sql: "SELECT * FROM customers WHERE id = ?"), arguments: [id]) }
    }

    /// Whether a customer with this id is stored.
    public func hasCustomer(id: String) throws -> Bool {
        try pointRead { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM customers WHERE id = ?)"), arguments: [id]) ?? false
        }
    }

    /// The customer an alias or anonymous id belongs to.
    public func resolve(alias: String) throws -> String? {
        try pointRead { db in try String.fetchOne(db.cachedStatement(sql: "SELECT customer_id FROM identities WHERE alias = ?"), arguments: [alias]) }
    }

    /// The segments a customer is in now.
    public func segments(of customerId: String) throws -> Set<String> {
        try read { db in
            Set(try String.fetchAll(db, sql: "SELECT segment FROM segment_members WHERE customer_id = ?", arguments: [customerId]))
        }
    }

    /// Segment name → member count.
    public func segmentSizes() throws -> [String: Int] {
        try read { db in
            var sizes: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT segment, COUNT(*) AS n FROM segment_members GROUP BY segment") {
                sizes[row["segment"]] = row["n"]
            }
            return sizes
        }
    }

    /// Occurrences of a counter key at or after `since`, oldest first.
    public func counterHits(counter: String, key: String, since: Int64) throws -> [(at: Int64, value: String?)] {
        try pointRead { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT at, value FROM counter_hits WHERE counter = ? AND key = ? AND at >= ? ORDER BY at"),
                             arguments: [counter, key, since]).map { ($0["at"], $0["value"]) }
        }
    }

    /// Times a promotion fired for a customer (all customers when nil) at or after `since`;
    /// with `key`, only its fires for that key (a promotion's `key`), else those without a key.
    public func promotionFires(promotion: String, customerId: String?, key: String? = nil, since: Int64) throws -> [Int64] {
        try pointRead { db in
            if let customerId, let key {
                return try Int64.fetchAll(db.cachedStatement(sql: """
                    SELECT at FROM promotion_fires WHERE promotion = ? AND customer_id = ? AND fire_key = ? AND at >= ? ORDER BY at
                    """), arguments: [promotion, customerId, key, since])
            }
            if let customerId {
                return try Int64.fetchAll(db.cachedStatement(sql: """
                    SELECT at FROM promotion_fires WHERE promotion = ? AND customer_id = ? AND fire_key IS NULL AND at >= ? ORDER BY at
                    """), arguments: [promotion, customerId, since])
            }
            return try Int64.fetchAll(db, sql: "SELECT at FROM promotion_fires WHERE promotion = ? AND at >= ? ORDER BY at",
                                      arguments: [promotion, since])
        }
    }

    /// Every list's entries, and those of them a rule file declared (list → value → file; not added through the admin API).
    /// Sources: `admin` (the admin API), `rule:KIND:NAME` (a rule's `act:list_add`), else the declaring rule file.
    public func listEntries() throws
        -> (lists: [String: Set<String>], fromFiles: [String: [String: String]], fromRules: [String: Set<String>]) {
        try read { db in
            var lists: [String: Set<String>] = [:], fromFiles: [String: [String: String]] = [:], fromRules: [String: Set<String>] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT list, value, source FROM list_entries") {
                lists[row["list"], default: []].insert(row["value"])
                let source: String = row["source"]
                if source.hasPrefix("rule:") {
                    fromRules[row["list"], default: []].insert(row["value"])
                } else if source != "admin" {
                    fromFiles[row["list"], default: [:]][row["value"]] = source
                }
            }
            return (lists, fromFiles, fromRules)
        }
    }

    /// What every rule did with one event.
    public func evaluation(messageId: String) throws -> EvaluationRow? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM events WHERE message_id = ? AND results IS NOT NULL",
                                             arguments: [messageId]) else { return nil }
            return EvaluationRow(messageId: row["message_id"], customerId: row["customer_id"], rulesetVersion: row["ruleset_version"],
                                 at: row["timestamp"], results: row["results"])
        }
    }

    /// The fraud decision taken on one event, if any.
    public func decision(messageId: String) throws -> DecisionRow? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM decisions WHERE message_id = ?", arguments: [messageId]) else { return nil }
            return DecisionRow(messageId: row["message_id"], customerId: row["customer_id"], orderId: row["order_id"],
                               decision: row["decision"], score: row["score"], reasons: row["reasons"], rules: row["rules"],
                               rulesetVersion: row["ruleset_version"], at: row["at"])
        }
    }

    /// The stored event with this message id, as (name, payload).
    public func event(messageId: String) throws -> EventRow? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM events WHERE message_id = ?", arguments: [messageId]) else { return nil }
            return EventRow(messageId: row["message_id"], customerId: row["customer_id"], type: row["type"], name: row["name"],
                            timestamp: row["timestamp"], payload: row["payload"])
        }
    }

    /// Number of rows in a table (for summaries and tests).
    public func count(_ table: String) throws -> Int {
        precondition(table.allSatisfy { $0.isLetter || $0 == "_" }, "not a table name")
        return try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
    }

    /// Message ids of stored events matching an SQL LIKE pattern (checks and tests).
    public func messageIds(like pattern: String) throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT message_id FROM events WHERE message_id LIKE ?", arguments: [pattern]) }
    }

    /// The order with this id.
    public func order(id: String) throws -> OrderRow? {
        try pointRead { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM orders WHERE id = ?"), arguments: [id]) else { return nil }
            var order = OrderRow(id: row["id"], customerId: row["customer_id"], status: row["status"], total: row["total"],
                                 createdAt: row["created_at"])
            order.currency = row["currency"]
            order.updatedAt = row["updated_at"]
            order.isFirst = row["is_first"]
            order.payment = row["payment"]
            order.shipping = row["shipping"]
            order.campaign = row["campaign"]
            order.consultant = row["consultant"]
            order.region = row["region"]
            order.refundReason = row["refund_reason"]
            order.refundedAt = row["refunded_at"]
            return order
        }
    }

    /// A customer's events since `since`, oldest first (at most 5,000).
    public func recentEventTimes(customerId: String, since: Int64) throws -> [(name: String, at: Int64)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT name, timestamp FROM events WHERE customer_id = ? AND timestamp >= ? ORDER BY timestamp LIMIT 5000
                """, arguments: [customerId, since]).map { ($0["name"], $0["timestamp"]) }
        }
    }

    /// A customer's last 500 completed orders, oldest first.
    public func completedOrders(customerId: String) throws -> [(id: String, at: Int64, total: Double)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, created_at, total FROM orders WHERE customer_id = ? AND status = 'completed'
                ORDER BY created_at DESC LIMIT 500
                """, arguments: [customerId]).reversed().map { ($0["id"], $0["created_at"], $0["total"]) }
        }
    }

    /// A customer's most recent events, newest first.
    public func recentEvents(customerId: String, limit: Int) throws -> [EventRow] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT message_id, customer_id, type, name, timestamp, payload FROM events WHERE customer_id = ?
                ORDER BY timestamp DESC, seq DESC LIMIT ?
                """, arguments: [customerId, limit]).map {
                EventRow(messageId: $0["message_id"], customerId: $0["customer_id"], type: $0["type"], name: $0["name"],
                         timestamp: $0["timestamp"], payload: $0["payload"])
            }
        }
    }

    /// Actions recorded for one message, in order.
    public func outbox(messageId: String) throws -> [OutboxRow] {
        try outbox(where: "message_id = ?", [messageId])
    }

    /// Actions a rule (`journey:abandoned_cart`, `promotion:vip`) recorded, in order, optionally for one customer.
    public func outbox(rule: String, customerId: String? = nil) throws -> [OutboxRow] {
        if let customerId { return try outbox(where: "rule = ? AND customer_id = ?", [rule, customerId]) }
        return try outbox(where: "rule = ?", [rule])
    }

    private func outbox(where condition: String, _ arguments: StatementArguments) throws -> [OutboxRow] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE \(condition) ORDER BY id", arguments: arguments).map {
                OutboxRow(idempotencyKey: $0["idempotency_key"], messageId: $0["message_id"], customerId: $0["customer_id"],
                          rule: $0["rule"], action: $0["action"], channel: $0["channel"], payload: $0["payload"],
                          createdAt: $0["created_at"], consentPurpose: $0["consent_purpose"])
            }
        }
    }

    /// Outbox rows by action kind.
    public func actionCounts() throws -> [String: Int] {
        try read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT action, COUNT(*) AS n FROM outbox GROUP BY action") {
                counts[row["action"]] = row["n"]
            }
            return counts
        }
    }

    /// Decisions by outcome.
    public func decisionCounts() throws -> [String: Int] {
        try read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT decision, COUNT(*) AS n FROM decisions GROUP BY decision") {
                counts[row["decision"]] = row["n"]
            }
            return counts
        }
    }

    /// A customer's wishlist: product id → price when it was added.
    public func wishlist(customerId: String) throws -> [String: Double] {
        try read { db in
            var items: [String: Double] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT sku, price FROM wishlist WHERE customer_id = ?", arguments: [customerId]) {
                items[row["sku"]] = row["price"] ?? 0
            }
            return items
        }
    }

    /// The rule ids of a rule set version, in the order explanations refer to them.
    public func rulesetRules(version: String) throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT rules FROM rulesets WHERE version = ?", arguments: [version]) }
    }
}
