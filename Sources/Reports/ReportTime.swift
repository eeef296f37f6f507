import Foundation
import Store

/// Times given to reports: an ISO 8601 date or date-time, or a duration
/// back from now (`30d`, `12h`).
public enum ReportTime {
    /// 0001-01-01T00:00:00Z, the earliest time a report takes.
    public static let earliest: Int64 = -62_135_596_800_000

    public static func parse(_ text: String, now: Date = Date()) -> Int64? {
        // Foundation rolls a day the month does not have (February 30) into the next month: refused instead.
        guard CalendarDate.startsWithValidDate(text) else { return nil }
        let iso = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate]] {
            iso.formatOptions = options
            if let date = iso.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
        }
        guard let unit = text.last, let amount = Double(text.dropLast()), amount >= 0 else { return nil }
        let scale: Double
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3600
        case "d": scale = 86_400
        case "w": scale = 604_800
        default: return nil
        }
        let ms = (now.timeIntervalSince1970 - amount * scale) * 1000
        guard ms.isFinite else { return nil }
        // Further back than the year 1 is from the beginning: `since=100000w` means all time.
        return Int64(max(ms, Double(earliest)))
    }
}

extension ReportTime {
    /// ISO 8601 with milliseconds, UTC.
    public static func iso(_ ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
