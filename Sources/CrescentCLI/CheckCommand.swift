import ArgumentParser
import Engine
import Foundation

/// `crescent check`: compiles and validates every rule and plugin.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Compile and validate every rule and plugin; print each problem as path:line: message."
    )

    @Option(help: "The rules folder.")
    var rules = "rules"

    @Option(help: "The plugins folder (default: ./plugins, else the plugins folder beside the rules folder).")
    var plugins: String?

    func run() throws {
        guard FileManager.default.fileExists(atPath: rules) else {
            StandardStreams.writeError("error: \(rules): no such folder\n")
            throw ExitCode(1)
        }
        let check = try RuleSetCheck.run(rulesDirectory: rules, pluginsDirectory: PluginsFolder.resolve(plugins, rules: rules))
        for problem in check.problems { print(problem) }
        let errors = check.errors.count
        let summary = "\(check.declarations) declarations in \(check.files) files: \(errors) errors, \(check.warnings.count) warnings"
        if errors > 0 {
            StandardStreams.writeError("check failed: \(summary)\n")
            throw ExitCode(1)
        }
        print("ok: \(summary)")
    }
}
