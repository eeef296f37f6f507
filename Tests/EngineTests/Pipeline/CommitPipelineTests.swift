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
        try StoreFixtures.withServerStore(restartAfterFrames: 100) { store, path, checkpoints in
            let pipeline = CommitPipeline(store: store)
            let answered = Collected<Bool>()
            for round in 0..<300 {
                try pipeline.submit(StoreFixtures.events(round * 20..<(round + 1) * 20, prefix: "m"),
                                    notifying: [{ answered.append((try? $0.get()) != nil) }])
                if round % 10 == 9 { try checkpoints.checkpointNow() } // the background thread's turns
            }
            try pipeline.drain()
            #expect(answered.values.count == 300 && answered.values.allSatisfy { $0 })
            // Over a thousand frames were written; the log holds those since its last restart
            // (over 4,600 when the pipeline did not start it over).
            #expect(try StoreFixtures.logFrames(path) < 260)
            #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == 6000)
        }
    }
}
