/// Payment card numbers (PANs) a sender put in a message by mistake, masked
/// before anything is stored or shown to a rule.
///
/// A card number is 13 to 19 digits (written whole or in groups separated
/// by spaces or dashes) that starts as a card network's numbers do (2221–2720,
/// 3, 4, 5 or 6) and passes the Luhn check. It keeps its first six and last
/// four digits, as PCI DSS allows a card number to be shown:
/// `4111111111111111` becomes `411111******1111`. Numbers sent as JSON
/// numbers are found too (and become text). Millisecond timestamps (13
/// digits starting with 1) and shorter ids are left alone.
public enum CardNumbers {
    /// The message with every card number masked (nil when there was none),
    /// and where each was: `properties.card_number`, `properties.products[0].note`.
    public static func masked(_ value: JSONValue) -> (value: JSONValue, paths: [String])? {
        var walk = Walk()
        guard let masked = walk.mask(value) else { return nil }
        return (masked, walk.paths)
    }

    /// The text with every card number masked; nil when there was none.
    public static func masked(_ text: String) -> String? {
        // Most text has no run of 13 digits (a timestamp's longest is 8): one pass over the bytes in place, no copy.
        guard text.utf8.count >= 13,
              (text.utf8.withContiguousStorageIfAvailable(longestDigitRun) ?? longestDigitRun(Array(text.utf8))) >= 13
        else { return nil }
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        var copied = 0, index = 0
        while index < bytes.count {
            guard isDigit(bytes[index]), index == 0 || !isAlphanumeric(bytes[index - 1]) else {
                index += 1
                continue
            }
            // A run of digit groups: digits, and single spaces or dashes between them.
            var groups: [Range<Int>] = []
            var end = index, groupStart = index
            while end < bytes.count {
                if isDigit(bytes[end]) {
                    end += 1
                } else if (bytes[end] == 32 || bytes[end] == 45), end + 1 < bytes.count, isDigit(bytes[end + 1]) {
                    groups.append(groupStart..<end)
                    end += 1
                    groupStart = end
                } else {
                    break
                }
            }
            groups.append(groupStart..<end)
            let closed = end == bytes.count || !isAlphanumeric(bytes[end])
            var first = 0
            while first < groups.count {
                var found: Int?
                var digits: [UInt8] = []
                for last in first..<groups.count {
                    digits += bytes[groups[last]]
                    if digits.count > 19 { break }
                    // A card's groups end the run, or are followed by another group (a date before, a code after).
                    if (last < groups.count - 1 || closed), isCardNumber(digits) { found = last; break }
                }
                if let last = found {
                    output += bytes[copied..<groups[first].lowerBound]
                    output += maskedDigits(digits)
                    copied = groups[last].upperBound
                    first = last + 1
                } else {
                    first += 1
                }
            }
            index = end
        }
        guard copied > 0 else { return nil }
        output += bytes[copied...]
        return String(decoding: output, as: UTF8.self)
    }

    /// A walk through a message: where it is (built into a path only where a
    /// card number is found), and the paths found.
    private struct Walk {
        enum Step { case key(String), index(Int) }
        var steps: [Step] = []
        var paths: [String] = []

        mutating func mask(_ value: JSONValue) -> JSONValue? {
            switch value {
            case .string(let text):
                guard let masked = CardNumbers.masked(text) else { return nil }
                found()
                return .string(masked)
            case .int(let number):
                guard number >= 1_000_000_000_000 else { return nil }
                let digits = Array(String(number).utf8)
                guard isCardNumber(digits) else { return nil }
                found()
                return .string(String(decoding: maskedDigits(digits), as: UTF8.self))
            case .array(let items):
                var changed: [JSONValue]?
                for (offset, item) in items.enumerated() where Self.mayHold(item) {
                    steps.append(.index(offset))
                    defer { steps.removeLast() }
                    if let masked = mask(item) {
                        if changed == nil { changed = items }
                        changed![offset] = masked
                    }
                }
                return changed.map(JSONValue.array)
            case .object(let fields):
                var changed: [String: JSONValue]?
                for (key, item) in fields where Self.mayHold(item) {
                    steps.append(.key(key))
                    defer { steps.removeLast() }
                    if let masked = mask(item) {
                        if changed == nil { changed = fields }
                        changed![key] = masked
                    }
                }
                return changed.map(JSONValue.object)
            case .null, .bool, .double:
                return nil
            }
        }

        /// False for a value that cannot hold a card number: short text, a small number, true, false, null.
        @inline(__always)
        static func mayHold(_ value: JSONValue) -> Bool {
            switch value {
            case .string(let text): text.utf8.count >= 13
            case .int(let number): number >= 1_000_000_000_000
            case .array, .object: true
            case .null, .bool, .double: false
            }
        }

        private mutating func found() {
            var path = ""
            for step in steps {
                switch step {
                case .key(let key): path += path.isEmpty ? key : "." + key
                case .index(let index): path += "[\(index)]"
                }
            }
            paths.append(path)
        }
    }

    /// The most digits in one run of digit groups (single spaces or dashes between them).
    private static func longestDigitRun(_ bytes: some Collection<UInt8>) -> Int {
        var longest = 0, current = 0
        var afterDigit = false
        for byte in bytes {
            if isDigit(byte) {
                current += 1
                afterDigit = true
                if current > longest { longest = current }
            } else if afterDigit, byte == 32 || byte == 45 {
                afterDigit = false // a separator: the run goes on if a digit follows
            } else {
                current = 0
                afterDigit = false
            }
        }
        return longest
    }

    /// 13–19 ASCII digits, a card network's first digits, and the Luhn check.
    static func isCardNumber(_ digits: [UInt8]) -> Bool {
        guard (13...19).contains(digits.count) else { return false }
        let first = digits[0] &- 48
        switch first {
        case 3, 4, 5, 6:
            break
        case 2:
            let prefix = digits.prefix(4).reduce(0) { $0 * 10 + Int($1 &- 48) }
            guard (2221...2720).contains(prefix), digits.count == 16 else { return false }
        default:
            return false
        }
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() {
            var value = Int(digit &- 48)
            if offset % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }

    fileprivate static func maskedDigits(_ digits: [UInt8]) -> [UInt8] {
        Array(digits.prefix(6)) + [UInt8](repeating: UInt8(ascii: "*"), count: digits.count - 10) + Array(digits.suffix(4))
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte &- 48 < 10 }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20) &- 97 < 26 || byte >= 0x80
    }
}
