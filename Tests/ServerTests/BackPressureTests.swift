import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import Engine
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import Server
import Store
import TestSupport
import Testing

@Suite("Back-pressure and shutdown")
struct BackPressureTests {
    @Test("past max_in_flight events waiting for their commit, requests get 429 with Retry-After; none is lost")
    func saturation() async throws {
        let (server, _) = try makeServer(maxInFlight: 3)
        try await Application(router: server.router()).test(.router) { client in
            server.gateway.holdCommits(true)
            let auth: HTTPFields = [.authorization: basic("wk")]
            let first = Task {
                try await client.execute(uri: "/v1/batch", method: .post, headers: auth, body: ByteBuffer(string:
                    #"{"batch":[{"type":"track","userId":"a","event":"E","messageId":"b1"},{"type":"track","userId":"a","event":"E","messageId":"b2"}]}"#))
            }
            while server.gateway.pending < 2 { await Task.yield() }
            // Two good messages and one without `event`.
            let second = #"{"batch":[{"type":"track","userId":"b","event":"E","messageId":"c1"},{"type":"track","userId":"b","event":"E","messageId":"c2"},{"type":"track","userId":"b","messageId":"c3"}]}"#
            let refused = try await client.execute(uri: "/v1/batch", method: .post, headers: auth, body: ByteBuffer(string: second))
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(refused.json["code"] as? String == "saturated")
            #expect(try await client.execute(uri: "/ready", method: .get).status == .ok, "one more event still fits")
            server.gateway.holdCommits(false)
            #expect(try await first.value.status == .ok)
            #expect(try server.gateway.engine.store.count("events") == 2)
            // The SDK sends the batch again: its refused message is kept once, from the attempt answered 200.
            let retried = try await client.execute(uri: "/v1/batch", method: .post, headers: auth, body: ByteBuffer(string: second))
            #expect(retried.status == .ok)
            #expect((retried.json["rejected"] as? [[String: Any]])?.map { $0["index"] as? Int } == [2])
            let listed = try await client.execute(uri: "/v1/rejected", method: .get, headers: [.authorization: "Bearer admin"])
            #expect((listed.json["entries"] as? [[String: Any]])?.map { ($0["message"] as? [String: Any])?["messageId"] as? String } == ["c3"])
            #expect(try await client.execute(uri: "/metrics", method: .get).text.contains("crescent_messages_rejected_total 1"))
        }
    }

    @Test("while the clock catches up after a start, /health answers and /ready says why it is not ready")
    func catchingUp() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            server.caughtUp.begin()
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            let waiting = try await client.execute(uri: "/ready", method: .get)
            #expect(waiting.status == .serviceUnavailable)
            #expect((waiting.json["reason"] as? String)?.hasPrefix("catching up") == true)
            // The real catch-up, queued on the shards, ends it.
            server.startCatchUp(to: Int64(Date().timeIntervalSince1970 * 1000))
            try await eventually("ready after the catch-up") {
                try await client.execute(uri: "/ready", method: .get).status == .ok
            }
        }
    }

    @Test("/metrics, GET /v1/rules and the dashboard answer while the shards are busy catching up, with their last figures")
    func metricsWhileBusy() async throws {
        let dir = try Fixtures.temporaryDirectory()
        var configuration = ServerConfiguration()
        configuration.database = dir.appendingPathComponent("serve.db").path
        configuration.rules = Fixtures.packageRoot.appendingPathComponent("rules").path
        configuration.plugins = Fixtures.packageRoot.appendingPathComponent("plugins").path
        configuration.addWriteKeys(["wk"])
        configuration.setAdminToken("admin")
        configuration.metricsWait = .milliseconds(50)
        let server = try CrescentServer(configuration: configuration)
        try await Application(router: server.router()).test(.router) { client in
            let auth: HTTPFields = [.authorization: basic("wk")]
            #expect(try await client.execute(uri: "/v1/track", method: .post, headers: auth, body: ByteBuffer(string:
                #"{"userId":"a","event":"Order Completed","properties":{"order_id":"o1","total":20}}"#)).status == .ok)
            // Fresh figures once the shard answers within the (short) wait; a loaded machine may take a few scrapes.
            var before = ""
            try await eventually("fresh figures before the shard is held") {
                before = try await client.execute(uri: "/metrics", method: .get).text
                return before.contains("crescent_engine_readings_age_seconds 0")
            }
            #expect(before.contains("crescent_catching_up 0"))
            #expect(before.contains("crescent_sweep_waiting_customers 0"))
            #expect(before.contains("crescent_timers_overdue 0"))
            #expect(before.contains(#"crescent_rule_hits{rule="segment:bronze"} 1"#))

            // The shard is busy (as with a long catch-up) until released.
            let release = DispatchSemaphore(value: 0)
            server.caughtUp.begin()
            server.gateway.engine.onShardAsync(0) { _ in release.wait() }
            let during = try await client.execute(uri: "/metrics", method: .get)
            #expect(during.status == .ok)
            #expect(during.text.contains("crescent_catching_up 1"))
            #expect(during.text.contains(#"crescent_rule_hits{rule="segment:bronze"} 1"#), "the last figures")
            let rules = try await client.execute(uri: "/v1/rules", method: .get, headers: [.authorization: "Bearer admin"])
            #expect(rules.status == .ok)
            let bronze = (rules.json["rules"] as? [[String: Any]])?.first { $0["id"] as? String == "segment:bronze" }
            #expect(bronze?["hits"] as? Int == 1)
            #expect((bronze?["file"] as? String)?.hasSuffix("segments/loyalty.lua") == true)
            let page = try await client.execute(uri: "/?token=admin", method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("bronze"))
            release.signal()
            server.caughtUp.finish()
            try await eventually("fresh figures once the shard is free") {
                try await client.execute(uri: "/metrics", method: .get).text.contains("crescent_catching_up 0")
            }
        }
    }

    @Test("SIGTERM during load: every acknowledged event is in the store")
    func sigtermUnderLoad() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = dir.appendingPathComponent("load.db").path
        let server = try RunningServer(database: database)
        final class Acks: @unchecked Sendable {
            let lock = NSLock()
            var ids: [String] = []
            func add(_ batch: [String]) { lock.withLock { ids += batch } }
            var count: Int { lock.withLock { ids.count } }
        }
        let acks = Acks()
        let url = URL(string: "http://127.0.0.1:\(server.port)/v1/batch")!
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sender in 0..<4 {
                group.addTask {
                    for round in 0..<10_000 {
                        let ids = (0..<50).map { "s\(sender)-r\(round)-\($0)" }
                        let items = ids.map { #"{"type":"track","userId":"u\#(sender)","event":"Product Viewed","messageId":"\#($0)","properties":{"product_id":"p"}}"# }
                        var request = URLRequest(url: url)
                        request.httpMethod = "POST"
                        request.setValue(basic("wk"), forHTTPHeaderField: "Authorization")
                        request.httpBody = Data(#"{"batch":[\#(items.joined(separator: ","))]}"#.utf8)
                        guard let (_, response) = try? await URLSession.shared.data(for: request) else { return }
                        guard (response as? HTTPURLResponse)?.statusCode == 200 else { return }
                        acks.add(ids)
                    }
                }
            }
            group.addTask {
                while acks.count < 2_000 { try await Task.sleep(for: .milliseconds(5)) }
                server.stop()
            }
            try await group.waitForAll()
        }
        #expect(server.stop() == 0)
        #expect(server.output.contains("everything accepted is committed"))
        let store = try CrescentStore(path: database)
        var missing = 0
        for id in acks.ids where try !store.hasEvent(messageId: id) { missing += 1 }
        #expect(acks.count >= 2_000)
        #expect(missing == 0, "\(missing) acknowledged events are not in the store")
    }
}
