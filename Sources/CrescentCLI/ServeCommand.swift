import ArgumentParser
import Engine
import Foundation
import Store
import Server

/// `crescent serve`: the Segment-compatible ingest API, real-time decisions,
/// the admin API and metrics over the engine.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Segment-compatible ingest API, /v1/decide, the admin API and /metrics.",
        discussion: """
            Write keys come from CRESCENT_WRITE_KEYS (comma-separated) or the configuration file's "write_keys"; \
            the admin token from CRESCENT_ADMIN_TOKEN or "admin_token". Flags override the file.
            """
    )

    @Option(help: "The address to listen on.")
    var host: String?

    @Option(help: "The port (0 picks a free one; the bound port is printed).")
    var port: Int?

    @Option(help: "The SQLite database file.")
    var db: String?

    @Option(help: "The rules folder.")
    var rules: String?

    @Option(help: "The plugins folder.")
    var plugins: String?

    @Option(help: "Shards (threads with their own Lua state).")
    var shards: Int?

    @Option(help: "A JSON configuration file.")
    var config: String?

    @Flag(help: "Do not watch the rules and plugins folders (reload only over the admin API).")
    var noWatch = false

    func run() async throws {
        var settings = ServerConfiguration()
        settings.shards = ShardedEngine.defaultShards
        do {
            if let config { try settings.apply(file: config) }
            try settings.apply(environment: ProcessInfo.processInfo.environment)
        } catch {
            StandardStreams.writeError("error: \(error)\n")
            throw ExitCode(1)
        }
        if let host { settings.host = host }
        if let port { settings.port = port }
        if let db { settings.database = db }
        if let rules { settings.rules = rules }
        do {
            // The configuration file may name the folder; otherwise the default search applies.
            let named = plugins ?? (settings.plugins == PluginsFolder.defaultName ? nil : settings.plugins)
            settings.plugins = try PluginsFolder.resolve(named, rules: settings.rules) ?? PluginsFolder.defaultName
        } catch {
            let origin = plugins == nil ? "\(config ?? "the configuration"): \"plugins\": \(settings.plugins): no such folder" : "\(error)"
            StandardStreams.writeError("error: \(origin)\n")
            throw ExitCode(1)
        }
        if let shards { settings.shards = max(1, shards) }
        if noWatch { settings.watchRules = false }
        if settings.writeKeyDigests.isEmpty {
            StandardStreams.writeError("warning: no write key (set CRESCENT_WRITE_KEYS): every ingest request will get 401\n")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: settings.rules, isDirectory: &isFolder), isFolder.boolValue else {
            StandardStreams.writeError("error: \(settings.rules): no such rules folder (see --rules)\n")
            throw ExitCode(1)
        }
        // One engine per database: a second server, or a replay into this file, would overwrite what this one keeps in memory.
        let ownership = try DatabaseOwnership.claim(settings.database, for: "crescent serve on \(settings.host):\(settings.port)")
        let server = try CrescentServer(configuration: settings)
        for problem in server.gateway.engine.problems { StandardStreams.writeError("\(problem)\n") }
        let host = settings.host, database = settings.database
        do {
            try await server.run { port in
                StandardStreams.write(Array("crescent listening on http://\(host):\(port) (database \(database))\n".utf8))
            }
        } catch let error as ListenError {
            StandardStreams.writeError("error: \(error)\n")
            throw ExitCode(1)
        }
        StandardStreams.write(Array("crescent stopped; everything accepted is committed\n".utf8))
        withExtendedLifetime(ownership) {}
    }
}
