import LuaKit
import TestSupport
import Testing

@Suite("What the sandbox offers and what it withholds")
struct SandboxSurfaceTests {
    @Test("the allow-listed libraries work")
    func allowed() throws {
        let state = try Fixtures.state()
        let values = try state.run("""
            local t = os.time{ year = 2026, month = 1, day = 2, hour = 12 }
            local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
            return type(os.clock()), os.date("!%Y-%m-%d", 0), math.type(t), utf8.len("zoë"), co(1), co(21),
                   select("#", table.unpack({1, 2, 3})), ("%q"):format("a\\n"), string.pack(">I2", 258):byte(1, -1)
            """, name: "surface.lua")
        #expect(values == ["number", "1970-01-01", "integer", .integer(3), .integer(2), .integer(42), .integer(3),
                           "\"a\\\n\"", .integer(1), .integer(2)])
    }

    @Test("the withheld functions are absent", arguments: [
        "load", "loadfile", "dofile", "print", "collectgarbage", "io", "debug", "package", "string.dump",
        "os.execute", "os.exit", "os.getenv", "os.remove", "os.rename", "os.tmpname", "os.setlocale",
    ])
    func withheld(name: String) throws {
        let state = try Fixtures.state()
        #expect(try state.run("return \(name) == nil", name: "absent.lua") == [true])
    }

    @Test("host marshalling never fails for memory; the rule's next allocation does, and the state recovers")
    func hostMarshallingOverTheCap() throws {
        let state = try Fixtures.state(LuaLimits(instructions: 1_000_000, timeout: 1, memoryBytes: 4 << 20))
        let echo = try state.load("return ...", name: "echo.lua")
        let big = LuaValue.string(LuaString(bytes: Array(repeating: 0x78, count: 6 << 20)))
        // Pushing 6 MiB into a 4 MiB state succeeds: host code is never refused.
        let back = try state.call(echo.function, [big])
        #expect(back == [big])
        // Lua code that allocates while the state is over its cap is stopped.
        let grow = try state.load("local t = {} for i = 1, 1e6 do t[i] = i end return #t", name: "grow.lua")
        let holder = try state.load("keep = ...", name: "holder.lua")
        _ = try state.call(holder.function, [big])
        #expect { _ = try state.call(grow.function, []) } throws: { ($0 as! LuaError).kind == .memoryLimit }
        // Once the big value is gone, Lua's emergency collection frees it and code runs again.
        try state.setGlobal("keep", .nil, in: holder)
        #expect(try state.run("local t = {} for i = 1, 1000 do t[i] = i end return #t", name: "ok.lua") == [.integer(1000)])
    }
}
