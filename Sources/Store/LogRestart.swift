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
            sqlite3_wal_hook(db.sqliteConnection, { context, _, _, frames in
                if let context {
                    Unmanaged<LogLength>.fromOpaque(context).takeUnretainedValue().frames.store(Int(frames), ordering: .relaxed)
                }
                return SQLITE_OK
            }, context)
        }
    }

    /// Between two commits: once the log holds the frames set by
    /// ``restartLog(after:)``, a passive checkpoint on the writer. Nothing is
    /// appended meanwhile, so every frame is copied when it returns and the
    /// next commit starts the log over (unless a reader still uses an older
    /// snapshot: then the next call tries again). Returns whether it ran.
    @discardableResult
    public func restartLogIfLong() throws -> Bool {
        let bound = logLength.restartAt.load(ordering: .relaxed)
        guard bound > 0, logLength.frames.load(ordering: .relaxed) >= bound else { return false }
        try writer.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
        logLength.frames.store(0, ordering: .relaxed)
        return true
    }

    /// Bytes on disk of the database file and of its write-ahead log (0
    /// when there is none now); nil for an in-memory store. For operators
    /// watching the disk: a server's log stays near 64 MiB (see
    /// ``BackgroundCheckpoints``).
    public func fileSizes() -> (database: Int64, log: Int64)? {
        guard let path else { return nil }
        func size(_ file: String) -> Int64 {
            ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return (size(path), size(path + "-wal"))
    }
}
