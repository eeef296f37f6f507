import Store
import Testing

@Suite("Calendar dates")
struct CalendarDateTests {
    @Test("a date is checked against its month's length, leap years included; text without a date is left to other checks")
    func startsWithValidDate() {
        #expect(CalendarDate.startsWithValidDate("2026-02-28T23:59:59Z"))
        #expect(!CalendarDate.startsWithValidDate("2026-02-29"))
        #expect(CalendarDate.startsWithValidDate("2024-02-29"))
        #expect(!CalendarDate.startsWithValidDate("1900-02-29"), "not a leap year")
        #expect(CalendarDate.startsWithValidDate("2000-02-29"), "a leap year")
        #expect(!CalendarDate.startsWithValidDate("2026-06-31"))
        #expect(!CalendarDate.startsWithValidDate("2026-00-10"))
        #expect(!CalendarDate.startsWithValidDate("2026-01-00"))
        #expect(CalendarDate.startsWithValidDate("30d") && CalendarDate.startsWithValidDate(""))
    }
}
