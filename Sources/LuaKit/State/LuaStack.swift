import CLua
import CLuaShim

/// Direct, non-raising access to a state's stack for host code that pushes
/// arguments or reads results without building ``LuaValue`` trees.
///
/// Every operation here is raw (no metamethods) and runs while the host
/// flag keeps the allocator from failing, so none of them can raise a Lua
/// error through Swift frames. A `LuaStack` is only valid inside the closure
/// that received it.
public struct LuaStack {
    let L: OpaquePointer

    init(_ L: OpaquePointer) { self.L = L }

    /// Number of slots in use.
    public var top: Int32 { lua_gettop(L) }

    // MARK: Pushing

    public func pushNil() { lua_pushnil(L) }
    public func push(_ value: Bool) { lua_pushboolean(L, value ? 1 : 0) }
    public func push(_ value: Int64) { lua_pushinteger(L, value) }
    public func push(_ value: Int) { lua_pushinteger(L, Int64(value)) }
    public func push(_ value: Double) { lua_pushnumber(L, value) }

    public func push(_ value: String) {
        var text = value
        text.withUTF8 { buffer in
            _ = buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    public func push(bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            _ = buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    /// Pushes a new table with room for `array` sequence items and `fields` others.
    public func pushTable(array: Int = 0, fields: Int = 0) {
        lua_createtable(L, Int32(clamping: array), Int32(clamping: fields))
    }

    /// Sets `table[name] = <value on top>` on the table just below the top and pops the value.
    /// The table must be one the host made (no metatable).
    public func setField(_ name: StaticString) {
        _ = name.withUTF8Buffer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
        lua_rotate(L, -2, 1)
        lua_rawset(L, -3)
    }

    /// Sets `table[name] = <value on top>` on the table just below the top and pops the value.
    public func setField(_ name: String) {
        push(name)
        lua_rotate(L, -2, 1)
        lua_rawset(L, -3)
    }

    /// Pushes any ``LuaValue`` (tables deeply). Validates first: nothing is
    /// pushed when it throws.
    public func push(_ value: LuaValue) throws(LuaError) {
        try LuaValueCodec.validate(value, depth: 0)
        guard lua_checkstack(L, Int32(LuaValueCodec.maxDepth) + 8) != 0 else {
            throw LuaError(kind: .conversion, message: "Lua stack is full")
        }
        LuaValueCodec.push(value, L)
    }

    // MARK: Reading

    /// Reads the value at `index` (1-based, or negative from the top).
    public func value(at index: Int32) throws(LuaError) -> LuaValue {
        var visiting = Set<UnsafeRawPointer>()
        return try LuaValueCodec.read(L, lua_absindex(L, index), depth: 0, path: "value", visiting: &visiting)
    }

    public func isNil(at index: Int32) -> Bool { lua_type(L, index) <= LUA_TNIL }
    public func boolean(at index: Int32) -> Bool { lua_toboolean(L, index) != 0 }

    public func pop(_ n: Int32 = 1) { lua_settop(L, -n - 1) }
}
