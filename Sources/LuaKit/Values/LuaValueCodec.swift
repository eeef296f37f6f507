import CLua
import CLuaShim

/// Copies values between the Lua stack and ``LuaValue``, raw (metamethods
/// are never called), with a depth cap and cycle detection.
enum LuaValueCodec {
    /// Deepest table nesting copied in either direction.
    static let maxDepth = 64

    static func read(
        _ L: OpaquePointer, _ index: Int32, depth: Int, path: String, visiting: inout Set<UnsafeRawPointer>
    ) throws(LuaError) -> LuaValue {
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE:
            return .nil
        case LUA_TBOOLEAN:
            return .boolean(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            if lua_isinteger(L, index) != 0 { return .integer(lua_tointegerx(L, index, nil)) }
            return .number(lua_tonumberx(L, index, nil))
        case LUA_TSTRING:
            return .string(LuaString(bytes: readBytes(L, index)))
        case LUA_TTABLE:
            // A read-only proxy (a plugin's or a library's table) is empty itself: copy the table behind it.
            if crescent_push_unfrozen(L, index) != 0 {
                defer { crescent_pop(L, 1) }
                return try readTable(L, lua_absindex(L, -1), depth: depth, path: path, visiting: &visiting)
            }
            return try readTable(L, index, depth: depth, path: path, visiting: &visiting)
        default:
            return .opaque(String(cString: lua_typename(L, lua_type(L, index))))
        }
    }

    static func readBytes(_ L: OpaquePointer, _ index: Int32) -> [UInt8] {
        var length = 0
        guard let pointer = lua_tolstring(L, index, &length) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    private static func readTable(
        _ L: OpaquePointer, _ index: Int32, depth: Int, path: String, visiting: inout Set<UnsafeRawPointer>
    ) throws(LuaError) -> LuaValue {
        guard let identity = lua_topointer(L, index) else { return .opaque("table") }
        if visiting.contains(identity) {
            throw LuaError(kind: .conversion, message: "\(path) is a table that contains itself (cycle)")
        }
        if depth >= maxDepth {
            throw LuaError(kind: .conversion, message: "\(path) nests tables deeper than \(maxDepth) levels")
        }
        guard lua_checkstack(L, 4) != 0 else {
            throw LuaError(kind: .conversion, message: "Lua stack is full while reading \(path)")
        }
        visiting.insert(identity)
        defer { visiting.remove(identity) }

        var fields: [LuaValue: LuaValue] = [:]
        var sequenceOnly = true
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            let keyIndex = lua_absindex(L, -2)
            let key = try read(L, keyIndex, depth: depth + 1, path: path + "[key]", visiting: &visiting)
            let value: LuaValue
            do {
                value = try read(L, lua_absindex(L, -1), depth: depth + 1,
                                 path: path + "[" + key.literal + "]", visiting: &visiting)
            } catch {
                crescent_pop(L, 2)
                throw error
            }
            crescent_pop(L, 1)
            if case .integer(let i) = key, i >= 1 {} else { sequenceOnly = false }
            fields[key] = value
        }
        if sequenceOnly, !fields.isEmpty {
            var items: [LuaValue] = []
            items.reserveCapacity(fields.count)
            for i in 1...fields.count {
                guard let item = fields[.integer(Int64(i))] else { return .table(fields) }
                items.append(item)
            }
            return .array(items)
        }
        return .table(fields)
    }

    /// Checks that `value` can be pushed without any Lua error.
    static func validate(_ value: LuaValue, depth: Int) throws(LuaError) {
        switch value {
        case .array(let items):
            guard depth < maxDepth else { throw tooDeep() }
            for item in items { try validate(item, depth: depth + 1) }
        case .table(let fields):
            guard depth < maxDepth else { throw tooDeep() }
            for (key, item) in fields {
                switch key {
                case .nil:
                    throw LuaError(kind: .conversion, message: "a table key cannot be nil")
                case .number(let d) where d.isNaN:
                    throw LuaError(kind: .conversion, message: "a table key cannot be NaN")
                default:
                    try validate(key, depth: depth + 1)
                }
                try validate(item, depth: depth + 1)
            }
        case .opaque(let type):
            throw LuaError(kind: .conversion, message: "a \(type) cannot be passed to Lua as a value")
        default:
            break
        }
    }

    private static func tooDeep() -> LuaError {
        LuaError(kind: .conversion, message: "value nests tables deeper than \(maxDepth) levels")
    }

    /// Pushes a value already checked by ``validate(_:depth:)``.
    static func push(_ value: LuaValue, _ L: OpaquePointer) {
        switch value {
        case .nil, .opaque:
            lua_pushnil(L)
        case .boolean(let b):
            lua_pushboolean(L, b ? 1 : 0)
        case .integer(let i):
            lua_pushinteger(L, i)
        case .number(let d):
            lua_pushnumber(L, d)
        case .string(let s):
            s.bytes.withUnsafeBufferPointer { buffer in
                _ = buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(L, $0.baseAddress, $0.count) }
            }
        case .array(let items):
            lua_createtable(L, Int32(clamping: items.count), 0)
            for (offset, item) in items.enumerated() {
                push(item, L)
                lua_rawseti(L, -2, Int64(offset + 1))
            }
        case .table(let fields):
            lua_createtable(L, 0, Int32(clamping: fields.count))
            for (key, item) in fields {
                push(key, L)
                push(item, L)
                lua_rawset(L, -3)
            }
        }
    }
}
