import ArgumentParser
import Engine
import Foundation
import LuaKit

/// `crescent check`: compiles and validates every rule and plugin.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Compile and validate every rule and plugin; print each problem as path:line: message."
    )

    @Option(help: "The rules folder.")
    var rules = "rules"

    @Option(help: "The plugins folder.")
    var plugins = "plugins"

    func run() throws {
        guard FileManager.default.fileExists(atPath: rules) else {
            StandardStreams.writeError("error: \(rules): no such folder\n")
            throw ExitCode(1)
        }
        let runtime = try RuleRuntime(rulesDirectory: rules, pluginsDirectory: plugins, host: RuleHost(now: { 0 }))
        var problems = runtime.problems + Engine.automationProblems(runtime.declarations)
        // Plugins must at least compile, even those no rule requires yet.
        let state = try LuaState()
        for file in RuleRuntime.ruleFiles(in: plugins, includeTests: true) {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            do {
                _ = try state.load(bytes: Array(data), name: file)
            } catch {
                problems.append(RuleProblem(.error, file: error.chunk ?? file, line: error.line, error.message))
            }
        }
        for problem in problems { print(problem) }
        let errors = problems.filter { $0.severity == .error }.count
        let warnings = problems.count - errors
        let files = RuleRuntime.ruleFiles(in: rules).count
        let summary = "\(runtime.declarations.count) declarations in \(files) files: \(errors) errors, \(warnings) warnings"
        if errors > 0 {
            StandardStreams.writeError("check failed: \(summary)\n")
            throw ExitCode(1)
        }
        print("ok: \(summary)")
    }
}
