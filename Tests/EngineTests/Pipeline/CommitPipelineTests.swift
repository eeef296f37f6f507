@testable import Engine
import Foundation
import GRDB
import Store
import TestSupport
import Testing

@Suite("The commit pipeline")
struct CommitPipelineTests {
    @Test("a server's steady commits keep the write-ahead log bounded: the pipeline starts it over after answering")
    func logStartsOver() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crescent.db").path
        let store = try CrescentStore(path: path)
        // As `crescent serve` sets it up, with a small bound and the thread's own checkpoints an hour apart.
        let checkpoints = try #require(try BackgroundCheckpoints(store: store, interval: 3600, restartAfterFrames: 100))
        defer { checkpoints.stop() }
        let pipeline = CommitPipeline(store: store)
        let answered = Collected<Bool>()
        let payload = String(repeating: "x", count: 300)
        for round in 0..<300 {
            var batch = WriteBatch()
            for i in round * 20..<(round + 1) * 20 {
                batch.events.append(EventRow(messageId: "m-\(i)", customerId: "c\(i % 97)", type: "track",
                                             name: "Product Viewed", timestamp: Int64(i), payload: #"{"p":"\#(payload)"}"#))
            }
            try pipeline.submit(batch, notifying: [{ answered.append((try? $0.get()) != nil) }])
        }
        try pipeline.drain()
        #expect(answered.values.count == 300 && answered.values.allSatisfy { $0 })
        // Over a thousand frames were written; the log holds those since its last restart.
        let other = try DatabaseQueue(path: path)
        let log = try other.writeWithoutTransaction { db in try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") }
        let frames: Int = try #require(log)[1]
        #expect(frames < 200)
        #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == 6000)
    }
}
