import Foundation
import GRDB
import GRDBSQLite

/// Write-ahead-log checkpoints off the commit path, for a server: SQLite's
/// automatic checkpoint runs inside whichever commit crosses the threshold
/// and syncs the database file there, so that commit (and every request
/// waiting on it) stalls. Here a thread with its own connection copies the
/// log into the database every `interval` (a passive checkpoint: it never
/// blocks writers), and the writer's automatic checkpoint waits for a long
/// log. Small, frequent checkpoints keep each sync short: measured on
/// `/v1/decide` at 1 k/s, p99 31 ms with SQLite's own, 17 ms every 5 s,
/// 9.6 ms every 0.2 s, 4.8 ms every 0.05 s.
///
/// The log only starts over from its beginning when a commit begins with
/// every frame already copied, and under steady load this thread never
/// catches up with a writer that keeps appending: the log grew by about
/// 80 KiB a decision, past 2 GB beside a 112 MB database. So the writer
/// still checkpoints by itself once the log holds `restartAfterFrames`
/// frames: it has little left to copy and nothing is appended meanwhile,
/// so its next commit starts the log over, within the store's 192 MiB file.
/// The commit pipeline calls ``CrescentStore/restartLogIfLong()`` after it
/// has told a commit's waiters, so no answer waits for that checkpoint but
/// those of the commits queued behind it. Those wait for its syncs, which
/// grow with what it copies, so the writer waits for this thread to catch
/// up first: once the log is long, this thread repeats its checkpoint
/// until little is left to copy (`caughtUpWithin` frames), and the writer
/// checkpoints right after. Measured on `/v1/decide` at 1 k/s
/// (docs/performance.md): the writer's restarts stalled the commits
/// 15–35 ms each, every 0.8 s, before they waited for it.
public final class BackgroundCheckpoints: @unchecked Sendable {
    private let connection: DatabaseQueue
    private let logLength: LogLength
    /// Frames left to copy under which the log counts as caught up.
    private let caughtUpWithin: Int
    private let condition = NSCondition()
    private var stopped = false

    /// Starts checkpointing the store's file; nil for an in-memory store.
    /// `restartAfterFrames` (pages of 4 KiB) bounds the log: 44,000 frames of
    /// 4,120 bytes (a page and its header), 173 MiB, leave the frames appended
    /// while the background catches up room within the store's 192 MiB
    /// `journal_size_limit`, so the file is not cut back and grown again at
    /// each restart. Each restart syncs every page copied since the last, and
    /// a page that many commits rewrite (an index's) is written once per
    /// sync: against 14,000 frames, 44,000 took the ingest from 20.7 k to
    /// 23.1 k events/s (median of nine alternated rounds) and its commits
    /// from 27.2 to 25.0 µs an event (docs/performance.md).
    public init?(store: CrescentStore, interval: TimeInterval = 0.05, restartAfterFrames: Int = 44_000) throws {
        guard let path = store.path else { return nil }
        var configuration = Configuration()
        configuration.prepareDatabase { db in CrescentStore.growInChunks(db) }
        connection = try DatabaseQueue(path: path, configuration: configuration)
        logLength = store.logLength
        caughtUpWithin = max(1, restartAfterFrames / 256)
        try store.restartLog(after: restartAfterFrames)
        let thread = Thread { [self] in
            ThreadName.set("checkpoint")
            while true {
                condition.lock()
                if !stopped { condition.wait(until: Date().addingTimeInterval(interval)) }
                let done = stopped
                condition.unlock()
                if done { return }
                try? checkpointNow()
            }
        }
        thread.start()
    }

    /// One passive checkpoint (what the thread does every `interval`); when
    /// the log has reached its bound, the catch-up that lets the writer
    /// start it over (``CrescentStore/restartLogIfLong()``) cheaply: more
    /// checkpoints until at most `caughtUpWithin` frames are left to copy
    /// (four at most: a writer that never pauses outruns them), then the
    /// file's sync. SQLite syncs the file only in a checkpoint that copies
    /// the whole log, which under steady commits only the writer's does, so
    /// every page copied since its last restart waited for that one (5–13 ms
    /// of the writer's time on this project's machine). Synced here, off
    /// the commit path, twice (what was copied during the first sync is
    /// little), the writer's own sync has only its few frames. A writer
    /// that never pauses outruns the checkpoints; then they do not sync.
    public func checkpointNow() throws {
        guard var (length, copied) = try passiveCheckpoint() else { return }
        let bound = logLength.restartAt.load(ordering: .relaxed)
        guard bound > 0, logLength.frames.load(ordering: .relaxed) >= bound,
              !logLength.caughtUp.load(ordering: .acquiring) else { return }
        var passes = 1
        while length - copied > caughtUpWithin && passes < 4 {
            guard let pass = try passiveCheckpoint() else { return }
            (length, copied) = pass
            passes += 1
        }
        // Converging (the writer pauses between commits): sync here. Not under a
        // writer that never pauses (an ingest at full speed): the syncs would
        // only add to its own, which has as much to write either way.
        if length - copied <= 8 * caughtUpWithin {
            for _ in 0..<2 {
                syncDatabaseFile()
                guard try passiveCheckpoint() != nil else { return }
            }
        }
        // (Unless the writer started the log over meanwhile.)
        if logLength.frames.load(ordering: .relaxed) >= bound { logLength.caughtUp.store(true, ordering: .releasing) }
    }

    /// Frames in the log and copied, or nil when the writer is
    /// checkpointing itself (SQLite lets one checkpoint run at a time).
    private func passiveCheckpoint() throws -> (walFrameCount: Int, checkpointedFrameCount: Int)? {
        do {
            return try connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            return nil
        }
    }

    /// Syncs the database file through this connection's own handle (its
    /// VFS's `xSync`, an `fdatasync`): it writes back the pages the
    /// checkpoints copied into it. Not through a descriptor of our own:
    /// closing one would drop every POSIX lock this process holds on the
    /// file, SQLite's included.
    private func syncDatabaseFile() {
        try? connection.writeWithoutTransaction { db in
            var file: UnsafeMutablePointer<sqlite3_file>?
            guard sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK,
                  let file, let sync = file.pointee.pMethods?.pointee.xSync else { return }
            _ = sync(file, SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY)
        }
    }

    /// Ends the thread after a last checkpoint.
    public func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
        try? connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
    }
}
