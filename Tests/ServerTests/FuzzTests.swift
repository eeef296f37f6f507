import Foundation
import TestSupport
import Testing

/// The real `crescent serve` fuzzed by schemathesis (from PyPI, in the same
/// virtualenv as the SDKs) from docs/openapi.yaml: valid and invalid bodies,
/// parameters and encodings for every ingest, decision and admin endpoint.
/// Whatever it sends, the server answers as the file says (status codes,
/// content types, response headers and bodies; invalid input refused, valid
/// input accepted, 405 with `Allow` for a method a path does not serve,
/// requests without credentials refused), never with a 5xx, and keeps running.
@Suite("crescent serve under schemathesis")
struct FuzzTests {
    @Test("fuzzed requests from the OpenAPI file: answers as documented, never a 5xx, then a clean stop")
    func neverDown() async throws {
        let python = try SDKIntegrationTests.python()
        let st = python.deletingLastPathComponent().appendingPathComponent("st")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try RunningServer(database: dir.appendingPathComponent("fuzz.db").path)
        defer { server.stop() }
        let spec = Fixtures.packageRoot.appendingPathComponent("docs/openapi.yaml").path
        let basic = "Basic " + Data("wk:".utf8).base64EncodedString()
        for (tags, authorization) in [(["ingest", "decisions"], basic), (["admin", "operations"], "Bearer admin")] {
            let run = try Fixtures.run(st, ["run", spec, "--url", "http://127.0.0.1:\(server.port)", "-H", "Authorization: \(authorization)",
                                            "--checks", "all", "--max-examples", "25", "--seed", "20261124",
                                            "--generation-deterministic", "--no-color", "--phases", "examples,coverage,fuzzing"]
                                       + tags.flatMap { ["--include-tag", $0] },
                                       in: dir, environment: ["HOME": dir.path, "SCHEMATHESIS_HOOKS": ""])
            let summary = run.stdoutText.split(separator: "\n").suffix(25).joined(separator: "\n")
            #expect(run.status == 0, "schemathesis on \(tags): \(summary) \(run.stderr)")
            #expect(run.stdoutText.contains("generated"), "it ran: \(summary)")
        }
        let health = try await server.request("GET", "/health", headers: [:])
        #expect(health.status == 200)
        #expect(server.stop() == 0)
        #expect(server.output.contains("everything accepted is committed"))
    }
}
