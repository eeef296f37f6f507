import CLibedit
import Foundation

/// Where the REPL's input lines come from.
public protocol LineReader {
    /// The next line (without its newline), or nil at the end of input.
    mutating func read(prompt: String) -> String?
}

/// A terminal: libedit line editing (arrows, Ctrl-A/E, search) and a
/// history file kept between sessions.
public struct EditLineReader: LineReader {
    private let historyFile: String

    public init(historyFile: String) {
        self.historyFile = historyFile
        using_history()
        _ = read_history(historyFile)
    }

    public mutating func read(prompt: String) -> String? {
        guard let line = readline(prompt) else { return nil }
        defer { free(line) }
        let text = String(cString: line)
        if !text.trimmingCharacters(in: .whitespaces).isEmpty {
            _ = add_history(text)
            _ = write_history(historyFile)
        }
        return text
    }
}

/// Standard input that is not a terminal (a pipe or a file): lines are
/// read as they come, without prompts, so the REPL can be scripted.
public struct PipeLineReader: LineReader {
    public init() {}

    public mutating func read(prompt: String) -> String? { Swift.readLine(strippingNewline: true) }
}
