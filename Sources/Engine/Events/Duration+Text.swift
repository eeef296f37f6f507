/// Durations as rules write them: `"90s"`, `"15m"`, `"1h"`, `"7d"`, `"2w"`,
/// or a number of seconds.
public enum DurationText {
    /// The longest duration accepted (about 31,000 years): far from any
    /// use, and a time plus or minus it stays far inside `Int64`.
    public static let longest: Int64 = 1_000_000_000_000_000

    /// Milliseconds for a duration text, or nil when it is not one (or is
    /// longer than ``longest``). Several parts run together add up:
    /// `"1h30m"`, `"2d12h"`.
    public static func milliseconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let split = compound(trimmed) {
            var total: Int64 = 0
            for part in split {
                guard let ms = single(part), total <= longest - ms else { return nil }
                total += ms
            }
            return total
        }
        return single(trimmed)
    }

    /// The parts of a compound duration (`"1h30m"` → `["1h", "30m"]`), or
    /// nil when the text is a single part.
    private static func compound(_ text: String) -> [String]? {
        var parts: [String] = []
        var current = ""
        for character in text {
            current.append(character)
            if "smhdw".contains(character) {
                parts.append(current)
                current = ""
            }
        }
        guard parts.count > 1, current.isEmpty else { return nil }
        return parts
    }

    /// Milliseconds for one number and its unit (or a number of seconds).
    private static func single(_ trimmed: String) -> Int64? {
        guard let unit = trimmed.last else { return nil }
        let factor: Double
        switch unit {
        case "s": factor = 1_000
        case "m": factor = 60_000
        case "h": factor = 3_600_000
        case "d": factor = 86_400_000
        case "w": factor = 604_800_000
        default:
            return Double(trimmed).flatMap { milliseconds(seconds: $0) }
        }
        guard let amount = Double(trimmed.dropLast()), amount >= 0 else { return nil }
        return milliseconds(seconds: amount * factor / 1000)
    }

    /// Milliseconds for a number of seconds, or nil when it is negative,
    /// not finite, or longer than ``longest``.
    public static func milliseconds(seconds: Double) -> Int64? {
        let ms = seconds * 1000
        guard ms.isFinite, ms >= 0, ms <= Double(longest) else { return nil }
        return Int64(ms)
    }
}

extension Int64 {
    /// `value` rounded toward zero, or nil when it is not finite or outside
    /// `Int64`'s range (where `Int64(_:)` would stop the process).
    public init?(finite value: Double) {
        guard value.isFinite, value > -9.2e18, value < 9.2e18 else { return nil }
        self.init(value)
    }
}

import Foundation
