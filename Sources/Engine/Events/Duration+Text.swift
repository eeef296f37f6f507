/// Durations as rules write them: `"90s"`, `"15m"`, `"1h"`, `"7d"`, `"2w"`,
/// or a number of seconds.
public enum DurationText {
    /// Milliseconds for a duration text, or nil when it is not one.
    public static func milliseconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let unit = trimmed.last else { return nil }
        let factor: Double
        switch unit {
        case "s": factor = 1_000
        case "m": factor = 60_000
        case "h": factor = 3_600_000
        case "d": factor = 86_400_000
        case "w": factor = 604_800_000
        default:
            return Double(trimmed).map { Int64($0 * 1000) }
        }
        guard let amount = Double(trimmed.dropLast()), amount >= 0, amount.isFinite else { return nil }
        return Int64(amount * factor)
    }
}

import Foundation
