import Foundation
import LuaKit

/// What `crescent check` finds in a rule set: every problem as
/// `path:line: message` (rules, journey and schedule definitions, and
/// plugins, which must compile even when no rule requires them yet).
public struct RuleSetCheck: Sendable {
    /// The content hash of the rule and plugin files checked.
    public var version: String
    public var problems: [RuleProblem]
    public var declarations: Int
    public var files: Int

    public var errors: [RuleProblem] { problems.filter { $0.severity == .error } }
    public var warnings: [RuleProblem] { problems.filter { $0.severity == .warning } }

    /// Compiles and validates the rule set in the folders (in a throwaway Lua state).
    public static func run(rulesDirectory: String, pluginsDirectory: String?) throws -> RuleSetCheck {
        let runtime = try RuleRuntime(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory, host: RuleHost(now: { 0 }))
        var problems = runtime.problems + Engine.automationProblems(runtime.declarations)
        if let pluginsDirectory {
            let state = try LuaState()
            for file in RuleRuntime.ruleFiles(in: pluginsDirectory, includeTests: true) {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                do {
                    _ = try state.load(bytes: Array(data), name: file)
                } catch {
                    problems.append(RuleProblem(.error, file: error.chunk ?? file, line: error.line, error.message))
                }
            }
        }
        return RuleSetCheck(version: runtime.version, problems: problems, declarations: runtime.declarations.count,
                            files: RuleRuntime.ruleFiles(in: rulesDirectory).count)
    }
}
