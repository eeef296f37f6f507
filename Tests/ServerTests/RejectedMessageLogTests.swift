import Foundation
@testable import Server
import Store
import TestSupport
import Testing

@Suite("Refused messages: kept off the request's path, bounded, summarized in the log")
struct RejectedMessageLogTests {
    static func refused(_ reason: String) -> RejectedMessage {
        RejectedMessage(receivedAt: 0, source: "/v1/track", code: "invalid_message", reason: reason, payload: "{}")
    }

    @Test("every refused message is stored; the log says so at most once per interval")
    func storedAndSummarized() throws {
        let store = try CrescentStore()
        let lines = Collected<String>()
        let log = RejectedMessageLog(store: store, logEvery: .seconds(3600), log: { lines.append($0) })
        log.record([Self.refused("no event")])
        log.flush()
        #expect(lines.values == ["refused 1 message (latest: /v1/track: no event); GET /v1/rejected lists them"])
        log.record([Self.refused("no id"), Self.refused("no type")])
        log.flush()
        #expect(lines.values.count == 1, "the next line waits for the interval")
        #expect(try store.rejectedMessages().map(\.reason) == ["no type", "no id", "no event"])
    }

    @Test("past the bound, refused messages are counted as dropped instead of queued")
    func bounded() throws {
        let store = try CrescentStore()
        let log = RejectedMessageLog(store: store, bound: 2, log: { _ in })
        log.record([Self.refused("a"), Self.refused("b"), Self.refused("c")])
        log.flush()
        #expect(log.dropped == 1)
        #expect(try store.rejectedMessages().count == 2)
    }
}
