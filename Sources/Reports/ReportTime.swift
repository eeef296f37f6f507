import Foundation

/// Times given to reports: an ISO 8601 date or date-time, or a duration
/// back from now (`30d`, `12h`).
public enum ReportTime {
    public static func parse(_ text: String, now: Date = Date()) -> Int64? {
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
        // Further back than the year 1 (or not a number): not a time.
        guard ms.isFinite, ms >= -62_135_596_800_000 else { return nil }
        return Int64(ms)
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
