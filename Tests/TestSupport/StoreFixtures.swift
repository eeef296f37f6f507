import Foundation
import GRDB
import Store

/// Write batches and write-ahead-log readings for the store's and the commit pipeline's tests.
public enum StoreFixtures {
    /// One `Product Viewed` row per index in `range` (about 330 bytes of
    /// payload each), message ids `prefix-i`, over 97 customers.
    public static func events(_ range: Range<Int>, prefix: String) -> WriteBatch {
        var batch = WriteBatch()
        let payload = String(repeating: "x", count: 300)
        for i in range {
            batch.events.append(EventRow(messageId: "\(prefix)-\(i)", customerId: "c\(i % 97)", type: "track",
                                         name: "Product Viewed", timestamp: Int64(i), payload: #"{"p":"\#(payload)"}"#))
        }
        return batch
    }

    /// Frames in the write-ahead log of the database at `path` now: what a
    /// passive checkpoint from another connection reports.
    public static func logFrames(_ path: String) throws -> Int {
        let other = try DatabaseQueue(path: path)
        let row = try other.writeWithoutTransaction { db in try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") }
        return row?[1] ?? -1
    }

    /// A file store checkpointed as `crescent serve` does it
    /// (``BackgroundCheckpoints``), with the thread's own checkpoints an hour
    /// apart: a test runs them (``BackgroundCheckpoints/checkpointNow()``)
    /// when it wants them. `body` gets the store, its path and the
    /// checkpoints; the folder is removed after.
    public static func withServerStore<T>(restartAfterFrames: Int,
                                          _ body: (CrescentStore, String, BackgroundCheckpoints) throws -> T) throws -> T {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crescent.db").path
        let store = try CrescentStore(path: path)
        guard let checkpoints = try BackgroundCheckpoints(store: store, interval: 3600, restartAfterFrames: restartAfterFrames) else {
            throw CocoaError(.fileNoSuchFile)
        }
        defer { checkpoints.stop() }
        return try body(store, path, checkpoints)
    }
}
