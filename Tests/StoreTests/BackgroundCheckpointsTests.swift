import Foundation
import GRDB
import Store
import TestSupport
import Testing

/// The server's checkpoints (`BackgroundCheckpoints`): the log is copied into
/// the file off the commit path, and it never grows without bound.
@Suite("Background checkpoints")
struct BackgroundCheckpointsTests {
    /// Frames in the write-ahead log now (a passive checkpoint's report, from another connection).
    static func logFrames(_ path: String) throws -> Int {
        let other = try DatabaseQueue(path: path)
        let row = try other.writeWithoutTransaction { db in try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") }
        return try #require(row)[1]
    }

    @Test("a writer that never pauses still starts the log over once it holds restartAfterFrames frames")
    func logStaysBounded() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crescent.db").path
        let store = try CrescentStore(path: path)
        // The thread's own checkpoints never come (an hour apart): the bound is the writer's alone.
        let checkpoints = try #require(try BackgroundCheckpoints(store: store, interval: 3600, restartAfterFrames: 100))
        defer { checkpoints.stop() }
        for round in 0..<300 {
            try store.commit(LogWriteBufferTests.events(round * 20..<(round + 1) * 20, prefix: "b"))
            try store.restartLogIfLong() // as the commit pipeline does after each commit
        }
        // 300 commits wrote well over a thousand frames; the log holds the last restart's few.
        #expect(try Self.logFrames(path) < 200)
        #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == 6000)
        #expect(try store.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
    }
}
