import Foundation
import TestSupport
import Testing

/// Drives the built `crescent` executable the way a user does.
@Suite("crescent eval")
struct EvalCommandTests {
    let crescent = Fixtures.crescentExecutable()

    @Test("prints each returned value on its own line")
    func printsValues() throws {
        let result = try Fixtures.run(crescent, ["eval", "-e",
            "return 1, 2.5, 'text', {1, 2, name = 'x'}, nil, true, 0/0, math.huge, math.mininteger"])
        #expect(result.status == 0)
        #expect(result.stdoutText == """
            1
            2.5
            text
            {1, 2, name = "x"}
            nil
            true
            nan
            inf
            -9223372036854775808

            """)
        #expect(result.stderr.isEmpty)
    }

    @Test("strings are written as their exact bytes")
    func rawBytes() throws {
        let result = try Fixtures.run(crescent, ["eval", "-e", "return 'a\\0b\\255'"])
        #expect(result.status == 0)
        #expect(Array(result.stdout) == [0x61, 0x00, 0x62, 0xFF, 0x0A])
    }

    @Test("runs a file, and names it in errors")
    func runsFile() throws {
        let dir = try Fixtures.temporaryDirectory(files: [
            "ok.lua": "local t = {} for i = 1, 3 do t[i] = i * i end return t",
            "bad.lua": "local x = 1\nreturn x + nil",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let ok = try Fixtures.run(crescent, ["eval", "ok.lua"], in: dir)
        #expect(ok.status == 0)
        #expect(ok.stdoutText == "{1, 4, 9}\n")
        let bad = try Fixtures.run(crescent, ["eval", "bad.lua"], in: dir)
        #expect(bad.status == 1)
        #expect(bad.stderr == "error: bad.lua:2: attempt to perform arithmetic on a nil value\n")
    }

    @Test("limits are reported as errors with exit 1")
    func limits() throws {
        let spin = try Fixtures.run(crescent, ["eval", "-e", "while true do end"])
        #expect(spin.status == 1)
        #expect(spin.stderr == "error: (command line):1: instruction limit exceeded (10000000 instructions)\n")
        let timed = try Fixtures.run(crescent, ["eval", "--instructions", "0", "--timeout", "0.2", "-e", "while true do end"])
        #expect(timed.status == 1)
        #expect(timed.stderr == "error: (command line):1: time limit exceeded (0.2 s)\n")
        let memory = try Fixtures.run(crescent, ["eval", "--memory", "8", "-e", "return ('x'):rep(16 * 1024 * 1024)"])
        #expect(memory.status == 1)
        #expect(memory.stderr.hasPrefix("error: (command line)"))
        #expect(memory.stderr.contains("memory limit exceeded (8 MiB)"))
    }

    @Test("raised limits let heavy code finish")
    func raisedLimits() throws {
        let code = "local s = 0 for i = 1, 2e7 do s = s + i end return s"
        let limited = try Fixtures.run(crescent, ["eval", "-e", code])
        #expect(limited.status == 1)
        let unlimited = try Fixtures.run(crescent, ["eval", "--instructions", "0", "--timeout", "0", "-e", code])
        #expect(unlimited.status == 0)
        #expect(unlimited.stdoutText == "200000010000000\n")
    }

    @Test("usage errors exit 2", arguments: [
        ["eval"],
        ["eval", "-e", "return 1", "file.lua"],
        ["eval", "--instructions", "-5", "-e", "return 1"],
        ["eval", "--timeout", "soon", "-e", "return 1"],
        ["eval", "--bogus"],
        ["frobnicate"],
    ])
    func usageErrors(arguments: [String]) throws {
        let result = try Fixtures.run(crescent, arguments)
        #expect(result.status == 2, "stderr: \(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    @Test("a missing file is an error that names it")
    func missingFile() throws {
        let result = try Fixtures.run(crescent, ["eval", "/nonexistent/rule.lua"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent/rule.lua"))
    }

    @Test("--traceback prints Lua's stack traceback")
    func traceback() throws {
        let result = try Fixtures.run(crescent, ["eval", "--traceback", "-e", "local function f() error('boom') end f()"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: (command line):1: boom\nstack traceback:"))
    }

    @Test("plugins are found in ./plugins by default")
    func defaultPlugins() throws {
        let dir = try Fixtures.temporaryDirectory(files: ["plugins/money.lua": "return {cents = function(x) return math.floor(x * 100 + 0.5) end}"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Fixtures.run(crescent, ["eval", "-e", "return require('money').cents(12.345)"], in: dir)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdoutText == "1235\n")
    }

    @Test("the shipped demo script runs")
    func demoScript() throws {
        let result = try Fixtures.run(crescent, ["eval", "examples/scripts/demo.lua"], in: Fixtures.packageRoot)
        #expect(result.status == 0)
        #expect(result.stdoutText.hasPrefix("review\n75\n"))
    }
}
