import Foundation

/// Wall-clock arithmetic in one time zone, on millisecond timestamps:
/// quiet hours and `at = "08:00"` schedules.
struct LocalTime {
    let zone: TimeZone
    static let day: Int64 = 86_400_000

    init(_ zone: TimeZone) { self.zone = zone }

    func offset(at time: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(time) / 1000))) * 1000
    }

    /// Minutes since local midnight.
    func minuteOfDay(_ time: Int64) -> Int {
        let local = time + offset(at: time)
        let sinceMidnight = ((local % Self.day) + Self.day) % Self.day
        return Int(sinceMidnight / 60_000)
    }

    /// The first moment strictly after `time` when the local clock shows `minute`.
    func next(minuteOfDay minute: Int, after time: Int64) -> Int64 {
        let local = time + offset(at: time)
        let midnight = local - (((local % Self.day) + Self.day) % Self.day)
        var candidate = midnight + Int64(minute) * 60_000
        for _ in 0..<3 {
            let utc = candidate - offset(at: candidate - offset(at: time))
            if utc > time { return utc }
            candidate += Self.day
        }
        return candidate - offset(at: candidate)
    }

    /// Whether `time` falls in the quiet hours from `from` to `to` (minutes of
    /// the local day; a window may wrap midnight, e.g. 21:00–08:00).
    func isQuiet(_ time: Int64, from: Int, to: Int) -> Bool {
        let m = minuteOfDay(time)
        return from <= to ? (m >= from && m < to) : (m >= from || m < to)
    }
}
