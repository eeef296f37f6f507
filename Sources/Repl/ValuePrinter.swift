import LuaKit

/// Shows Lua values the way the REPL prints them: strings quoted, tables
/// with sorted keys, short tables on one line, long ones indented.
public enum ValuePrinter {
    public static func show(_ value: LuaValue, indent: Int = 0) -> String {
        switch value {
        case .nil: return "nil"
        case .boolean(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .number(let d):
            if d.isNaN { return "nan" }
            if d.isInfinite { return d < 0 ? "-inf" : "inf" }
            return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : String(format: "%.14g", d)
        case .string(let s): return quoted(s.description)
        case .opaque(let type): return "<\(type)>"
        case .array(let items):
            return layout(items.map { show($0, indent: indent + 2) }, indent: indent)
        case .table(let fields):
            let entries = fields.sorted { key($0.key) < key($1.key) }.map { k, v in
                "\(key(k)) = \(show(v, indent: indent + 2))"
            }
            return layout(entries, indent: indent)
        }
    }

    private static func layout(_ entries: [String], indent: Int) -> String {
        if entries.isEmpty { return "{}" }
        let inline = "{ " + entries.joined(separator: ", ") + " }"
        if inline.count + indent <= 78 && !inline.contains("\n") { return inline }
        let pad = String(repeating: " ", count: indent + 2)
        return "{\n" + entries.map { pad + $0 + "," }.joined(separator: "\n") + "\n" + String(repeating: " ", count: indent) + "}"
    }

    private static func key(_ value: LuaValue) -> String {
        if case .string(let s) = value {
            let text = s.description
            let identifier = text.first.map { $0.isLetter || $0 == "_" } == true && text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
            return identifier ? text : "[\(quoted(text))]"
        }
        return "[\(show(value))]"
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(character)
            }
        }
        return out + "\""
    }
}
