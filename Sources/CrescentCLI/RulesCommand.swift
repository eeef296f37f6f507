import ArgumentParser
import Engine
import Foundation
import Store

/// `crescent rules history` and `crescent rules rollback VERSION`.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "The rule set's versions: list them, or put an earlier one back in the rules folder.",
        subcommands: [History.self, Rollback.self]
    )

    /// `crescent rules history`: every version loaded into the database.
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every rule set version the database has seen.")

        @Option(help: "The SQLite database file.")
        var db = "crescent.db"

        func run() throws {
            let store = try RulesCommand.open(db)
            let history = try store.rulesetHistory()
            if history.isEmpty { print("no rule set has been loaded into \(db)") }
            for entry in history {
                let files = (try? JSONValue.parse(Data(entry.sources.utf8)))?.object?.count ?? 0
                let rules = (try? JSONValue.parse(Data(entry.rules.utf8)))?.arrayCount ?? 0
                print("\(entry.version)  \(Timestamps.iso(entry.loadedAt))  \(files) files, \(rules) rules, \(entry.decisions) decisions")
            }
        }
    }

    /// `crescent rules rollback VERSION`: the rule files of that version, back in the folder.
    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an earlier version's rule files back into the rules folder (the current files are kept in a backup folder first).")

        @Argument(help: "The version (its hash, or a unique prefix of it) from `crescent rules history`.")
        var version: String

        @Option(help: "The SQLite database file.")
        var db = "crescent.db"

        @Option(help: "The rules folder.")
        var rules = "rules"

        func run() throws {
            let store = try RulesCommand.open(db)
            let matches = try store.rulesetHistory().filter { $0.version.hasPrefix(version) }
            guard matches.count == 1, let target = matches.first else {
                StandardStreams.writeError(matches.isEmpty ? "error: no rule set version \(version) in \(db) (see crescent rules history)\n"
                                                           : "error: \(version) matches \(matches.count) versions; give more of the hash\n")
                throw ExitCode(1)
            }
            guard let sources = (try? JSONValue.parse(Data(target.sources.utf8)))?.object else {
                StandardStreams.writeError("error: version \(target.version) has no stored sources\n")
                throw ExitCode(1)
            }
            let folder = URL(fileURLWithPath: rules).standardizedFileURL
            let label = folder.lastPathComponent
            let fm = FileManager.default
            // Keep the current folder first.
            let backup = folder.deletingLastPathComponent().appendingPathComponent(
                "\(label).before-rollback-\(Int(Date().timeIntervalSince1970))")
            if fm.fileExists(atPath: folder.path) { try fm.copyItem(at: folder, to: backup) }
            // Stored paths start with the rules folder's name at the time ("rules/segments/x.lua").
            var files: [String: String] = [:]
            for (path, text) in sources {
                let parts = path.split(separator: "/", maxSplits: 1)
                guard parts.count == 2, let source = text.stringValue, !parts[1].contains("..") else { continue }
                files[String(parts[1])] = source
            }
            guard !files.isEmpty else {
                StandardStreams.writeError("error: version \(target.version) has no rule files\n")
                throw ExitCode(1)
            }
            var written = 0, removed = 0
            for file in RuleRuntime.ruleFiles(in: folder.path) where files[String(file.dropFirst(folder.path.count + 1))] == nil {
                try fm.removeItem(atPath: file)
                removed += 1
            }
            for (relative, source) in files {
                let destination = folder.appendingPathComponent(relative)
                try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(source.utf8).write(to: destination)
                written += 1
            }
            print("rolled \(rules) back to \(target.version) (loaded \(Timestamps.iso(target.loadedAt))): \(written) files written, \(removed) removed")
            print("the files before the rollback are in \(backup.path)")
        }
    }

    static func open(_ db: String) throws -> CrescentStore {
        guard FileManager.default.fileExists(atPath: db) else {
            StandardStreams.writeError("error: \(db): no such database\n")
            throw ExitCode(1)
        }
        return try CrescentStore(path: db)
    }
}

extension JSONValue {
    var arrayCount: Int? {
        if case .array(let items) = self { return items.count }
        return nil
    }
}
