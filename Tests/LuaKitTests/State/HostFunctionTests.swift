import Foundation
import LuaKit
import TestSupport
import Testing

@Suite("Stack-level host functions, clock cells and volatile reads")
struct HostFunctionTests {
    @Test("a stack function reads its arguments and pushes its results without LuaValue")
    func stackFunction() throws {
        let state = try Fixtures.state()
        let chunk = try state.load("return greet('ana', 3)", name: "greet.lua")
        state.registerStackFunction("greet", in: chunk) { stack in
            let name = stack.string(at: 1) ?? "?"
            stack.push("hello \(name)")
            stack.pushTable(fields: 1)
            stack.push(stack.string(at: 2) == nil); stack.setField("count_is_not_a_string")
            return 2
        }
        let results = try state.call(chunk.function, [])
        #expect(results.first == "hello ana")
        #expect(results.last == ["count_is_not_a_string": true])
    }

    @Test("a clock cell is read at every call, and every read counts as volatile")
    func clockCell() throws {
        let state = try Fixtures.state()
        let cell = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        defer { cell.deallocate() }
        cell.initialize(to: 1_000)
        let chunk = try state.load("function now_is() return clock_ms() end", name: "cell.lua")
        state.registerCellReader("clock_ms", in: chunk, cell: UnsafePointer(cell))
        _ = try state.call(chunk.function, [])
        let function = try #require(state.function("now_is", in: chunk))
        let before = state.volatileReads
        #expect(try state.call(function, []) == [.integer(1_000)])
        cell.pointee = 2_500
        #expect(try state.call(function, []) == [.integer(2_500)])
        #expect(state.volatileReads == before + 2)
    }

    @Test("the clock and random numbers count as volatile reads; plain code and the host's own count do not mix up")
    func volatileReads() throws {
        let state = try Fixtures.state()
        let pure = try state.load("local t = {} for i = 1, 10 do t[i] = i * 2 end return #t", name: "pure.lua")
        let clock = try state.load("return os.time() > 0 and os.clock() >= 0 and #os.date('%Y') == 4", name: "clock.lua")
        let random = try state.load("return math.random(1, 6)", name: "random.lua")
        let start = state.volatileReads
        _ = try state.call(pure.function, [])
        #expect(state.volatileReads == start)
        #expect(try state.call(clock.function, []) == [true])
        #expect(state.volatileReads == start + 3)
        let roll = try state.call(random.function, [])
        #expect((1...6).contains(Int(roll.first?.doubleValue ?? 0)))
        #expect(state.volatileReads == start + 4)
        state.countVolatileRead()
        #expect(state.volatileReads == start + 5)
    }
}
