import LuaKit
import TestSupport
import Testing

/// One piece of hostile code and how the sandbox must stop it.
struct HostileCase: Sendable, CustomTestStringConvertible {
    let name: String
    let code: String
    /// Acceptable error kinds.
    let kinds: [LuaError.Kind]
    /// A fragment the error message must contain, if any.
    let message: String?

    init(_ name: String, _ code: String, _ kinds: [LuaError.Kind], _ message: String? = nil) {
        self.name = name
        self.code = code
        self.kinds = kinds
        self.message = message
    }

    var testDescription: String { name }

    static let all: [HostileCase] = [
        // Listed in the issue.
        .init("infinite while", "while true do end", [.instructionLimit]),
        .init("goto loop", "::a:: goto a", [.instructionLimit]),
        .init("pcall inside a loop", "while true do pcall(function() while true do end end) end", [.instructionLimit]),
        .init("looping xpcall handler", "xpcall(error, function() while true do end end)", [.instructionLimit]),
        .init("looping coroutine (resume)",
              "local co = coroutine.create(function() while true do end end) return coroutine.resume(co)",
              [.instructionLimit]),
        .init("looping coroutine (wrap)",
              "local f = coroutine.wrap(function() while true do end end) f()", [.instructionLimit]),
        .init("looping __close handler",
              "local x <close> = setmetatable({}, {__close = function() while true do end end})",
              [.instructionLimit]),
        .init("__gc metatable", "setmetatable({}, {__gc = function() end})", [.runtime], "not allowed"),
        .init("table growth to 1e9", "local t = {} for i = 1, 1e9 do t[i] = i end", [.memoryLimit]),
        .init("string.rep 2^40", "return string.rep('x', 2^40)", [.runtime, .memoryLimit]),
        .init("catastrophic pattern",
              "return string.find(('a'):rep(28), ('a?'):rep(28) .. ('a'):rep(28))", [.runtime], "pattern too complex"),
        .init("unbounded recursion", "local function f() return f() + 1 end return f()",
              [.runtime, .memoryLimit]),
        .init("__index recursion",
              "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
              [.runtime], "stack overflow"),
        .init("io.open", "return io.open('/etc/passwd')", [.runtime], "global 'io'"),
        .init("os.execute", "return os.execute('id')", [.runtime], "field 'execute'"),
        .init("package.loadlib", "return package.loadlib('libc.so.6', 'system')", [.runtime], "global 'package'"),
        .init("debug.getregistry", "return debug.getregistry()", [.runtime], "global 'debug'"),
        .init("dofile", "return dofile('/etc/passwd')", [.runtime], "global 'dofile'"),
        .init("require io", "return require('io')", [.runtime], "module 'io' not found"),
        .init("load of string.dump", "local f = function() end return load(string.dump(f))", [.runtime], "field 'dump'"),
        .init("error object with looping __tostring",
              "error(setmetatable({}, {__tostring = function() while true do end end}))", [.instructionLimit]),
        .init("quadratic concatenation",
              "local s = '' for i = 1, 1e7 do s = s .. 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' end",
              [.timeLimit, .memoryLimit, .instructionLimit]),
        .init("table.unpack 1e8", "return table.unpack({}, 1, 1e8)", [.instructionLimit, .runtime]),
        // Our own.
        .init("pcall swallowing memory errors", "while true do pcall(string.rep, 'x', 2^30) end", [.memoryLimit]),
        .init("pcall swallowing limit errors in a loop",
              "for i = 1, 1e9 do pcall(error, 'x') end", [.instructionLimit]),
        .init("coroutine.close with a looping close handler",
              """
              while true do
                local co = coroutine.create(function()
                  local x <close> = setmetatable({}, {__close = function() while true do end end})
                  coroutine.yield()
                end)
                coroutine.resume(co)
                coroutine.close(co)
              end
              """, [.instructionLimit]),
        .init("table.move over 1e9 slots", "return table.move({}, 1, 1e9, 2)", [.instructionLimit]),
        .init("quadratic table.insert at the front",
              "local t = {} for i = 1, 2e5 do t[i] = i end for i = 1, 1e5 do table.insert(t, 1, i) end",
              [.instructionLimit]),
        .init("looping sort comparator",
              "table.sort({3, 2, 1}, function(a, b) while true do end end)", [.instructionLimit]),
        .init("looping gsub replacement",
              "return ('abc'):gsub('.', function() while true do end end)", [.instructionLimit]),
        .init("big allocations in a tight loop",
              "for i = 1, 1e6 do local s = ('x'):rep(8e6) end", [.timeLimit, .instructionLimit]),
        .init("__mode added after setmetatable",
              "local mt = {} local t = setmetatable({}, mt) mt.__mode = 'k'", [.runtime], "not allowed"),
        .init("rawset of __gc", "local mt = {} rawset(mt, '__gc', print)", [.runtime], "not allowed"),
        .init("rawset into a library", "rawset(string, 'upper', nil)", [.runtime], "read-only"),
        .init("writing into a library", "table.insert = nil", [.runtime], "read-only"),
        .init("unlocking the environment", "setmetatable(_ENV, nil)", [.runtime], "protected metatable"),
        .init("os.exit", "os.exit(1)", [.runtime], "field 'exit'"),
        .init("os.getenv", "return os.getenv('HOME')", [.runtime], "field 'getenv'"),
        .init("collectgarbage", "collectgarbage()", [.runtime], "global 'collectgarbage'"),
        .init("huge numeric for", "for i = 1, math.huge do end", [.instructionLimit]),
        .init("nested gsub blow-up", "local s = ('x'):rep(1e5) for i = 1, 20 do s = s:gsub('x', '%0%0') end",
              [.memoryLimit, .timeLimit, .instructionLimit]),
    ]
}

@Suite("Hostile code is stopped, quickly, and the state stays usable")
struct HostileCodeTests {
    @Test(arguments: HostileCase.all)
    func stopped(_ hostile: HostileCase) throws {
        let state = try Fixtures.state()
        let (outcome, elapsed) = Fixtures.timed { () -> Result<[LuaValue], LuaError> in
            Result { () throws(LuaError) -> [LuaValue] in try state.run(hostile.code, name: "hostile.lua") }
        }
        switch outcome {
        case .success(let values):
            Issue.record("expected an error, got \(values.map(\.literal))")
        case .failure(let error):
            #expect(hostile.kinds.contains(error.kind), "got \(error.kind): \(error)")
            if let fragment = hostile.message {
                #expect(error.message.contains(fragment), "message was: \(error.message)")
            }
            #expect(error.chunk == "hostile.lua", "chunk was \(String(describing: error.chunk))")
        }
        // The test limits allow 0.5 s per call; nothing may run much past that.
        #expect(elapsed < .seconds(3), "took \(elapsed)")
        #expect(try state.run(Fixtures.healthyScript, name: "healthy.lua") == Fixtures.expectedHealthy)
    }

    @Test("the catastrophic pattern ends in milliseconds even with limits raised")
    func catastrophicPatternIsFast() throws {
        let state = try Fixtures.state(.unlimited)
        let (result, elapsed) = Fixtures.timed {
            Result { () throws(LuaError) in
                try state.run("return ('a'):rep(28):match(('a?'):rep(28) .. ('a'):rep(28))", name: "p.lua")
            }
        }
        guard case .failure(let error) = result else {
            Issue.record("the pattern matched instead of failing")
            return
        }
        #expect(error.message.contains("pattern too complex"))
        #expect(elapsed < .seconds(1), "took \(elapsed)")
    }

    @Test("a binary chunk given to the host is refused")
    func binaryChunkRefused() throws {
        let state = try Fixtures.state()
        let binary: [UInt8] = [0x1B, 0x4C, 0x75, 0x61, 0x54, 0x00, 0x19, 0x93, 0x0D, 0x0A, 0x1A, 0x0A]
        #expect {
            _ = try state.load(bytes: binary, name: "evil.luac")
        } throws: { error in
            let error = error as! LuaError
            return error.kind == .syntax && error.message.contains("binary chunk")
        }
        #expect(try state.run(Fixtures.healthyScript, name: "healthy.lua") == Fixtures.expectedHealthy)
    }

    @Test("a chunk over the source cap is refused")
    func oversizedChunkRefused() throws {
        let state = try LuaState(limits: Fixtures.testLimits, maxSourceBytes: 1000)
        let source = "return " + String(repeating: "1 + ", count: 400) + "1"
        #expect(throws: LuaError.self) { try state.load(source, name: "big.lua") }
        #expect(try state.run("return 1 + 1", name: "small.lua") == [.integer(2)])
    }

    @Test("a memory limit names the line that was allocating, in a chunk and in a function")
    func memoryLimitLine() throws {
        let state = try Fixtures.state()
        #expect {
            _ = try state.run("-- grows\nlocal t = {}\nfor i = 1, 1e9 do\n  t[i] = { i }\nend", name: "grow.lua")
        } throws: { error in
            (error as! LuaError).kind == .memoryLimit && (error as! LuaError).description.hasPrefix("grow.lua:4: memory limit exceeded")
        }
        let chunk = try state.load("function eat(n)\n  local t = {}\n  for i = 1, n do t[#t + 1] = ('x'):rep(100) .. i end\nend",
                                   name: "eat.lua")
        _ = try state.call(chunk.function, [])
        let eat = try #require(state.function("eat", in: chunk))
        #expect {
            _ = try state.call(eat, [.integer(1_000_000_000)])
        } throws: { error in
            (error as! LuaError).kind == .memoryLimit && (error as! LuaError).line == 3
        }
        #expect(try state.run(Fixtures.healthyScript, name: "healthy.lua") == Fixtures.expectedHealthy)
    }

    @Test("a time limit stops code that the instruction budget would allow")
    func timeLimit() throws {
        let state = try Fixtures.state(LuaLimits(instructions: 0, timeout: 0.2, memoryBytes: 16 << 20))
        let (result, elapsed) = Fixtures.timed {
            Result { () throws(LuaError) in try state.run("while true do end", name: "spin.lua") }
        }
        guard case .failure(let error) = result else {
            Issue.record("expected a time limit")
            return
        }
        #expect(error.kind == .timeLimit)
        #expect(error.description == "spin.lua:1: time limit exceeded (0.2 s)")
        #expect(elapsed >= .milliseconds(200) && elapsed < .seconds(2), "took \(elapsed)")
    }
}

@Suite("Limits hold across calls with different limits")
struct LimitModesTests {
    @Test("a coroutine made in an unlimited call still obeys a later call's budget")
    func coroutineFromUnlimitedCall() throws {
        let state = try Fixtures.state(.unlimited)
        let chunk = try state.load("""
            local co = coroutine.wrap(function() while true do end end)
            function run() return co() end
            """, name: "maker.lua")
        _ = try state.call(chunk.function, [])
        state.limits = Fixtures.testLimits
        let run = try #require(state.function("run", in: chunk))
        let (result, elapsed) = Fixtures.timed { Result { () throws(LuaError) in try state.call(run, []) } }
        guard case .failure(let error) = result else {
            Issue.record("the coroutine ran unbounded")
            return
        }
        #expect(error.kind == .instructionLimit)
        #expect(elapsed < .seconds(3))
    }

    @Test("unlimited calls run to completion")
    func unlimitedCall() throws {
        let state = try Fixtures.state(.unlimited)
        #expect(try state.run("local s = 0 for i = 1, 3e7 do s = s + 1 end return s", name: "u.lua") == [.integer(30_000_000)])
    }
}
