import CLua
import CLuaShim

/// Direct, non-raising access to a state's stack for host code that pushes
/// arguments or reads results without building ``LuaValue`` trees.
///
/// Every operation here is raw (no metamethods) and runs while the host
/// flag keeps the allocator from failing, so none of them can raise a Lua
/// error through Swift frames. A `LuaStack` is only valid inside the closure
/// that received it.
@frozen
public struct LuaStack {
    @usableFromInline let L: OpaquePointer

    @inlinable init(_ L: OpaquePointer) { self.L = L }

    /// Number of slots in use.
    @inlinable public var top: Int32 { lua_gettop(L) }

    // MARK: Pushing

    /// Pushes what a reference holds (a chunk's function, a stored value).
    @inlinable public func push(_ reference: LuaReference) { crescent_get_ref(L, reference.ref) }

    @inlinable public func pushNil() { lua_pushnil(L) }
    @inlinable public func push(_ value: Bool) { lua_pushboolean(L, value ? 1 : 0) }
    @inlinable public func push(_ value: Int64) { lua_pushinteger(L, value) }
    @inlinable public func push(_ value: Int) { lua_pushinteger(L, Int64(value)) }
    @inlinable public func push(_ value: Double) { lua_pushnumber(L, value) }

    @inlinable public func push(_ value: String) {
        var text = value
        text.withUTF8 { buffer in
            _ = buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    /// Pushes a constant string through Lua's string cache (as `lua_pushstring` does in C).
    @inlinable public func push(constant: StaticString) {
        if constant.hasPointerRepresentation {
            lua_pushstring(L, UnsafeRawPointer(constant.utf8Start).assumingMemoryBound(to: CChar.self))
        } else {
            push(constant.description)
        }
    }

    @inlinable public func push(bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            _ = buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    /// Pushes a new table with room for `array` sequence items and `fields` others.
    @inlinable public func pushTable(array: Int = 0, fields: Int = 0) {
        lua_createtable(L, Int32(clamping: array), Int32(clamping: fields))
    }

    /// Sets `table[name] = <value on top>` on the table just below the top and pops the value.
    /// The table must be one the host made (no metatable). Constant names
    /// go through Lua's string cache, as `lua_setfield` does in C.
    @inlinable public func setField(_ name: StaticString) {
        if name.hasPointerRepresentation {
            lua_setfield(L, -2, UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self))
        } else {
            setField(name: name.description)
        }
    }

    /// Sets `table[name] = <value on top>` on the table just below the top and pops the value.
    @inlinable public func setField(name: String) {
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

    /// Sets `table[index] = <value on top>` on the table just below the top and pops the value.
    @inlinable public func setIndex(_ index: Int) {
        lua_rawseti(L, -2, Int64(index))
    }

    /// Makes room for `slots` more values; false when the stack cannot grow.
    @inlinable public func ensure(_ slots: Int) -> Bool {
        lua_checkstack(L, Int32(clamping: slots)) != 0
    }

    // MARK: Reading

    /// Reads the value at `index` (1-based, or negative from the top).
    public func value(at index: Int32) throws(LuaError) -> LuaValue {
        var visiting = Set<UnsafeRawPointer>()
        return try LuaValueCodec.read(L, lua_absindex(L, index), depth: 0, path: "value", visiting: &visiting)
    }

    /// Items 1...count of the table at `index` (raw reads), as values; nested
    /// tables are not followed (they come back as `.opaque("table")`).
    public func elements(ofTableAt index: Int32, count: Int) throws(LuaError) -> [LuaValue] {
        let table = lua_absindex(L, index)
        guard lua_type(L, table) == LUA_TTABLE, count > 0 else { return [] }
        var items: [LuaValue] = []
        items.reserveCapacity(count)
        for position in 1...count {
            lua_rawgeti(L, table, Int64(position))
            if lua_type(L, -1) == LUA_TTABLE {
                items.append(.opaque("table"))
            } else {
                items.append(try value(at: -1))
            }
            crescent_pop(L, 1)
        }
        return items
    }

    @inlinable public func isNil(at index: Int32) -> Bool { lua_type(L, index) <= LUA_TNIL }
    /// The number at `index` as an integer (a float is truncated), or nil when it is not a number.
    @inlinable public func integer(at index: Int32) -> Int64? {
        switch lua_type(L, index) {
        case LUA_TNUMBER:
            if lua_isinteger(L, index) != 0 { return lua_tointegerx(L, index, nil) }
            let value = lua_tonumberx(L, index, nil)
            return value.isFinite && abs(value) < 9.2e18 ? Int64(value) : nil
        default: return nil
        }
    }

    /// Item `item` of the table at `index` (a raw read) as an integer, or nil
    /// when the table is missing or the item is not a number.
    @inlinable public func integer(inTableAt index: Int32, item: Int) -> Int64? {
        guard lua_type(L, index) == LUA_TTABLE else { return nil }
        lua_rawgeti(L, index, Int64(item))
        defer { lua_settop(L, -2) }
        return integer(at: -1)
    }

    /// Item `item` of the table at `index` (a raw read) as a string, or nil
    /// when the table is missing or the item is not a string.
    @inlinable public func string(inTableAt index: Int32, item: Int) -> String? {
        guard lua_type(L, index) == LUA_TTABLE else { return nil }
        lua_rawgeti(L, index, Int64(item))
        defer { lua_settop(L, -2) }
        return string(at: -1)
    }

    /// The string at `index`, or nil when it is not a string (numbers are not converted).
    @inlinable public func string(at index: Int32) -> String? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let bytes = lua_tolstring(L, index, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: length), as: UTF8.self)
    }
    @inlinable public func boolean(at index: Int32) -> Bool { lua_toboolean(L, index) != 0 }

    @inlinable public func pop(_ n: Int32 = 1) { lua_settop(L, -n - 1) }
}
