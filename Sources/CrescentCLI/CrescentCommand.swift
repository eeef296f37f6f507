import ArgumentParser
import Foundation
import Store

/// The `crescent` command line: the root command and its subcommands.
public struct CrescentCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "crescent",
        abstract: "Rules and scripting for commerce: sandboxed Lua rules over customer events.",
        version: "0.1.0",
        subcommands: [EvalCommand.self, ReplayCommand.self, CheckCommand.self, ExplainCommand.self, JourneysCommand.self, ServeCommand.self, RulesCommand.self, TestCommand.self, ReplCommand.self, BacktestCommand.self, ReportCommand.self,
                      GenerateCommand.self]
    )

    public init() {}

    /// Parses `arguments`, runs the command and returns the process exit
    /// status: 0 on success, 1 when the work failed, 2 for usage errors.
    public static func run(arguments: [String]) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
            return 0
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                return 0
            }
            if code == .validationFailure {
                StandardStreams.writeError(message + "\n")
                return 2
            }
            if !message.isEmpty { StandardStreams.writeError(message + "\n") }
            return code.rawValue
        }
    }
}

/// Writes to the process's standard streams without buffering surprises.
enum StandardStreams {
    static func write(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    static func writeError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

extension DatabaseOwnership {
    /// Claims `database` for this command's engine, or prints why not (another
    /// process's engine holds it) and exits with status 1.
    static func claim(_ database: String, for holder: String) throws -> DatabaseOwnership {
        do {
            return try DatabaseOwnership(database: database, holder: holder)
        } catch let error as DatabaseInUse {
            StandardStreams.writeError("error: \(error)\n")
            throw ExitCode(1)
        }
    }
}
