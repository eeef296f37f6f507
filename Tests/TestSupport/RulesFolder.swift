import Engine
import Foundation
import Store

/// A rules folder on disk (with an empty `plugins` beside it) and a database
/// file, for tests that edit the rules, reload and restart.
public struct RulesFolder {
    public let root: URL
    public var rules: String { root.appendingPathComponent("rules").path }
    public var plugins: String { root.appendingPathComponent("plugins").path }
    public var database: String { root.appendingPathComponent("engine.db").path }

    /// `files`: paths under `rules/` → text.
    public init(_ files: [String: String]) throws {
        var all = ["plugins/.keep": ""]
        for (path, text) in files { all["rules/" + path] = text }
        root = try Fixtures.temporaryDirectory(files: all)
    }

    /// Replaces one rule file's text.
    public func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: root.appendingPathComponent("rules/" + path))
    }

    /// A sharded engine over the folder's rules and database (a new one reads back what the last committed).
    public func engine(shards: Int = 2) throws -> ShardedEngine {
        try ShardedEngine(store: try CrescentStore(path: database), rulesDirectory: rules, pluginsDirectory: plugins, shards: shards)
    }
}
