import Foundation
import LuaKit

/// A JSON value as events carry it.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .int(let i): try container.encode(i)
        case .double(let d): try container.encode(d.isFinite ? d : 0)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }

    /// Parses JSON text.
    public static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { raw in
            try JSONParser.parse(raw.bindMemory(to: UInt8.self))
        }
    }

    /// Where a ``parse(_:)`` error lies in `data`, as `line L, column C: why`
    /// (lines and columns from 1); nil for another error.
    public static func location(of error: any Error, in data: Data) -> String? {
        guard let failure = error as? JSONParser.Failure else { return nil }
        let lines = Array(data.prefix(failure.offset)).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        return "line \(lines.count), column \((lines.last?.count ?? 0) + 1): \(failure.message)"
    }

    /// Parses JSON text given as bytes.
    public static func parse<Bytes: Collection<UInt8>>(bytes: Bytes) throws -> JSONValue {
        if let result = try bytes.withContiguousStorageIfAvailable({ buffer in try JSONParser.parse(buffer) }) {
            return result
        }
        return try Array(bytes).withUnsafeBufferPointer { try JSONParser.parse($0) }
    }

    /// Compact JSON text with sorted keys (stable, for storage and hashing).
    /// Written directly: JSONEncoder costs several microseconds per event.
    public var jsonText: String {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the JSON text (object keys sorted) as UTF-8 bytes.
    func write(to out: inout [UInt8]) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .int(let i): out += String(i).utf8
        case .double(let d):
            if !d.isFinite {
                out += "null".utf8
            } else if d == d.rounded(), abs(d) < 1e15 {
                out += String(Int64(d)).utf8
                out += ".0".utf8
            } else {
                out += "\(d)".utf8
            }
        case .string(let s): JSONValue.quote(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONValue.quote(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `s` as a JSON string literal.
    static func quote(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = s
        text.withUTF8 { bytes in
            // Most strings need no escaping: append them whole.
            if bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
                appendEscaped(bytes, to: &out)
            } else {
                out.append(contentsOf: bytes)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendEscaped<C: Collection>(_ bytes: C, to out: inout [UInt8]) where C.Element == UInt8 {
        let hex = Array("0123456789abcdef".utf8)
        for byte in bytes {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20: out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var object: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// A string, or a number written as text (ids sent as numbers).
    public var stringValue: String? {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        case .double(let d): d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        default: nil
        }
    }

    /// A number, or a string that holds one ("12.50").
    public var doubleValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        case .string(let s): Double(s.trimmingCharacters(in: .whitespaces))
        default: nil
        }
    }

    public var boolValue: Bool? {
        switch self {
        case .bool(let b): b
        case .string(let s): ["true", "yes", "1"].contains(s.lowercased()) ? true : (["false", "no", "0"].contains(s.lowercased()) ? false : nil)
        case .int(let i): i != 0
        default: nil
        }
    }

    /// The value as Lua sees it.
    public var luaValue: LuaValue {
        switch self {
        case .null: .nil
        case .bool(let b): .boolean(b)
        case .int(let i): .integer(i)
        case .double(let d): .number(d)
        case .string(let s): .string(LuaString(s))
        case .array(let a): .array(a.map(\.luaValue))
        case .object(let o):
            .table(Dictionary(uniqueKeysWithValues: o.compactMap { key, value in
                value == .null ? nil : (LuaValue.string(LuaString(key)), value.luaValue)
            }))
        }
    }

    /// A Lua value (from a rule) as JSON; functions and other opaque values become null.
    public init(_ lua: LuaValue) {
        switch lua {
        case .nil, .opaque: self = .null
        case .boolean(let b): self = .bool(b)
        case .integer(let i): self = .int(i)
        case .number(let d): self = .double(d)
        case .string(let s): self = .string(s.description)
        case .array(let a): self = .array(a.map(JSONValue.init))
        case .table(let t):
            var object: [String: JSONValue] = [:]
            for (key, value) in t { object[key.display] = JSONValue(value) }
            self = .object(object)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
