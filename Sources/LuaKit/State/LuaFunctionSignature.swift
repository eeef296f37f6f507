import CLua

/// What a Lua function declares: its parameters' names, whether it takes
/// `...`, and where it is defined. Read from the compiled function, so it is
/// exact whatever the source's layout.
public struct LuaFunctionSignature: Sendable, Equatable {
    /// The named parameters, in order.
    public var parameters: [String]
    /// True when the function ends its parameters with `...`.
    public var isVararg: Bool
    /// The line of the source where `function` is written.
    public var line: Int
    /// The line where the function's `end` is.
    public var lastLine: Int
    /// The name of the chunk it was compiled from (a rule file's, as loaded).
    public var chunk: String

    public init(parameters: [String], isVararg: Bool, line: Int, lastLine: Int, chunk: String) {
        self.parameters = parameters
        self.isVararg = isVararg
        self.line = line
        self.lastLine = lastLine
        self.chunk = chunk
    }
}

extension LuaStack {
    /// The signature of the Lua function at `index`, or nil when the value
    /// there is not a function written in Lua (a C function, anything else).
    /// Reads debug information only: it pushes nothing and cannot raise.
    public func signature(ofFunctionAt index: Int32) -> LuaFunctionSignature? {
        let function = lua_absindex(L, index)
        guard lua_type(L, function) == LUA_TFUNCTION, lua_iscfunction(L, function) == 0 else { return nil }
        var debug = lua_Debug()
        lua_pushvalue(L, function)
        // ">" takes the function from the top of the stack.
        guard lua_getinfo(L, ">Su", &debug) != 0 else { return nil }
        var names: [String] = []
        names.reserveCapacity(Int(debug.nparams))
        lua_pushvalue(L, function)
        defer { lua_settop(L, -2) }
        for position in 0..<Int32(debug.nparams) {
            // With no activation record, lua_getlocal names the parameters of the function on top.
            guard let name = lua_getlocal(L, nil, position + 1) else { break }
            names.append(String(cString: name))
        }
        // A chunk's name as given to `load`, after Lua's "@" (a file) or "=" (as is) mark.
        var chunk = debug.source.map { String(cString: $0) } ?? ""
        if chunk.first == "@" || chunk.first == "=" { chunk.removeFirst() }
        return LuaFunctionSignature(parameters: names, isVararg: debug.isvararg != 0, line: Int(debug.linedefined),
                                    lastLine: Int(debug.lastlinedefined), chunk: chunk)
    }
}
