import Foundation
import TestSupport
import Testing

/// A tmux server of its own (its own socket), running one window of a command: a real pseudo-terminal.
final class TmuxTerminal {
    private let socket = "crescent-test-\(UUID().uuidString.prefix(8))"
    private let tmux = URL(fileURLWithPath: "/usr/bin/tmux")

    init(command: [String], directory: URL, environment: [String: String]) throws {
        let env = environment.map { "\($0.key)=\($0.value)" }.sorted()
        let line = (["env"] + env + command).map { "'\($0)'" }.joined(separator: " ")
        let status = try Fixtures.runDetached([tmux.path, "-L", socket, "new-session", "-d", "-s", "repl", "-x", "160", "-y", "60",
                                               "-c", directory.path, line])
        guard status == 0 else { throw TerminalError("tmux could not start (status \(status))") }
        let pids = try run(["display-message", "-p", "-t", "repl", "#{pid} #{pane_pid}"]).stdoutText.split(separator: " ")
        processes = pids.compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    deinit { close() }

    /// The tmux server's and the pane's process ids.
    private var processes: [Int32] = []

    /// Ends the tmux server and what runs in it (killed outright: libedit and
    /// tmux may each wait on the other when the terminal goes away).
    func close() {
        _ = try? run(["kill-server"])
        for pid in processes.reversed() { kill(pid, SIGKILL) }
        processes = []
    }

    @discardableResult
    private func run(_ arguments: [String]) throws -> Fixtures.ProcessResult { try Fixtures.run(tmux, ["-L", socket] + arguments) }

    /// Types text literally.
    func type(_ text: String) throws { try run(["send-keys", "-t", "repl", "-l", text]) }

    /// Presses keys by name (Enter, Up, BSpace, C-a, C-d, ...).
    func press(_ keys: String...) throws { try run(["send-keys", "-t", "repl"] + keys) }

    /// The screen and its scroll-back.
    func screen() throws -> String { try run(["capture-pane", "-p", "-t", "repl", "-S", "-500"]).stdoutText }

    /// Waits until `text` shows `times` times on the screen (a bound, not a
    /// timing: the whole suite on two cores can hold the debug build back).
    func waitFor(_ text: String, times: Int = 1) async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if try screen().components(separatedBy: text).count - 1 >= times { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the terminal never showed \(text) \(times) times; it shows:\n\(try screen())")
        throw TerminalError("timed out")
    }
}

struct TerminalError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite("crescent repl")
struct ReplCommandTests {
    let crescent = Fixtures.crescentExecutable()

    func rulesCopy() throws -> URL {
        let dir = try Fixtures.temporaryDirectory()
        for folder in ["rules", "plugins"] {
            try FileManager.default.copyItem(at: Fixtures.packageRoot.appendingPathComponent(folder), to: dir.appendingPathComponent(folder))
        }
        return dir
    }

    @Test("through a pipe: no prompts, globals persist, multi-line chunks, send explains, errors name the line and set the exit status")
    func pipe() throws {
        let script = """
            spent = 250
            spent * 2
            function double(x)
              return x * 2
            end
            double(21)
            { tier = "gold", tags = { "a", "b" } }
            send{ userId = "ana", traits = { marketing_consent = true } }
            send{ userId = "ana", event = "Order Completed", properties = { order_id = "o1", total = 600 } }
            customer("ana").segments
            customer("ana").orders_count
            advance("2h")
            nosuch.field
            "still running"
            """
        let result = try Fixtures.run(crescent, ["repl", "--rules", "rules", "--plugins", "plugins"], in: Fixtures.packageRoot,
                                      input: script + "\n")
        let out = result.stdoutText
        #expect(result.status == 1, "one input failed")
        #expect(!out.contains("crescent>"), "no prompt when stdin is not a terminal")
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.first == "500")
        #expect(lines.contains("42"))
        #expect(lines.contains(#"{ tags = { "a", "b" }, tier = "gold" }"#))
        #expect(out.contains("Order Completed at "))
        #expect(out.contains("  hit segment:gold (entered)"))
        #expect(out.contains(#"entered = { "gold" }"#))
        #expect(lines.contains("{ gold = true }"))
        #expect(lines.contains("1"))
        #expect(out.contains("timers fired"))
        #expect(result.stderr.contains("error: stdin:"))
        #expect(result.stderr.contains("nosuch"))
        #expect(lines.last == "still running", "the session goes on after an error")

        let clean = try Fixtures.run(crescent, ["repl", "--rules", "rules", "--plugins", "plugins"], in: Fixtures.packageRoot,
                                     input: "1 + 1\n")
        #expect(clean.status == 0)
        #expect(clean.stdoutText == "2\n")
    }

    @Test("--db: events sent are committed to the database")
    func database() throws {
        let dir = try rulesCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = #"send{ userId = "bo", event = "Order Completed", properties = { order_id = "o9", total = 30 } }"#
        let first = try Fixtures.run(crescent, ["repl", "--db", "r.db"], in: dir, input: script + "\n")
        #expect(first.status == 0, "\(first.stderr)")
        let second = try Fixtures.run(crescent, ["repl", "--db", "r.db"], in: dir, input: "customer('bo').orders_count\n")
        #expect(second.stdoutText == "1\n")
    }

    @Test("in a terminal: prompt, line editing, history across sessions, reload() and rules() report a broken file")
    func terminal() async throws {
        let dir = try rulesCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let history = dir.appendingPathComponent("history").path
        var terminal: TmuxTerminal? = try TmuxTerminal(command: [crescent.path, "repl"], directory: dir,
                                                       environment: ["CRESCENT_HISTORY": history, "TERM": "xterm"])
        defer { terminal?.close() }
        try await terminal!.waitFor("crescent>")
        // Line editing: a typo fixed with backspace.
        try terminal!.type("40 + 3")
        try terminal!.press("BSpace")
        try terminal!.type("2")
        try terminal!.press("Enter")
        try await terminal!.waitFor("\n42\n")
        // Multi-line input shows the continuation prompt.
        try terminal!.type("function greet(n)")
        try terminal!.press("Enter")
        try await terminal!.waitFor("...>")
        try terminal!.type("return 'hi ' .. n end")
        try terminal!.press("Enter")
        try terminal!.type("greet('ana')")
        try terminal!.press("Enter")
        try await terminal!.waitFor("hi ana")
        // History: Up brings back the previous line.
        try terminal!.press("Up")
        try terminal!.press("Enter")
        try await terminal!.waitFor("hi ana", times: 2)
        // A broken rule file: reload() refuses it, rules() shows it, the old version keeps running.
        try Data("segment \"oops\" { when = function(c) return c. end }".utf8)
            .write(to: dir.appendingPathComponent("rules/segments/oops.lua"))
        try terminal!.type("reload()")
        try terminal!.press("Enter")
        try await terminal!.waitFor("rules NOT reloaded")
        try await terminal!.waitFor("rules/segments/oops.lua:1:")
        try terminal!.type("rules()")
        try terminal!.press("Enter")
        try await terminal!.waitFor("the files hold a version that was not loaded:")
        try terminal!.press("C-d")
        try await Task.sleep(for: .milliseconds(200))
        terminal?.close()
        terminal = nil
        let saved = try String(contentsOfFile: history, encoding: .utf8)
        #expect(saved.contains("greet('ana')"))
        #expect(saved.contains(#"40\040+\0402"#), "the edited line is what history keeps (libedit writes spaces as \\040)")

        // A new session starts with that history.
        let again = try TmuxTerminal(command: [crescent.path, "repl"], directory: dir,
                                     environment: ["CRESCENT_HISTORY": history, "TERM": "xterm"])
        defer { again.close() }
        try await again.waitFor("crescent>")
        try again.press("Up")
        try await again.waitFor("crescent> rules()")
    }
}
