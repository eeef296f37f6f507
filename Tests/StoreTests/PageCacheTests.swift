import Foundation
import GRDB
import GRDBSQLite
@testable import Store
import TestSupport
import Testing

/// The page cache wrapper (`CPageCache`): small commits that split B-tree
/// pages skip SQLite's scan of the whole cache, and the cache still drops
/// every page a rolled-back transaction added.
@Suite("Page cache without whole-cache scans")
struct PageCacheTests {
    static func events(_ range: Range<Int>, prefix: String) -> WriteBatch {
        var batch = WriteBatch()
        for i in range {
            // Ids in random order: inserts land all over the unique index and split its pages.
            let id = "\(prefix)-\(UInt64(i).multipliedReportingOverflow(by: 0x9E37_79B9_7F4A_7C15).partialValue)"
            batch.events.append(EventRow(messageId: id, customerId: "c\(i % 97)", type: "track", name: "Product Viewed",
                                         timestamp: Int64(i), payload: #"{"n":\#(i)}"#))
        }
        return batch
    }

    @Test("small commits that split index pages skip the scan, and every row reads back")
    func smallCommits() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crescent.db").path
        let store = try CrescentStore(path: path)
        let before = CrescentStore.savedCacheScans
        for round in 0..<300 { try store.commit(Self.events(round * 20..<(round + 1) * 20, prefix: "s")) }
        #expect(CrescentStore.savedCacheScans - before > 10, "commits that split pages avoided the scan")
        let other = try DatabaseQueue(path: path)
        #expect(try other.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == 6000)
        #expect(try other.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
        #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT SUM(json_extract(payload, '$.n')) FROM events") }
            == (0..<6000).reduce(0, +))
    }

    @Test("a transaction that grows the file and rolls back leaves no page behind in the cache")
    func rollbackOfGrowth() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crescent.db").path
        let store = try CrescentStore(path: path)
        try store.commit(Self.events(0..<500, prefix: "kept"))
        struct Abandon: Error {}
        for round in 0..<3 {
            let cached = try store.writerCacheBytes()
            // Thousands of new pages, then a rollback: the cache must forget them all.
            #expect(throws: Abandon.self) {
                try store.writer.write { db in
                    try BatchWriter(db, moved: [:]).write(Self.events(0..<8000, prefix: "dropped\(round)"))
                    throw Abandon()
                }
            }
            // (SQLite itself never reads a page past the end before writing it: only the memory would stay.)
            #expect(try store.writerCacheBytes() < cached + 64 * 1024, "the abandoned pages are dropped from the cache")
            try store.commit(Self.events(500 + round * 300..<500 + (round + 1) * 300, prefix: "kept"))
        }
        // Through the writing connection, whose cache held the abandoned pages.
        func onWriter<T>(_ sql: String) throws -> T? where T: DatabaseValueConvertible & StatementColumnConvertible {
            try store.writer.writeWithoutTransaction { db in try T.fetchOne(db, sql: sql) }
        }
        #expect(try onWriter("SELECT COUNT(*) FROM events") == 1400)
        #expect(try onWriter("SELECT COUNT(*) FROM events WHERE message_id LIKE 'dropped%'") == 0)
        #expect(try onWriter("PRAGMA integrity_check") == "ok")
        let other = try DatabaseQueue(path: path)
        #expect(try other.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
    }

    @Test("with a rollback journal, a rolled-back growth's pages leave the cache")
    func rollbackJournal() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try CrescentStore() // configures SQLite as the engine does
        let queue = try DatabaseQueue(path: dir.appendingPathComponent("journal.db").path)
        func cacheBytes() throws -> Int32 {
            try queue.inDatabase { db in
                var current: Int32 = 0, highest: Int32 = 0
                sqlite3_db_status(db.sqliteConnection, SQLITE_DBSTATUS_CACHE_USED, &current, &highest, 0)
                return current
            }
        }
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, text TEXT)")
            for i in 0..<100 { try db.execute(sql: "INSERT INTO t(text) VALUES (?)", arguments: ["row \(i)"]) }
        }
        let cached = try cacheBytes()
        struct Abandon: Error {}
        #expect(throws: Abandon.self) {
            try queue.write { db in
                for i in 0..<20_000 { try db.execute(sql: "INSERT INTO t(text) VALUES (?)", arguments: [String(repeating: "x", count: 200) + "\(i)"]) }
                throw Abandon()
            }
        }
        #expect(try cacheBytes() < cached + 64 * 1024, "the abandoned pages are dropped from the cache")
        #expect(try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") } == 100)
        #expect(try queue.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
    }
}
