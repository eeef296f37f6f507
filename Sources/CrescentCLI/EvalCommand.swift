import ArgumentParser
import Foundation
import LuaKit

/// `crescent eval FILE` / `crescent eval -e CODE`: runs one chunk in the
/// sandbox and prints what it returns.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run a Lua chunk in the rule sandbox and print the values it returns.",
        discussion: """
            Each returned value is printed on its own line: strings as their text, \
            numbers as Lua prints them, tables as Lua literals. On failure the error \
            is printed as 'error: <chunk>:<line>: <message>' and the exit status is 1.
            """
    )

    @Argument(help: "A Lua file to run.")
    var file: String?

    @Option(name: [.customShort("e"), .customLong("execute")], help: "Lua code to run instead of a file.")
    var code: String?

    @Option(help: "Instruction budget (0 = unlimited).")
    var instructions: Int = LuaLimits.default.instructions

    @Option(help: "Wall-clock limit in seconds (0 = none).")
    var timeout: Double = LuaLimits.default.timeout

    @Option(help: "Memory cap in MiB (0 = unlimited).")
    var memory: Int = LuaLimits.default.memoryBytes >> 20

    @Option(help: "Folder that `require` loads plugin modules from (default: ./plugins when present).")
    var plugins: String?

    @Flag(help: "Print the Lua traceback with an error.")
    var traceback = false

    func validate() throws {
        if (file == nil) == (code == nil) {
            throw ValidationError("give either a FILE or -e CODE, not both and not neither")
        }
        if instructions < 0 { throw ValidationError("--instructions must be 0 or more") }
        if timeout < 0 || !timeout.isFinite { throw ValidationError("--timeout must be 0 or more seconds") }
        if memory < 0 { throw ValidationError("--memory must be 0 or more MiB") }
    }

    func run() throws {
        let source: [UInt8]
        let name: String
        if let code {
            source = Array(code.utf8)
            name = "(command line)"
        } else {
            let path = file!
            guard let data = FileManager.default.contents(atPath: path) else {
                StandardStreams.writeError("error: \(path): cannot read the file\n")
                throw ExitCode(1)
            }
            source = Array(data)
            name = path
        }
        let limits = LuaLimits(instructions: instructions, timeout: timeout, memoryBytes: memory << 20)
        let outcome = Evaluator(limits: limits, pluginDirectory: try pluginDirectory()).evaluate(source, name: name)
        StandardStreams.write(outcome.output)
        if let error = outcome.error {
            var text = "error: \(error)\n"
            if traceback, let trace = error.traceback { text += trace + "\n" }
            StandardStreams.writeError(text)
            throw ExitCode(1)
        }
    }

    private func pluginDirectory() throws -> String? {
        try PluginsFolder.resolve(plugins, rules: "rules")
    }
}

/// Runs a chunk and renders its results the way `crescent eval` prints them.
public struct Evaluator {
    public var limits: LuaLimits
    public var pluginDirectory: String?

    public init(limits: LuaLimits = .default, pluginDirectory: String? = nil) {
        self.limits = limits
        self.pluginDirectory = pluginDirectory
    }

    /// What an evaluation produced: the bytes to print and the error, if any.
    public struct Outcome {
        public var values: [LuaValue]
        public var output: [UInt8]
        public var error: LuaError?
    }

    public func evaluate(_ source: [UInt8], name: String) -> Outcome {
        do {
            let state = try LuaState(limits: limits, pluginDirectory: pluginDirectory)
            let chunk = try state.load(bytes: source, name: name)
            let values = try state.call(chunk.function, [])
            var output: [UInt8] = []
            for value in values {
                if case .string(let s) = value {
                    output += s.bytes
                } else {
                    output += Array(value.display.utf8)
                }
                output.append(UInt8(ascii: "\n"))
            }
            return Outcome(values: values, output: output, error: nil)
        } catch {
            var error = error
            if error.chunk == nil { error.chunk = name }
            return Outcome(values: [], output: [], error: error)
        }
    }
}
