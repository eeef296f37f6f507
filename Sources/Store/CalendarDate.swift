/// Checks the calendar date that ISO-8601 text starts with (`2026-02-30...`),
/// which date parsers would otherwise roll over into the next month.
public enum CalendarDate {
    /// Days in `month` (1–12) of `year` in the proleptic Gregorian calendar.
    public static func days(inMonth month: Int, of year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// False when `text` starts with `YYYY-MM-DD` naming no real day (a
    /// 13th month, February 30); true otherwise, including text that does
    /// not start with a date at all (other checks judge it).
    public static func startsWithValidDate(_ text: String) -> Bool {
        let b = Array(text.utf8.prefix(10))
        guard b.count == 10, b[4] == 45, b[7] == 45 else { return true }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                n = n * 10 + Int(b[i] - 48)
            }
            return n
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return true }
        return (1...12).contains(month) && (1...days(inMonth: month, of: year)).contains(day)
    }
}
