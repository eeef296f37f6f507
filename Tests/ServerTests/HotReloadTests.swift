import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Store
import TestSupport
import Testing

/// Polls `condition` until it holds (the watcher works in real time); fails after `limit`.
func eventually(_ what: String, limit: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out waiting for: \(what)")
    throw CancellationError()
}

/// Sends tracks with unique message ids until stopped, and remembers the acknowledged ones.
final class SteadySender: @unchecked Sendable {
    private let lock = NSLock()
    private var acknowledged: [String] = []
    private var running = true
    private var task: Task<Void, any Error>?

    init(server: RunningServer) {
        task = Task {
            var round = 0
            while self.lock.withLock({ self.running }) {
                round += 1
                let ids = (0..<20).map { "steady-\(round)-\($0)" }
                let items = ids.enumerated().map { index, id in
                    #"{"type":"track","userId":"steady-\#(index % 7)","event":"Product Viewed","messageId":"\#(id)","properties":{"product_id":"p\#(index)"}}"#
                }
                let answer = try await server.request("POST", "/v1/batch", body: #"{"batch":[\#(items.joined(separator: ","))]}"#,
                                                      headers: ["Authorization": "Basic " + Data("wk:".utf8).base64EncodedString()])
                if answer.status == 200 { self.lock.withLock { self.acknowledged += ids } }
            }
        }
    }

    var count: Int { lock.withLock { acknowledged.count } }

    /// Stops after the request in flight and returns every acknowledged id.
    func stop() async throws -> [String] {
        lock.withLock { running = false }
        try await task?.value
        return lock.withLock { acknowledged }
    }
}

@Suite("Hot reload in crescent serve")
struct HotReloadTests {
    @Test("under a steady stream: a broken file and a file failing its scenario are refused, a good one goes live; no event lost or doubled")
    func reloadUnderLoad() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        for folder in ["rules", "plugins"] {
            try fm.copyItem(at: Fixtures.packageRoot.appendingPathComponent(folder), to: dir.appendingPathComponent(folder))
        }
        let log = dir.appendingPathComponent("serve.log")
        let server = try RunningServer(database: dir.appendingPathComponent("hot.db").path, arguments: ["--shards", "2"],
                                       directory: dir, log: log)
        defer { server.stop() }
        let started = try await server.request("GET", "/v1/rules")
        let original = try #require(started.json["version"] as? String)
        let sender = SteadySender(server: server)
        try await eventually("events flowing") { sender.count >= 200 }

        // 1. A syntax error: refused, reported with file and line; the old version keeps serving.
        let broken = dir.appendingPathComponent("rules/segments/broken.lua")
        try Data(#"segment "half_written" { when = function(c) return c.orders_count > end }"#.utf8).write(to: broken)
        var rules: [String: Any] = [:]
        try await eventually("the broken file is reported") {
            rules = try await server.request("GET", "/v1/rules").json
            return (rules["reload"] as? [String: Any])?["result"] as? String == "rejected"
        }
        #expect(rules["version"] as? String == original)
        let errors = try #require(rules["errors"] as? [[String: Any]])
        #expect(errors.contains { $0["file"] as? String == "rules/segments/broken.lua" && $0["line"] as? Int == 1 && $0["reload"] as? Bool == true })
        let metrics = try await server.request("GET", "/metrics", headers: [:]).text
        #expect(metrics.contains("crescent_rules_reload_failing 1"))
        #expect(metrics.contains(#"crescent_rules_reloads_total{result="rejected"}"#))
        let countBefore = sender.count
        try await eventually("events still acknowledged with the broken file present") { sender.count >= countBefore + 100 }

        // 2. Valid Lua, but the shipped scenario for card velocity fails: refused, the scenario named.
        try fm.removeItem(at: broken)
        let velocity = dir.appendingPathComponent("rules/fraud/velocity.lua")
        let velocitySource = try String(contentsOf: velocity, encoding: .utf8)
        try Data(velocitySource.replacingOccurrences(of: "if n >= 3 then return 40", with: "if n >= 30 then return 40").utf8)
            .write(to: velocity)
        var failed: [[String: Any]] = []
        try await eventually("the failing scenario is reported") {
            rules = try await server.request("GET", "/v1/rules").json
            failed = ((rules["reload"] as? [String: Any])?["failed_scenarios"] as? [[String: Any]]) ?? []
            return !failed.isEmpty
        }
        #expect(rules["version"] as? String == original)
        #expect(failed.contains { ($0["file"] as? String)?.hasSuffix("fraud/fraud_test.lua") == true })
        #expect((rules["errors"] as? [[String: Any]])?.contains { ($0["message"] as? String)?.contains("scenario") == true } == true)

        // 3. A good change: the velocity rule back, and a new segment: live, on every shard.
        try Data(velocitySource.utf8).write(to: velocity)
        try Data(#"segment "hot_reloaded" { description = "added while serving", when = function(c) return true end }"#.utf8)
            .write(to: dir.appendingPathComponent("rules/segments/hot.lua"))
        var probe: [String: Any]?
        try await eventually("the new segment is live and entered") {
            rules = try await server.request("GET", "/v1/rules").json
            probe = (rules["rules"] as? [[String: Any]])?.first { $0["id"] as? String == "segment:hot_reloaded" }
            return (probe?["hits"] as? Int ?? 0) >= 7
        }
        #expect(rules["version"] as? String != original)
        #expect((rules["reload"] as? [String: Any])?["result"] as? String == "loaded")
        #expect((rules["errors"] as? [[String: Any]])?.isEmpty == true, "nothing failing any more")
        #expect(try await server.request("GET", "/metrics", headers: [:]).text.contains("crescent_rules_reload_failing 0"))

        let acknowledged = try await sender.stop()
        #expect(server.stop() == 0)
        let store = try CrescentStore(path: dir.appendingPathComponent("hot.db").path)
        #expect(try store.count("events") == acknowledged.count, "every acknowledged event once, nothing else")
        let stored = Set(try store.messageIds(like: "steady-%"))
        #expect(stored == Set(acknowledged))
        let logged = try String(contentsOf: log, encoding: .utf8)
        #expect(logged.contains("rules NOT reloaded"))
        #expect(logged.contains("rules/segments/broken.lua:1:"))
        #expect(logged.contains("rules reloaded: version"))
    }
}

@Suite("Rule reload and rollback over the admin API")
struct AdminReloadTests {
    @Test("POST /v1/rules/reload loads an edit; POST /v1/rules/rollback puts the earlier version back, files and engine")
    func reloadAndRollback() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for folder in ["rules", "plugins"] {
            try FileManager.default.copyItem(at: Fixtures.packageRoot.appendingPathComponent(folder), to: dir.appendingPathComponent(folder))
        }
        var configuration = ServerConfiguration()
        configuration.database = dir.appendingPathComponent("admin.db").path
        configuration.rules = dir.appendingPathComponent("rules").path
        configuration.plugins = dir.appendingPathComponent("plugins").path
        configuration.setAdminToken("admin")
        let server = try CrescentServer(configuration: configuration)
        let original = server.gateway.engine.rulesVersion
        try server.gateway.engine.flush() // the first version is on record
        let added = dir.appendingPathComponent("rules/segments/added.lua")
        try Data(#"segment "added_later" { when = function(c) return c.orders_count >= 7 end }"#.utf8).write(to: added)
        try await Application(router: server.router()).test(.router) { client in
            let admin: HTTPFields = [.authorization: "Bearer admin"]
            #expect(try await client.execute(uri: "/v1/rules/reload", method: .post).status == .unauthorized)
            let reload = try await client.execute(uri: "/v1/rules/reload", method: .post, headers: admin)
            #expect(reload.status == .ok)
            #expect(reload.json["result"] as? String == "loaded")
            let edited = server.gateway.engine.rulesVersion
            #expect(edited != original)
            #expect(server.gateway.engine.declarations.contains { $0.ruleId == "segment:added_later" })
            try server.gateway.engine.flush()

            let unknown = try await client.execute(uri: "/v1/rules/rollback", method: .post, headers: admin,
                                                   body: ByteBuffer(string: #"{"version":"ffffffffffff"}"#))
            #expect(unknown.status == .notFound)
            #expect(unknown.json["message"] as? String == "no rule set version ffffffffffff in the database (see crescent rules history)")
            #expect(try await client.execute(uri: "/v1/rules/rollback", method: .post, headers: admin,
                                             body: ByteBuffer(string: "{}")).status == .badRequest)
            // A number, or a prefix too short to name one version on purpose, is refused before any file is touched.
            for body in [#"{"version":0}"#, #"{"version":"\#(original.prefix(1))"}"#] {
                #expect(try await client.execute(uri: "/v1/rules/rollback", method: .post, headers: admin,
                                                 body: ByteBuffer(string: body)).status == .badRequest, "\(body)")
            }

            let rollback = try await client.execute(uri: "/v1/rules/rollback", method: .post, headers: admin,
                                                    body: ByteBuffer(string: #"{"version":"\#(original.prefix(8))"}"#))
            #expect(rollback.status == .ok, "\(rollback.text)")
            #expect(rollback.json["version"] as? String == original)
            #expect(rollback.json["files_removed"] as? Int == 1)
            #expect((rollback.json["reload"] as? [String: Any])?["result"] as? String == "loaded")
            #expect(server.gateway.engine.rulesVersion == original)
            #expect(!FileManager.default.fileExists(atPath: added.path))
            let backup = try #require(rollback.json["backup"] as? String)
            #expect(FileManager.default.fileExists(atPath: backup + "/segments/added.lua"))
            let rules = try await client.execute(uri: "/v1/rules", method: .get, headers: admin).json
            #expect(rules["version"] as? String == original)
        }
    }
}
