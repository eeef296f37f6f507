import Foundation
import LuaKit
import TestSupport
import Testing

@Suite("Compiling, calling, host functions and errors")
struct LuaStateTests {
    @Test("a chunk compiles once and its function is called many times")
    func compileOnceCallMany() throws {
        let state = try Fixtures.state()
        let chunk = try state.load(
            "function rule(e) return e.amount > 100 and e.country ~= e.ip_country end", name: "rule.lua")
        _ = try state.call(chunk.function, [])
        let rule = try #require(state.function("rule", in: chunk))
        var hits = 0
        for i in 0..<1000 {
            let event: LuaValue = ["amount": .integer(Int64(i)), "country": "ES", "ip_country": i % 2 == 0 ? "ES" : "FR"]
            if try state.call(rule, [event]) == [true] { hits += 1 }
        }
        #expect(hits == 450)
    }

    @Test("the stack fast path pushes and reads without LuaValue")
    func fastPath() throws {
        let state = try Fixtures.state()
        let chunk = try state.load("return function(e) return e.amount * 2, e.name end", name: "fast.lua")
        let function = try state.call(chunk.function, [])
        #expect(function == [.opaque("function")])
        let holder = try state.load("f = function(e) return e.amount * 2 end", name: "holder.lua")
        _ = try state.call(holder.function, [])
        let f = try #require(state.function("f", in: holder))
        let doubled = try state.call(f, arguments: 1, results: 1, push: { stack in
            stack.pushTable(fields: 1)
            stack.push(21)
            stack.setField("amount")
        }, read: { stack throws(LuaError) in try stack.value(at: -1) })
        #expect(doubled == .integer(42))
    }

    @Test("syntax errors name the chunk and line")
    func syntaxError() throws {
        let state = try Fixtures.state()
        #expect {
            _ = try state.load("local x = 1\nlocal y = = 2", name: "rules/bad.lua")
        } throws: { error in
            let error = error as! LuaError
            return error.kind == .syntax && error.chunk == "rules/bad.lua" && error.line == 2
                && error.description.hasPrefix("rules/bad.lua:2: unexpected symbol")
        }
    }

    @Test("runtime errors carry chunk, line and a traceback, and the state goes on")
    func runtimeError() throws {
        let state = try Fixtures.state()
        let chunk = try state.load("""
            local function inner() error("card declined") end
            local function outer() inner() end
            outer()
            """, name: "flow.lua")
        #expect {
            _ = try state.call(chunk.function, [])
        } throws: { error in
            let error = error as! LuaError
            return error.kind == .runtime && error.description == "flow.lua:1: card declined"
                && (error.traceback?.contains("in upvalue 'inner'") ?? false)
                && (error.traceback?.contains("flow.lua:3") ?? false)
        }
        #expect(try state.run(Fixtures.healthyScript, name: "h.lua") == Fixtures.expectedHealthy)
    }

    @Test("non-string error objects are described")
    func errorObjects() throws {
        let state = try Fixtures.state()
        #expect { try state.run("error({code = 1})", name: "e.lua") } throws: { error in
            (error as! LuaError).message == "(error object is a table value)"
        }
        #expect { try state.run("error(setmetatable({}, {__tostring = function() return 'custom' end}))", name: "e.lua") }
            throws: { error in (error as! LuaError).message == "custom" }
    }

    @Test("Swift functions are callable from Lua; their errors become Lua errors at the caller's line")
    func hostFunctions() throws {
        let state = try Fixtures.state()
        state.register("add") { args in
            guard case .integer(let a) = args[0], case .integer(let b) = args[1] else {
                throw LuaHostError("add expects two integers")
            }
            return [.integer(a + b)]
        }
        struct Declined: Error, CustomStringConvertible { var description: String { "payment declined" } }
        state.register("charge") { _ in throw Declined() }
        #expect(try state.run("return add(40, 2)", name: "a.lua") == [.integer(42)])
        #expect { try state.run("\nreturn add('x', 2)", name: "b.lua") } throws: { error in
            (error as! LuaError).description == "b.lua:2: add expects two integers"
        }
        // pcall catches host errors like any other error.
        #expect(try state.run("return pcall(function() charge() end)", name: "c.lua") == [false, "c.lua:1: charge: payment declined"])
        // And the host function survives many calls and errors.
        for _ in 0..<100 { _ = try? state.run("charge()", name: "d.lua") }
        #expect(try state.run("return add(1, 1)", name: "e.lua") == [.integer(2)])
    }

    @Test("each chunk has its own globals over a shared frozen base")
    func isolatedEnvironments() throws {
        let state = try Fixtures.state()
        _ = try state.run("secret = 42; string = nil; function tostring() return 'hacked' end", name: "a.lua")
        let other = try state.run("return secret, type(string), tostring(1), _G == _ENV", name: "b.lua")
        #expect(other == [.nil, "table", "1", true])
        #expect { try state.run("getmetatable('').__index.upper = nil", name: "c.lua") } throws: { error in
            (error as! LuaError).message.contains("read-only")
        }
        #expect(try state.run("return ('x'):upper(), string.upper('y')", name: "d.lua") == ["X", "Y"])
        #expect(try state.run("return getmetatable(_ENV)", name: "e.lua") == [false])
    }

    @Test("globals can be set and read per chunk and in the shared base")
    func globals() throws {
        let state = try Fixtures.state()
        try state.setGlobal("threshold", 100)
        let chunk = try state.load("limit = threshold * 2", name: "g.lua")
        try state.setGlobal("local_only", "yes", in: chunk)
        _ = try state.call(chunk.function, [])
        #expect(try state.global("limit", in: chunk) == .integer(200))
        #expect(try state.global("local_only", in: chunk) == "yes")
        #expect(try state.run("return threshold, local_only", name: "h.lua") == [.integer(100), .nil])
    }

    @Test("require loads Lua files from the plugin folder only, read-only and shared")
    func requirePlugins() throws {
        let root = try Fixtures.temporaryDirectory(files: [
            "plugins/util.lua": "local M = {rate = 0.2, nested = {x = 1}} function M.double(x) return x * 2 end return M",
            "plugins/geo/eu.lua": "return {countries = {'ES', 'FR'}}",
            "plugins/broken.lua": "return {",
            "secret.lua": "return 'outside'",
        ])
        defer { try? FileManager.default.removeItem(at: root) }
        let plugins = root.appendingPathComponent("plugins").path
        let state = try Fixtures.state(plugins: plugins)
        #expect(try state.run("local u = require('util') return u.double(21), u.rate, #require('geo.eu').countries",
                              name: "r.lua") == [.integer(42), 0.2, .integer(2)])
        #expect { try state.run("require('util').rate = 1", name: "w.lua") } throws: { error in
            (error as! LuaError).message.contains("read-only")
        }
        #expect { try state.run("require('util').nested.x = 2", name: "w.lua") } throws: { error in
            (error as! LuaError).message.contains("read-only")
        }
        #expect(try state.run("return require('util').nested.x, require('util') == require('util')",
                              name: "r2.lua") == [.integer(1), true])
        // Handed back to the host (an action's data, a printed value), a read-only table reads as what it holds.
        #expect(try state.run("return require('geo.eu').countries, { eu = require('geo.eu') }", name: "r3.lua")
                == [.array(["ES", "FR"]), .table(["eu": .table(["countries": .array(["ES", "FR"])])])])
        for name in ["..secret", "../secret", "/etc/passwd", "io", "util/../../secret"] {
            #expect(throws: LuaError.self, "require('\(name)')") { try state.run("return require('\(name)')", name: "x.lua") }
        }
        #expect { try state.run("return require('broken')", name: "x.lua") } throws: { error in
            (error as! LuaError).description.contains("broken.lua:1:")
        }
    }

    @Test("require is disabled without a plugin folder")
    func requireDisabled() throws {
        let state = try Fixtures.state()
        #expect { try state.run("return require('util')", name: "x.lua") } throws: { error in
            (error as! LuaError).message.contains("no plugin folder")
        }
    }

    @Test("memory in use is tracked and released after a memory kill")
    func memoryAccounting() throws {
        let state = try Fixtures.state()
        let before = state.memoryInUse
        #expect(throws: LuaError.self) { try state.run("local t = {} for i = 1, 1e9 do t[i] = i end", name: "m.lua") }
        #expect(state.peakMemory >= 8 << 20)
        #expect(state.memoryInUse < before + (1 << 20))
    }

    @Test("a thread-bound state is usable on its own thread and reports other threads")
    func threadBound() throws {
        let bound = LuaThreadBound(try Fixtures.state())
        #expect(bound.isOnOwnerThread)
        #expect(try bound.value.run("return 1", name: "t.lua") == [.integer(1)])
        final class Seen: @unchecked Sendable {
            let done = DispatchSemaphore(value: 0)
            var onOwner: Bool?
        }
        let seen = Seen()
        let other = Thread { [bound] in
            seen.onOwner = bound.isOnOwnerThread
            seen.done.signal()
        }
        other.start()
        seen.done.wait()
        #expect(seen.onOwner == false)
    }
}
