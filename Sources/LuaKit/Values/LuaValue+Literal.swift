import Foundation

extension LuaValue {
    /// The value written as a Lua literal that reads back to an equal value:
    /// `"a\0b"`, `3`, `3.0`, `1/0`, `0/0`, `math.mininteger`, `{1, 2, x = "y"}`.
    /// Table fields are sorted (integers, then other keys by their literal),
    /// so the output is deterministic.
    public var literal: String {
        switch self {
        case .nil: return "nil"
        case .boolean(let b): return b ? "true" : "false"
        case .integer(let i): return i == Int64.min ? "math.mininteger" : String(i)
        case .number(let d):
            if d.isNaN { return "0/0" }
            if d.isInfinite { return d > 0 ? "1/0" : "-1/0" }
            return LuaValue.format(d)
        case .string(let s): return LuaValue.quote(s.bytes)
        case .array(let items): return "{" + items.map(\.literal).joined(separator: ", ") + "}"
        case .table(let fields):
            if fields.isEmpty { return "{}" }
            // The sequence part first, positionally, as Lua programmers write it.
            var sequence: [String] = []
            while let item = fields[.integer(Int64(sequence.count + 1))] { sequence.append(item.literal) }
            let rest = fields.filter { key, _ in
                if case .integer(let i) = key, i >= 1, i <= sequence.count { return false }
                return true
            }
            let parts = sequence + rest.sorted(by: { LuaValue.keyOrder($0.key, $1.key) }).map { key, value in
                if case .string(let s) = key, let name = s.text, LuaValue.isIdentifier(name) {
                    return "\(name) = \(value.literal)"
                }
                return "[\(key.literal)] = \(value.literal)"
            }
            return "{" + parts.joined(separator: ", ") + "}"
        case .opaque(let type): return "<\(type)>"
        }
    }

    /// The value as Lua's `print` shows it: strings as their text, numbers
    /// as Lua formats them (`inf`, `nan`), tables as literals.
    public var display: String {
        switch self {
        case .string(let s): return s.description
        case .integer(let i): return String(i)
        case .number(let d):
            if d.isNaN { return "nan" }
            if d.isInfinite { return d > 0 ? "inf" : "-inf" }
            return LuaValue.format(d)
        default: return literal
        }
    }

    /// Lua's `%.14g`, with `.0` added when the result looks like an integer.
    static func format(_ d: Double) -> String {
        let text = String(format: "%.14g", d)
        if text.allSatisfy({ $0.isNumber || $0 == "-" }) { return text + ".0" }
        return text
    }

    static func quote(_ bytes: [UInt8]) -> String {
        var out = "\""
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\r"): out += "\\r"
            case UInt8(ascii: "\t"): out += "\\t"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                // A decimal escape; pad to 3 digits when a digit follows.
                let next = index + 1 < bytes.count ? bytes[index + 1] : 0
                let pad = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(next)
                out += pad ? String(format: "\\%03d", byte) : "\\\(byte)"
            }
        }
        return out + "\""
    }

    static func isIdentifier(_ name: String) -> Bool {
        let keywords: Set<String> = [
            "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
            "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
        ]
        guard let first = name.unicodeScalars.first, !keywords.contains(name) else { return false }
        let isStart = { (c: Unicode.Scalar) in c == "_" || (c.isASCII && c.properties.isAlphabetic) }
        return isStart(first) && name.unicodeScalars.allSatisfy { isStart($0) || ("0"..."9").contains($0) }
    }

    static func keyOrder(_ a: LuaValue, _ b: LuaValue) -> Bool {
        switch (a, b) {
        case let (.integer(x), .integer(y)): return x < y
        case (.integer, _): return true
        case (_, .integer): return false
        default: return a.literal < b.literal
        }
    }
}
