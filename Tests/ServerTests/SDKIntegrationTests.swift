import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

/// The real `crescent serve` on a free port, fed by the unchanged Segment and
/// RudderStack Python SDKs from PyPI (in `.build/sdk-venv`, which `make test`
/// and this test create when missing), checked through the admin API, then
/// stopped with SIGTERM.
@Suite("crescent serve with the Segment and RudderStack SDKs")
struct SDKIntegrationTests {
    static let venv = Fixtures.packageRoot.appendingPathComponent(".build/sdk-venv")

    /// One test at a time makes the venv (suites run in parallel).
    static let making = NSLock()

    /// The venv's python, creating the venv and installing the SDKs when needed.
    static func python() throws -> URL {
        making.lock()
        defer { making.unlock() }
        let python = venv.appendingPathComponent("bin/python")
        if FileManager.default.fileExists(atPath: python.path),
           try Fixtures.run(python, ["-c", "import segment.analytics, rudderstack.analytics, openapi_spec_validator, schemathesis"]).status == 0 {
            return python
        }
        let made = try Fixtures.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-m", "venv", venv.path])
        guard made.status == 0 else { throw SDKError("python3 -m venv failed: \(made.stderr)") }
        let pip = try Fixtures.run(venv.appendingPathComponent("bin/pip"),
                                   ["install", "-q", "segment-analytics-python", "rudder-sdk-python", "openapi-spec-validator",
                                    "schemathesis>=4.3,<5"])
        guard pip.status == 0 else { throw SDKError("pip install of the SDKs failed: \(pip.stderr)") }
        return python
    }

    @Test("identify, track and page from both SDKs with gzip; the admin API shows exactly what was sent")
    func sdks() async throws {
        let python = try Self.python()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try RunningServer(database: dir.appendingPathComponent("sdk.db").path)
        defer { server.stop() }

        let sent = try Fixtures.run(python, [Fixtures.packageRoot.appendingPathComponent("Tests/ServerTests/sdk_client.py").path,
                                             String(server.port), "wk"])
        #expect(sent.status == 0, "\(sent.stdoutText) \(sent.stderr)")

        let segment = try await server.admin("/v1/customers/sdk-segment")
        #expect((segment["traits"] as? [String: Any])?["plan"] as? String == "gold")
        let segmentEvents = (segment["recent_events"] as? [[String: Any]] ?? []).compactMap { $0["message_id"] as? String }
        #expect(Set(segmentEvents) == ["seg-1", "seg-2", "seg-3"])
        let rudder = try await server.admin("/v1/customers/sdk-rudder")
        #expect(rudder["orders_count"] as? Int == 1)
        #expect(rudder["total_spent"] as? Double == 99.5)
        let rudderEvents = (rudder["recent_events"] as? [[String: Any]] ?? []).compactMap { $0["message_id"] as? String }
        #expect(Set(rudderEvents) == ["rud-1", "rud-2", "rud-3"])

        let status = server.stop()
        #expect(status == 0)
        #expect(server.output.contains("everything accepted is committed"))
    }
}

@Suite("docs/openapi.yaml")
struct OpenAPITests {
    @Test("the OpenAPI file is valid OpenAPI 3 and names every endpoint of docs/api.md")
    func valid() throws {
        let python = try SDKIntegrationTests.python()
        let spec = Fixtures.packageRoot.appendingPathComponent("docs/openapi.yaml")
        let result = try Fixtures.run(python, ["-m", "openapi_spec_validator", spec.path])
        #expect(result.status == 0, "\(result.stdoutText) \(result.stderr)")
        let text = try String(contentsOf: spec, encoding: .utf8)
        let api = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("docs/api.md"), encoding: .utf8)
        let documented = Set(api.matches(of: /`(?:GET|POST|PUT|PATCH|DELETE) (\/[A-Za-z0-9\/{}_]+)/).map { String($0.1) })
        #expect(documented.count >= 10)
        let listed = Set(text.matches(of: /\n  (\/[A-Za-z0-9\/{}_]*):/).map { String($0.1) })
        for path in documented {
            // A template may be listed as itself or as its instances (each report its own path).
            let template = try Regex("^" + path.replacing(/\{[A-Za-z_]+\}/, with: "([a-z_]+|\\{[A-Za-z_]+\\})") + "$")
            #expect(listed.contains { $0.wholeMatch(of: template) != nil }, "\(path) is missing from openapi.yaml")
        }
        #expect(listed.contains("/v1/reports/sales") && listed.contains("/v1/customers/{id}"))
    }
}

struct SDKError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `crescent serve --port 0` in a child process, with write key `wk` and admin token `admin`.
final class RunningServer: @unchecked Sendable {
    let process = Process()
    let port: Int
    private let out = Pipe()
    private(set) var output = ""
    private var stopped: Int32?

    /// Starts `crescent serve` on a free port in `directory` (the package by
    /// default, so the shipped rules), standard error to `log` when given.
    init(database: String, arguments: [String] = ["--shards", "1"], directory: URL = Fixtures.packageRoot, log: URL? = nil) throws {
        process.executableURL = Fixtures.crescentExecutable()
        process.arguments = ["serve", "--port", "0", "--db", database] + arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["CRESCENT_WRITE_KEYS": "wk", "CRESCENT_ADMIN_TOKEN": "admin"]) { _, new in new }
        process.standardOutput = out
        if let log {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        // The first line names the bound port.
        var line = Data()
        let handle = out.fileHandleForReading
        while !line.contains(10) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        output = String(decoding: line, as: UTF8.self)
        guard let range = output.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
              let port = Int(output[range].split(separator: ":").last ?? "") else {
            process.terminate()
            throw SDKError("the server did not report its port: \(output)")
        }
        self.port = port
    }

    /// GET on the admin API, as JSON.
    func admin(_ path: String) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.setValue("Bearer admin", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// A request to the server: the status and the body as JSON.
    func request(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = ["Authorization": "Bearer admin"])
        async throws -> (status: Int, json: [String: Any], text: String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body.map { Data($0.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, json, String(decoding: data, as: UTF8.self))
    }

    /// SIGTERM, then the exit status (once).
    @discardableResult
    func stop() -> Int32 {
        if let stopped { return stopped }
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        output += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        stopped = process.terminationStatus
        return process.terminationStatus
    }
}
