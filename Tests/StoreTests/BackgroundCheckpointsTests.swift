import Foundation
import GRDB
import Store
import TestSupport
import Testing

/// The server's checkpoints (`BackgroundCheckpoints`): the log is copied into
/// the file off the commit path, and it never grows without bound.
@Suite("Background checkpoints")
struct BackgroundCheckpointsTests {
    @Test("the writer starts a long log over once the background checkpoints have caught up with it, not before")
    func writerWaitsForTheBackground() throws {
        try StoreFixtures.withServerStore(restartAfterFrames: 100) { store, path, checkpoints in
            var round = 0
            func commit() throws {
                try store.commit(StoreFixtures.events(round * 20..<(round + 1) * 20, prefix: "w"))
                round += 1
            }
            // Past the bound, short of twice it: the background has not caught up, so the writer leaves the log alone.
            while store.logFrameCount < 100 { try commit() }
            #expect(store.logFrameCount < 200)
            #expect(try store.restartLogIfLong() == false)
            // The background catches up (its checkpoints, the file's sync); the writer's checkpoint then runs.
            try checkpoints.checkpointNow()
            #expect(store.logRestarts.count == 0)
            #expect(try store.restartLogIfLong() == true)
            #expect(store.logRestarts.count == 1 && store.logRestarts.seconds > 0)
            #expect(store.logRestarts.longest == store.logRestarts.seconds)
            try commit() // starts the log over
            #expect(try store.logFrameCount < 40 && StoreFixtures.logFrames(path) < 40)
            #expect(try store.restartLogIfLong() == false) // a short log again
            #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == round * 20)
            #expect(try store.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
        }
    }

    @Test("a writer that never pauses, with no background catching up, still starts the log over at twice the bound")
    func logStaysBounded() throws {
        try StoreFixtures.withServerStore(restartAfterFrames: 100) { store, path, _ in
            var longest = 0
            for round in 0..<300 {
                try store.commit(StoreFixtures.events(round * 20..<(round + 1) * 20, prefix: "b"))
                longest = max(longest, store.logFrameCount)
                try store.restartLogIfLong() // as the commit pipeline does after each commit
            }
            // 300 commits wrote thousands of frames; the log never held much more than twice the bound.
            #expect(longest >= 200 && longest < 260)
            #expect(try StoreFixtures.logFrames(path) < 260)
            #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == 6000)
            #expect(try store.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
        }
    }

    @Test("a server's database file grows by whole chunks of 8 MiB, whichever connection copies the log into it")
    func fileGrowsInChunks() throws {
        try StoreFixtures.withServerStore(restartAfterFrames: 10) { store, _, checkpoints in
            for round in 0..<20 { try store.commit(StoreFixtures.events(round * 20..<(round + 1) * 20, prefix: "g")) }
            #expect(try store.restartLogIfLong()) // the writer's own checkpoint (the log is past twice the bound)
            #expect(try #require(store.fileSizes()).database == 8 << 20)
            for round in 20..<1200 { try store.commit(StoreFixtures.events(round * 20..<(round + 1) * 20, prefix: "g")) }
            try checkpoints.checkpointNow() // the background's
            let size = try #require(store.fileSizes()).database
            #expect(size > 8 << 20 && size % (8 << 20) == 0)
        }
    }
}
