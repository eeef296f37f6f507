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
            do {
                let done = try RulesetRollback.perform(store: store, version: version, rulesFolder: rules)
                print("rolled \(rules) back to \(done.version) (loaded \(Timestamps.iso(done.loadedAt))): "
                      + "\(done.written) files written, \(done.removed) removed")
                print("the files before the rollback are in \(done.backup)")
            } catch let failure as RulesetRollback.Failure {
                StandardStreams.writeError("error: \(failure) (database \(db))\n")
                throw ExitCode(1)
            }
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
