import ArgumentParser
import Engine
import Foundation

/// `crescent check`: compiles and validates every rule and plugin.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Compile and validate every rule and plugin; print each problem as path:line: message."
    )

    @OptionGroup var folders: RuleFolders

    func run() throws {
        try folders.requireRulesFolder()
        let check = try RuleSetCheck.run(rulesDirectory: folders.rules, pluginsDirectory: folders.pluginsFolder())
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
