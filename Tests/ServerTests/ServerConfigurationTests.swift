import Foundation
import Server
import TestSupport
import Testing

@Suite("Server configuration: file and environment")
struct ServerConfigurationTests {
    func file(_ text: String) throws -> String {
        let dir = try Fixtures.temporaryDirectory(files: ["crescent.json": text])
        return dir.appendingPathComponent("crescent.json").path
    }

    func problem(_ text: String) throws -> String {
        var configuration = ServerConfiguration()
        do {
            try configuration.apply(file: try file(text))
        } catch {
            return "\(error)"
        }
        return "no error"
    }

    @Test("a file sets every setting; write keys and the admin token are accepted, as hashes")
    func appliesFile() throws {
        var configuration = ServerConfiguration()
        try configuration.apply(file: try file("""
            {"host": "0.0.0.0", "port": 9090, "db": "shop.db", "rules": "shop/rules", "plugins": "shop/plugins", "shards": 3,
             "max_in_flight": 500, "watch_rules": false, "reload_runs_scenarios": false, "historical_after": "7d",
             "write_keys": ["k1", "k2"], "admin_token": "secret",
             "channels": {"crm": {"url": "https://crm.example/hook", "secret": "s", "max_attempts": 3}}}
            """))
        #expect(configuration.host == "0.0.0.0" && configuration.port == 9090 && configuration.database == "shop.db")
        #expect(configuration.rules == "shop/rules" && configuration.plugins == "shop/plugins" && configuration.shards == 3)
        #expect(configuration.maxInFlight == 500 && !configuration.watchRules && !configuration.reloadRunsScenarios)
        #expect(configuration.acceptsWriteKey("k2") && !configuration.acceptsWriteKey("k3"))
        #expect(configuration.acceptsAdminToken("secret") && !configuration.acceptsAdminToken("secre"))
        #expect(configuration.channels["crm"]?.url == "https://crm.example/hook")
        #expect(configuration.channels["crm"]?.maxAttempts == 3)
        #expect(configuration.historicalAfter == 7 * 86_400_000)
        #expect(ServerConfiguration().historicalAfter == 86_400_000, "a day by default")
    }

    @Test("the environment adds write keys, the admin token and the default webhook channel")
    func appliesEnvironment() throws {
        var configuration = ServerConfiguration()
        try configuration.apply(environment: ["CRESCENT_WRITE_KEYS": "a, b", "CRESCENT_ADMIN_TOKEN": "t",
                                              "CRESCENT_WEBHOOK_URL": "https://hooks.example/x", "CRESCENT_WEBHOOK_SECRET": "s",
                                              "CRESCENT_PUBLIC_URL": "https://events.shop.example/"])
        #expect(configuration.acceptsWriteKey("a") && configuration.acceptsWriteKey("b"))
        #expect(configuration.acceptsAdminToken("t"))
        #expect(configuration.channels["default"]?.url == "https://hooks.example/x")
        #expect(configuration.publicURL?.absoluteString == "https://events.shop.example", "the trailing slash dropped")
        #expect(throws: ConfigurationError.self) { try configuration.apply(environment: ["CRESCENT_PUBLIC_URL": "events.shop.example"]) }
    }

    @Test("a bad file is refused with the file and the key, or the line and column, named")
    func refusesBadFiles() throws {
        #expect(try problem(#"{"rulez": "rules"}"#).hasSuffix(#"crescent.json: unknown key "rulez""#))
        #expect(try problem(#"{"port": "8080"}"#).hasSuffix(#"crescent.json: "port" has the wrong type"#))
        #expect(try problem("{\n  \"port\": 80 80\n}").hasSuffix("crescent.json: not valid JSON: line 2, column 14: expected ',' or '}'"))
        #expect(try problem("[1, 2]").hasSuffix("crescent.json: not a JSON object"))
        #expect(try problem(#"{"channels": {"crm": {"url": "https://x.example"}}}"#).contains("channels.crm needs a \"secret\""))
        #expect(try problem(#"{"historical_after": "a week"}"#).contains(#""historical_after" must be a duration such as "24h""#))
        #expect(try problem(#"{"historical_after": 24}"#).hasSuffix(#""historical_after" has the wrong type"#))
        #expect(try problem(#"{"public_url": "ftp://x.example"}"#).contains(#""public_url" must be an http or https address with a host"#))
    }
}
