import Foundation
import TestSupport
import Testing

/// The real `crescent serve` fuzzed by schemathesis (from PyPI, in the same
/// virtualenv as the SDKs) from docs/openapi.yaml: valid and invalid bodies,
/// parameters and encodings for every ingest, decision and admin endpoint.
/// Whatever it sends, the server answers as the file says (status codes,
/// content types, response headers and bodies; invalid input refused, valid
/// input accepted, 405 with `Allow` for a method a path does not serve,
/// requests without credentials refused), never with a 5xx, and keeps running;
/// and sequences of calls along the file's links answer consistently (what an
/// identify created can be read, corrected and erased; an erased customer is gone).
@Suite("crescent serve under schemathesis")
struct FuzzTests {
    @Test("fuzzed requests from the OpenAPI file: answers as documented, never a 5xx, then a clean stop")
    func neverDown() async throws {
        let python = try SDKIntegrationTests.python()
        let st = python.deletingLastPathComponent().appendingPathComponent("st")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A copy of the shipped rules: a rollback the fuzzer gets right rewrites the folder it serves.
        for folder in ["rules", "plugins"] {
            try FileManager.default.copyItem(at: Fixtures.packageRoot.appendingPathComponent(folder), to: dir.appendingPathComponent(folder))
        }
        let server = try RunningServer(database: dir.appendingPathComponent("fuzz.db").path, directory: dir)
        defer { server.stop() }
        let spec = Fixtures.packageRoot.appendingPathComponent("docs/openapi.yaml").path
        // Each operation takes the credentials its security scheme names, so one run covers
        // ingest and admin alike, and the stateful phase can follow the file's links across
        // them (identify a customer, then read, correct and erase them; add a list entry,
        // then list and remove it). Links are only the file's own: none inferred.
        let config = dir.appendingPathComponent("schemathesis.toml")
        try """
            [phases.stateful.inference]
            algorithms = []

            [auth.openapi.writeKey]
            username = "wk"
            password = "ignored"

            [auth.openapi.adminToken]
            bearer = "admin"
            """.write(to: config, atomically: true, encoding: .utf8)
        let run = try Fixtures.run(st, ["--config-file", config.path, "run", spec, "--url", "http://127.0.0.1:\(server.port)",
                                        "--checks", "all", "--max-examples", "25", "--seed", "20261124",
                                        "--generation-deterministic", "--no-color", "--phases", "examples,coverage,fuzzing,stateful"],
                                   in: dir, environment: ["HOME": dir.path, "SCHEMATHESIS_HOOKS": ""])
        let summary = run.stdoutText.split(separator: "\n").suffix(30).joined(separator: "\n")
        #expect(run.status == 0, "schemathesis: \(summary) \(run.stderr)")
        #expect(run.stdoutText.contains("generated"), "it ran: \(summary)")
        #expect(!run.stdoutText.contains("API Links:    0 covered"), "the stateful phase followed links: \(summary)")
        let health = try await server.request("GET", "/health", headers: [:])
        #expect(health.status == 200)
        #expect(server.stop() == 0)
        #expect(server.output.contains("everything accepted is committed"))
    }
}
