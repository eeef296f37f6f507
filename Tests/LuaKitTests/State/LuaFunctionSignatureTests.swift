import LuaKit
import TestSupport
import Testing

@Suite("Reading a Lua function's parameters")
struct LuaFunctionSignatureTests {
    @Test("names, `...`, the lines and the chunk come from the compiled function; the stack is left as it was")
    func parameters() throws {
        let state = try Fixtures.state()
        let chunk = try state.load("""
            f = function(e, c, ctx) return e end

            g = function(a, ...)
              return a
            end
            h = function() end
            """, name: "sig.lua")
        _ = try state.call(chunk.function, [])
        func signature(_ name: String) throws -> LuaFunctionSignature? {
            try read(try #require(state.function(name, in: chunk)), state)
        }
        #expect(try signature("f") == LuaFunctionSignature(parameters: ["e", "c", "ctx"], isVararg: false, line: 1, lastLine: 1, chunk: "sig.lua"))
        #expect(try signature("g") == LuaFunctionSignature(parameters: ["a"], isVararg: true, line: 3, lastLine: 5, chunk: "sig.lua"))
        #expect(try signature("h") == LuaFunctionSignature(parameters: [], isVararg: false, line: 6, lastLine: 6, chunk: "sig.lua"))
    }

    @Test("a C function or a value that is not a function has no signature")
    func notLua() throws {
        let state = try Fixtures.state()
        let chunk = try state.load("return string.len, 42", name: "c.lua")
        let found = try state.call(chunk.function, arguments: 0, results: 2, push: { _ in }, read: { stack in
            (stack.signature(ofFunctionAt: -2), stack.signature(ofFunctionAt: -1), stack.top)
        })
        #expect(found.0 == nil)
        #expect(found.1 == nil)
        #expect(found.2 == 2, "nothing left pushed")
    }

    private func read(_ function: LuaReference, _ state: LuaState) throws -> LuaFunctionSignature? {
        let identity = try state.load("return ...", name: "identity.lua")
        return try state.call(identity.function, arguments: 1, results: 1, push: { $0.push(function) }, read: { stack in
            let before = stack.top
            let signature = stack.signature(ofFunctionAt: -1)
            #expect(stack.top == before, "the stack is left as it was")
            return signature
        })
    }
}
