import Foundation
import Reports
import Testing

@Suite("Report times")
struct ReportTimeTests {
    static let now = Date(timeIntervalSince1970: 1_780_000_000)

    @Test("dates, date-times and durations back from now")
    func parses() {
        #expect(ReportTime.parse("2026-03-01", now: Self.now) == 1_772_323_200_000)
        #expect(ReportTime.parse("2026-03-01T12:00:00Z", now: Self.now) == 1_772_366_400_000)
        let seconds: Int64 = 1_780_000_000
        #expect(ReportTime.parse("30d", now: Self.now) == (seconds - 30 * 86_400) * 1000)
        #expect(ReportTime.parse("1.5h", now: Self.now) == (seconds - 5_400) * 1000)
    }

    @Test("a duration reaching before the year 1 means from the beginning; nonsense is no time")
    func bounds() {
        #expect(ReportTime.parse("463102w", now: Self.now) == ReportTime.earliest)
        #expect(ReportTime.parse("1e300d", now: Self.now) == ReportTime.earliest)
        #expect(ReportTime.parse("infd", now: Self.now) == nil)
        #expect(ReportTime.parse("-3d", now: Self.now) == nil)
        #expect(ReportTime.parse("yesterday", now: Self.now) == nil)
        #expect(ReportTime.parse("2026-02-30", now: Self.now) == nil, "not rolled over into March")
        #expect(ReportTime.parse("2026-13-01T00:00:00Z", now: Self.now) == nil)
        #expect(ReportTime.parse("2024-02-29", now: Self.now) != nil, "a leap day")
        #expect(ReportTime.parse("", now: Self.now) == nil)
    }
}
