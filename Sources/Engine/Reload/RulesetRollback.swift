import Foundation
import Store

/// Puts an earlier rule set version (as stored in the database, sources
/// included) back into the rules folder: the current folder is copied to
/// `<folder>.before-rollback-<time>` first, then that version's files are
/// written and rule files it did not have are removed. Scenario files
/// (`*_test.lua`) are not touched. A running server's reload picks the
/// files up like any other edit.
public struct RulesetRollback: Sendable {
    /// The version written back, and when it was first loaded.
    public var version: String
    public var loadedAt: Int64
    public var written: Int
    public var removed: Int
    /// Where the folder as it was before the rollback is kept.
    public var backup: String

    /// Why a rollback could not be done.
    public enum Failure: Error, CustomStringConvertible {
        case unknownVersion(String)
        case ambiguous(String, matches: Int)
        case noSources(String)

        public var description: String {
            switch self {
            case .unknownVersion(let v): return "no rule set version \(v) in the database (see crescent rules history)"
            case .ambiguous(let v, let n): return "\(v) matches \(n) versions; give more of the hash"
            case .noSources(let v): return "version \(v) has no stored rule files"
            }
        }
    }

    /// Writes the version (a hash or a unique prefix of it) back into `rulesFolder`.
    public static func perform(store: CrescentStore, version: String, rulesFolder: String) throws -> RulesetRollback {
        let matches = try store.rulesetHistory().filter { $0.version.hasPrefix(version) }
        guard !matches.isEmpty else { throw Failure.unknownVersion(version) }
        guard matches.count == 1, let target = matches.first else { throw Failure.ambiguous(version, matches: matches.count) }
        guard let sources = (try? JSONValue.parse(Data(target.sources.utf8)))?.object else { throw Failure.noSources(target.version) }
        // Stored paths start with the rules folder's name at the time ("rules/segments/x.lua").
        var files: [String: String] = [:]
        for (path, text) in sources {
            let parts = path.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, let source = text.stringValue, !parts[1].contains("..") else { continue }
            files[String(parts[1])] = source
        }
        guard !files.isEmpty else { throw Failure.noSources(target.version) }
        let folder = URL(fileURLWithPath: rulesFolder).standardizedFileURL
        let fm = FileManager.default
        let backup = folder.deletingLastPathComponent().appendingPathComponent(
            "\(folder.lastPathComponent).before-rollback-\(Int(Date().timeIntervalSince1970 * 1000))")
        if fm.fileExists(atPath: folder.path) { try fm.copyItem(at: folder, to: backup) }
        var removed = 0
        for file in RuleRuntime.ruleFiles(in: folder.path) where files[String(file.dropFirst(folder.path.count + 1))] == nil {
            try fm.removeItem(atPath: file)
            removed += 1
        }
        for (relative, source) in files {
            let destination = folder.appendingPathComponent(relative)
            try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            // Written whole and renamed into place, so a watcher never reads half a file.
            try Data(source.utf8).write(to: destination, options: .atomic)
        }
        return RulesetRollback(version: target.version, loadedAt: target.loadedAt, written: files.count, removed: removed,
                               backup: backup.path)
    }
}
