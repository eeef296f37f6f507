import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// How long the write-ahead log is, as the writer's commits report it
/// (SQLite's WAL hook), and the length at which the writer checkpoints so
/// that its next commit starts the log over (see ``BackgroundCheckpoints``).
final class LogLength: Sendable {
    /// Frames in the log after the last commit.
    let frames = Atomic<Int>(0)
    /// The bound; 0 while SQLite's automatic checkpoint is in charge.
    let restartAt = Atomic<Int>(0)
    /// Set by ``BackgroundCheckpoints`` once it has copied (and synced) all
    /// but the last few frames of a long log, so the writer's own
    /// checkpoint has little left to copy and sync; cleared by the writer's.
    let caughtUp = Atomic<Bool>(false)
    /// The writer's restart checkpoints so far, their time in all and the longest (nanoseconds).
    let restarts = Atomic<Int>(0)
    let restartNanos = Atomic<Int>(0)
    let longestRestartNanos = Atomic<Int>(0)

    /// Whether the writer should checkpoint now to start the log over: the
    /// log is long and the background checkpoints have caught up with it,
    /// or it is twice as long (they have not kept up).
    func restartDue() -> Bool {
        let bound = restartAt.load(ordering: .relaxed)
        let length = frames.load(ordering: .relaxed)
        guard bound > 0, length >= bound else { return false }
        return caughtUp.load(ordering: .acquiring) || length >= 2 * bound
    }
}

extension CrescentStore {
    /// Takes the log's length in hand: SQLite's automatic checkpoint, which
    /// runs inside the commit that crosses its threshold (so that commit's
    /// waiters wait for it too), is turned off, and ``restartLogIfLong()``
    /// checkpoints once the log holds `frames` frames.
    func restartLog(after frames: Int) throws {
        logLength.restartAt.store(max(1, frames), ordering: .relaxed)
        // Retained for as long as the process runs: the hook may fire on any later commit of the writer.
        let context = Unmanaged.passRetained(logLength).toOpaque()
        try writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            CrescentStore.growInChunks(db)
            sqlite3_wal_hook(db.sqliteConnection, { context, _, _, frames in
                if let context {
                    Unmanaged<LogLength>.fromOpaque(context).takeUnretainedValue().frames.store(Int(frames), ordering: .relaxed)
                }
                return SQLITE_OK
            }, context)
        }
    }

    /// Between two commits: once the log holds the frames set by
    /// ``restartLog(after:)`` and the background checkpoints have caught up
    /// with it (or it holds twice as many), a passive checkpoint on the
    /// writer. Nothing is appended meanwhile, so every frame is copied when
    /// it returns and the next commit starts the log over (unless a reader
    /// still uses an older snapshot: then a later call tries again). Returns
    /// whether it ran.
    ///
    /// Its commits wait for it, and its cost is its two syncs, which grow
    /// with what it copies: run at any moment, 15–35 ms on this project's
    /// machine (a run of `/v1/decide` answers over 5 ms each time); right
    /// after the background has caught up, the few frames appended since.
    @discardableResult
    public func restartLogIfLong() throws -> Bool {
        guard logLength.restartDue() else { return false }
        let started = DispatchTime.now().uptimeNanoseconds
        try writer.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
        let nanos = Int(DispatchTime.now().uptimeNanoseconds - started)
        logLength.frames.store(0, ordering: .relaxed)
        logLength.caughtUp.store(false, ordering: .releasing)
        logLength.restarts.add(1, ordering: .relaxed)
        logLength.restartNanos.add(nanos, ordering: .relaxed)
        logLength.longestRestartNanos.max(nanos, ordering: .relaxed)
        return true
    }

    /// The writer's log restarts since the store opened (``restartLogIfLong()``):
    /// how many, their seconds in all, and the longest. The commits queued
    /// behind one wait for it, so an operator watches the longest
    /// (`crescent_store_log_restart_seconds_max` in `/metrics`).
    public var logRestarts: (count: Int, seconds: Double, longest: Double) {
        (logLength.restarts.load(ordering: .relaxed),
         Double(logLength.restartNanos.load(ordering: .relaxed)) / 1e9,
         Double(logLength.longestRestartNanos.load(ordering: .relaxed)) / 1e9)
    }

    /// Frames in the write-ahead log after the writer's last commit, for a
    /// server's store (``BackgroundCheckpoints``); 0 for others.
    public var logFrameCount: Int { logLength.frames.load(ordering: .relaxed) }

    /// Bytes on disk of the database file and of its write-ahead log (0
    /// when there is none now); nil for an in-memory store. For operators
    /// watching the disk: a server's log stays under 192 MiB (see
    /// ``BackgroundCheckpoints``).
    public func fileSizes() -> (database: Int64, log: Int64)? {
        guard let path else { return nil }
        func size(_ file: String) -> Int64 {
            ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return (size(path), size(path + "-wal"))
    }
}
