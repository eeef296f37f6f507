import ArgumentParser
import Engine
import Foundation
import Repl
import Store

/// `crescent repl`: a Lua prompt with the engine loaded.
struct ReplCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "A Lua prompt with the engine's API: send events, read customers, move the clock, reload rules.",
        discussion: """
            On a terminal: line editing and a history file. When standard input is not a terminal, lines are read \
            and evaluated without prompts (scriptable); the exit status is 1 if any input failed.
            """
    )

    @Option(help: "A SQLite database to work on (events sent are committed to it). Default: a scratch database in memory.")
    var db: String?

    @OptionGroup var folders: RuleFolders

    @Option(help: "The history file (default: $CRESCENT_HISTORY, else ~/.crescent_history).")
    var history: String?

    func run() throws {
        try folders.requireRulesFolder()
        let ownership = try db.map { try DatabaseOwnership.claim($0, for: "crescent repl") }
        defer { withExtendedLifetime(ownership) {} }
        let store = try db.map { try CrescentStore(path: $0) } ?? CrescentStore()
        let rules = folders.rules, plugins = try folders.pluginsFolder()
        let engine = try Engine(store: store, rulesDirectory: rules, pluginsDirectory: plugins)
        let session = try ReplSession(engine: engine, rulesDirectory: rules, pluginsDirectory: plugins, clock: engine.clockHint,
                                      output: { StandardStreams.write(Array($0.utf8)) },
                                      errorOutput: { StandardStreams.writeError($0) })
        let interactive = isatty(STDIN_FILENO) == 1
        for problem in engine.problems { StandardStreams.writeError("\(problem)\n") }
        var reader: any LineReader
        if interactive {
            StandardStreams.write(Array(("crescent repl: rule set \(engine.rules.version), \(engine.declarations.count) declarations, "
                                         + "database \(db ?? "in memory"); help() for help, Ctrl-D to quit\n").utf8))
            let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
            reader = EditLineReader(historyFile: history ?? ProcessInfo.processInfo.environment["CRESCENT_HISTORY"]
                                    ?? home + "/.crescent_history")
        } else {
            reader = PipeLineReader()
        }
        while let line = reader.read(prompt: session.prompt) { session.feed(line) }
        if interactive { StandardStreams.write(Array("\n".utf8)) }
        try engine.flush()
        if session.isIncomplete {
            StandardStreams.writeError("error: the input ended inside an unfinished chunk\n")
            throw ExitCode(1)
        }
        if !interactive && session.errors > 0 { throw ExitCode(1) }
    }
}
