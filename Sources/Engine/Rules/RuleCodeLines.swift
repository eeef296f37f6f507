/// The text of a rule file as the checks that scan it read it.
extension RuleChecks {
    /// What the scan is inside of.
    private enum Context {
        case code
        case quoted(UInt8)
        /// `[[ ... ]]`, `[==[ ... ]==]`: a long string, or a long comment after `--`.
        case long(level: Int, comment: Bool)
        case lineComment
    }

    /// A rule file's lines, one per line of the file, without comments
    /// (`--` to the end of the line, and `--[[ ... ]]` blocks over several
    /// lines), for the checks that scan the text; `--` inside a string is
    /// not a comment. With `blankingStrings`, what strings hold (quoted or
    /// `[[ long ]]`) is blanked too, so that `"see c.total"` in a message is
    /// not read as code.
    static func codeLines(_ source: String, blankingStrings: Bool = false) -> [Substring] {
        let bytes = Array(source.utf8), count = bytes.count
        let space = UInt8(ascii: " ")
        /// The level of a long bracket opening at `at` (`[[` 0, `[=[` 1, ...), if one does.
        func opening(at: Int) -> Int? {
            guard at < count, bytes[at] == UInt8(ascii: "[") else { return nil }
            var end = at + 1
            while end < count && bytes[end] == UInt8(ascii: "=") { end += 1 }
            return end < count && bytes[end] == UInt8(ascii: "[") ? end - at - 1 : nil
        }
        func closes(at: Int, level: Int) -> Bool {
            guard at + level + 1 < count, bytes[at] == UInt8(ascii: "]"), bytes[at + level + 1] == UInt8(ascii: "]") else { return false }
            return bytes[(at + 1)..<(at + level + 1)].allSatisfy { $0 == UInt8(ascii: "=") }
        }
        var lines: [Substring] = []
        var kept: [UInt8] = []
        var context = Context.code
        var escaped = false
        var at = 0
        while at < count {
            let byte = bytes[at]
            if byte == UInt8(ascii: "\n") {
                lines.append(Substring(String(decoding: kept, as: UTF8.self)))
                kept.removeAll(keepingCapacity: true)
                switch context {
                case .lineComment, .quoted: context = .code // a quoted string ends with its line
                default: break
                }
                escaped = false
                at += 1
                continue
            }
            switch context {
            case .lineComment:
                at += 1
            case .quoted(let quote):
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == quote { context = .code }
                if case .code = context { kept.append(byte) } else { kept.append(blankingStrings ? space : byte) }
                at += 1
            case .long(let level, let comment):
                if closes(at: at, level: level) {
                    kept += comment ? Array(repeating: space, count: level + 2) : Array(bytes[at..<(at + level + 2)])
                    context = .code
                    at += level + 2
                } else {
                    kept.append(comment || blankingStrings ? space : byte)
                    at += 1
                }
            case .code:
                if byte == UInt8(ascii: "-"), at + 1 < count, bytes[at + 1] == UInt8(ascii: "-") {
                    if let level = opening(at: at + 2) {
                        context = .long(level: level, comment: true)
                        kept += Array(repeating: space, count: level + 4)
                        at += level + 4
                    } else {
                        context = .lineComment
                        at += 2
                    }
                } else if let level = opening(at: at) {
                    context = .long(level: level, comment: false)
                    kept += bytes[at..<(at + level + 2)]
                    at += level + 2
                } else {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") { context = .quoted(byte) }
                    kept.append(byte)
                    at += 1
                }
            }
        }
        lines.append(Substring(String(decoding: kept, as: UTF8.self)))
        return lines
    }
}
