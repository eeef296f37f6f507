/// A Lua value copied into Swift.
///
/// Integers and floats stay distinct (`3` is ``integer(_:)``, `3.0` is
/// ``number(_:)``), strings keep their bytes (embedded NUL and invalid UTF-8
/// included), and NaN and infinities survive both ways. A table whose keys
/// are exactly `1...n` becomes ``array(_:)``; any other table, the empty one
/// included, becomes ``table(_:)``. Functions, userdata and threads cannot be
/// copied: they come back as ``opaque(_:)`` naming their type.
public enum LuaValue: Sendable, Hashable {
    case `nil`
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    case string(LuaString)
    case array([LuaValue])
    case table([LuaValue: LuaValue])
    case opaque(String)

    /// The Lua type name (`type(v)` in Lua).
    public var typeName: String {
        switch self {
        case .nil: "nil"
        case .boolean: "boolean"
        case .integer, .number: "number"
        case .string: "string"
        case .array, .table: "table"
        case .opaque(let type): type
        }
    }

    /// The string's text when this is a string holding valid UTF-8.
    public var stringValue: String? {
        if case .string(let s) = self { return s.text }
        return nil
    }

    /// The value as a Double when it is a number of either kind.
    public var doubleValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }
}

extension LuaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(LuaString(value)) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
    public init(nilLiteral: ()) { self = .nil }
    public init(arrayLiteral elements: LuaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (LuaValue, LuaValue)...) {
        self = .table(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// A Lua string: a sequence of bytes that is usually, but not always, UTF-8.
public struct LuaString: Sendable, Hashable, CustomStringConvertible {
    /// The exact bytes.
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }

    /// The text, when the bytes are valid UTF-8.
    public var text: String? {
        String(validating: bytes, as: UTF8.self)
    }

    /// The text, with invalid sequences replaced by U+FFFD.
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}
