import LuaKit
import TestSupport
import Testing

@Suite("Values cross between Swift and Lua exactly")
struct LuaValueTests {
    @Test("returned values keep their exact type and bytes")
    func exactReturns() throws {
        let state = try Fixtures.state()
        let values = try state.run(
            "return 'a\\0b', 0/0, math.huge, -math.huge, math.mininteger, math.maxinteger, 3, 3.0, '\\xff\\xfe', true, nil",
            name: "values.lua")
        #expect(values.count == 11)
        #expect(values[0] == .string(LuaString(bytes: [0x61, 0x00, 0x62])))
        guard case .number(let nan) = values[1] else { Issue.record("NaN is not a float"); return }
        #expect(nan.isNaN)
        #expect(values[2] == .number(.infinity))
        #expect(values[3] == .number(-.infinity))
        #expect(values[4] == .integer(Int64.min))
        #expect(values[5] == .integer(Int64.max))
        #expect(values[6] == .integer(3))
        #expect(values[7] == .number(3.0))
        #expect(values[8] == .string(LuaString(bytes: [0xFF, 0xFE])))
        #expect(values[8].stringValue == nil, "invalid UTF-8 is not text")
        #expect(values[9] == .boolean(true))
        #expect(values[10] == .nil)
    }

    @Test("values sent into Lua arrive unchanged and come back unchanged")
    func roundTrip() throws {
        let state = try Fixtures.state()
        let echo = try state.load("return function(...) return ... end", name: "echo.lua")
        let function = try #require(try state.call(echo.function, []).first)
        #expect(function == .opaque("function"))
        let identity = try state.load("return ...", name: "identity.lua")
        let sent: [LuaValue] = [
            .string(LuaString(bytes: [0x00, 0xC3, 0x28, 0x41])), .integer(Int64.min), .number(-0.5),
            .number(.infinity), [1, 2, [3, ["deep": true]]], ["name": "Zoë", "tags": ["a", "b"], "n": 2.5],
            [:], .boolean(false),
        ]
        let received = try state.call(identity.function, sent)
        #expect(received == sent)
        let nan = try state.call(identity.function, [.number(.nan)])
        #expect(nan.first?.doubleValue?.isNaN == true)
    }

    @Test("Lua sees integers and floats as distinct subtypes")
    func numberSubtypes() throws {
        let state = try Fixtures.state()
        let check = try state.load("local a, b = ... return math.type(a), math.type(b), a == b", name: "types.lua")
        #expect(try state.call(check.function, [.integer(2), .number(2)]) == ["integer", "float", true])
    }

    @Test("tables become arrays only when their keys are exactly 1...n")
    func tableShapes() throws {
        let state = try Fixtures.state()
        let values = try state.run("return {10, 20}, {[1] = 'a', [3] = 'c'}, {x = 1}, {}, {[2.5] = true}", name: "t.lua")
        #expect(values[0] == [10, 20])
        #expect(values[1] == .table([.integer(1): "a", .integer(3): "c"]))
        #expect(values[2] == ["x": 1])
        #expect(values[3] == .table([:]))
        #expect(values[4] == .table([.number(2.5): true]))
    }

    @Test("a table that contains itself is reported, not followed")
    func cycleDetected() throws {
        let state = try Fixtures.state()
        #expect {
            _ = try state.run("local t = {child = {}} t.child.parent = t return t", name: "cycle.lua")
        } throws: { error in
            let error = error as! LuaError
            return error.kind == .conversion && error.message.contains("contains itself")
                && error.message.contains("[\"child\"][\"parent\"]")
        }
        #expect(try state.run(Fixtures.healthyScript, name: "h.lua") == Fixtures.expectedHealthy)
    }

    @Test("shared (non-cyclic) subtables are fine")
    func sharedSubtables() throws {
        let state = try Fixtures.state()
        let values = try state.run("local s = {1} return {a = s, b = s}", name: "dag.lua")
        #expect(values == [["a": [1], "b": [1]]])
    }

    @Test("nesting deeper than the cap is reported")
    func depthCap() throws {
        let state = try Fixtures.state()
        #expect(throws: LuaError.self) {
            try state.run("local t = {} local c = t for i = 1, 200 do c[1] = {} c = c[1] end return t", name: "deep.lua")
        }
        var deep: LuaValue = 1
        for _ in 0..<100 { deep = [deep] }
        let identity = try state.load("return ...", name: "identity.lua")
        #expect(throws: LuaError.self) { try state.call(identity.function, [deep]) }
    }

    @Test("tables with nil or NaN keys cannot be sent")
    func invalidKeys() throws {
        let state = try Fixtures.state()
        let identity = try state.load("return ...", name: "identity.lua")
        #expect(throws: LuaError.self) { try state.call(identity.function, [.table([.nil: 1])]) }
        #expect(throws: LuaError.self) { try state.call(identity.function, [.table([.number(.nan): 1])]) }
    }

    @Test("literals read like Lua", arguments: [
        (LuaValue.string(LuaString(bytes: [0x61, 0x00, 0x62])), #""a\0b""#),
        (.string(LuaString(bytes: [0x01, 0x32])), #""\0012""#),
        (.number(.nan), "0/0"), (.number(-.infinity), "-1/0"), (.integer(Int64.min), "math.mininteger"),
        (.number(3), "3.0"), (.number(0.1), "0.1"), (.number(1e100), "1e+100"),
        (LuaValue.array([1, "two", ["x": false]]), #"{1, "two", {x = false}}"#),
        (.table(["end": 1, "ok": 2, .integer(5): 3]), #"{[5] = 3, ["end"] = 1, ok = 2}"#),
    ])
    func literals(value: LuaValue, expected: String) {
        #expect(value.literal == expected)
    }
}
