import Foundation
import GRDB
import Store
import TestSupport
import Testing

/// The VFS shim that gathers write-ahead-log writes (`CWALBuffer`): fewer
/// system calls, and nothing a reader can see changes.
@Suite("Gathered write-ahead-log writes")
struct LogWriteBufferTests {
    @Test("a large commit reaches the log in few writes, and another connection reads every row of it at once")
    func largeCommit() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crescent.db").path
        let store = try CrescentStore(path: path)
        let before = CrescentStore.savedLogWrites
        // About 3 MiB of log: many times the 124 KiB the buffer passes on per call.
        try store.commit(StoreFixtures.events(0..<6000, prefix: "m"))
        #expect(CrescentStore.savedLogWrites - before > 1000)

        // A separate connection, as another process would open it.
        let other = try DatabaseQueue(path: path)
        #expect(try other.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == 6000)
        #expect(try other.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
    }

    @Test("each commit is visible to another connection as soon as it returns, across checkpoints and log restarts")
    func visibleAfterEveryCommit() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crescent.db").path
        let store = try CrescentStore(path: path)
        let other = try DatabaseQueue(path: path)
        var total = 0
        for round in 0..<12 {
            let size = round % 3 == 0 ? 1500 : 40 // large and small commits, as a server makes them
            try store.commit(StoreFixtures.events(total..<(total + size), prefix: "r"))
            total += size
            #expect(try other.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == total)
            // Copy the log into the file and empty it: the next commit writes the log from its start again.
            if round % 4 == 3 { try store.checkpoint() }
        }
        #expect(try other.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
        let reopened = try CrescentStore(path: path)
        #expect(try reopened.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == total)
    }
}
