import ArgumentParser
import Foundation

/// `--rules` and `--plugins`, shared by the commands that load a rule set
/// from folders (`check`, `replay`, `repl`, `test`).
struct RuleFolders: ParsableArguments {
    @Option(help: "The rules folder.")
    var rules = "rules"

    @Option(help: "The plugins folder (default: ./plugins, else the plugins folder beside the rules folder).")
    var plugins: String?

    /// Stops the command (exit 1, with the reason on standard error) when the rules folder does not exist.
    func requireRulesFolder() throws {
        guard PluginsFolder.isFolder(rules) else {
            StandardStreams.writeError("error: \(rules): no such rules folder (see --rules)\n")
            throw ExitCode(1)
        }
    }

    /// The folder `require` loads plugin modules from (see ``PluginsFolder``).
    func pluginsFolder() throws -> String? { try PluginsFolder.resolve(plugins, rules: rules) }
}

/// Where `require` finds plugin modules: the folder `--plugins` names (which
/// must exist), else `plugins` in the current folder, else the `plugins`
/// folder beside the rules folder (`--rules ../shop/rules` finds
/// `../shop/plugins`); nil when there is none.
enum PluginsFolder {
    static let defaultName = "plugins"

    static func resolve(_ option: String?, rules: String) throws -> String? {
        if let option {
            guard isFolder(option) else { throw MissingFolder(description: "--plugins \(option): no such folder") }
            return option
        }
        let beside = URL(fileURLWithPath: rules).standardizedFileURL.deletingLastPathComponent()
            .appendingPathComponent(defaultName).path
        return [defaultName, beside].first(where: isFolder)
    }

    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// A folder named on the command line that does not exist.
struct MissingFolder: Error, CustomStringConvertible {
    var description: String
}
