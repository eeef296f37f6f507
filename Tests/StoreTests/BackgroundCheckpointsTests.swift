import Foundation
import GRDB
import Store
import TestSupport
import Testing

/// The server's checkpoints (`BackgroundCheckpoints`): the log is copied into
/// the file off the commit path, and it never grows without bound.
@Suite("Background checkpoints")
struct BackgroundCheckpointsTests {
    @Test("a writer that never pauses still starts the log over once it holds restartAfterFrames frames")
    func logStaysBounded() throws {
        try StoreFixtures.withServerStore(restartAfterFrames: 100) { store, path in
            for round in 0..<300 {
                try store.commit(StoreFixtures.events(round * 20..<(round + 1) * 20, prefix: "b"))
                try store.restartLogIfLong() // as the commit pipeline does after each commit
            }
            // 300 commits wrote well over a thousand frames; the log holds the last restart's few.
            #expect(try StoreFixtures.logFrames(path) < 200)
            #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == 6000)
            #expect(try store.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
        }
    }
}
