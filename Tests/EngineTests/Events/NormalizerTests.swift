import Engine
import Foundation
import Testing

@Suite("Normalizing Segment messages")
struct NormalizerTests {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    @Test("what real SDKs send is accepted: null ids, numbers as strings, unicode, extra fields")
    func lenient() throws {
        let event = try Normalizer.normalize(try parse("""
            {"type":"track","event":"Order Completed","userId":null,"anonymousId":12345,"messageId":"m-1",
             "timestamp":"2026-03-01T10:00:00.250+01:00","properties":{"total":"49.90","quantity":"2","name":"Crème 🌙"},
             "context":{"library":{"name":"analytics-python"}},"_metadata":{"x":1},"integrations":{"All":true}}
            """), now: 0)
        #expect(event.userId == nil)
        #expect(event.anonymousId == "12345")
        #expect(event.name == "Order Completed" && event.kind == .track)
        #expect(event.properties["total"] == .double(49.9))
        #expect(event.properties["quantity"] == .int(2))
        #expect(event.properties["name"] == "Crème 🌙")
        #expect(event.timestamp == 1_772_355_600_250)
    }

    @Test("page, screen, identify, group and alias get their event names")
    func names() throws {
        for (type, name) in [("page", "Page Viewed"), ("screen", "Screen Viewed"), ("identify", "Identify"), ("group", "Group")] {
            let event = try Normalizer.normalize(try parse(#"{"type":"\#(type)","userId":"u"}"#), now: 5)
            #expect(event.name == name)
            #expect(event.timestamp == 5, "a missing timestamp takes the clock")
        }
        let alias = try Normalizer.normalize(try parse(#"{"type":"alias","userId":"u","previousId":"a"}"#), now: 0)
        #expect(alias.previousId == "a")
    }

    @Test("what is wrong is rejected with the field named", arguments: [
        (#"{"event":"x","userId":"u"}"#, "type"),
        (#"{"type":"purchase","userId":"u"}"#, "type"),
        (#"{"type":"track","userId":"u"}"#, "event"),
        (#"{"type":"track","event":"","userId":"u"}"#, "event"),
        (#"{"type":"track","event":"x","userId":null,"anonymousId":""}"#, "userId"),
        (#"{"type":"alias","userId":"u"}"#, "previousId"),
        (#"{"type":"track","event":"x","userId":"u","timestamp":"yesterday"}"#, "timestamp"),
        // Numbers no clock means, which once stopped the process converting them.
        (#"{"type":"track","event":"x","userId":"u","timestamp":-1.1e187}"#, "timestamp"),
        (#"{"type":"track","event":"x","userId":"u","timestamp":1e300}"#, "timestamp"),
        (#"{"type":"track","event":"x","userId":"u","timestamp":-9223372036854775}"#, "timestamp"),
        (#"{"type":"track","event":"x","userId":"u","sentAt":1e300}"#, "sentAt"),
        // Days the month does not have, which parsers roll into the next month.
        (#"{"type":"track","event":"x","userId":"u","timestamp":"2026-02-30T10:00:00Z"}"#, "timestamp"),
        (#"{"type":"track","event":"x","userId":"u","timestamp":"2026-04-31T10:00:00+02:00"}"#, "timestamp"),
        (#"{"type":"track","event":"x","userId":"u","timestamp":"2025-02-29T10:00:00.5Z"}"#, "timestamp"),
        (#"[1,2]"#, "(message)"),
        // Amounts of a commerce event that are no numbers: read as none, they would pass a fraud rule's threshold.
        (#"{"type":"track","event":"Order Completed","userId":"u","properties":{"total":"1.234,50"}}"#, "properties.total"),
        (#"{"type":"track","event":"Order Completed","userId":"u","properties":{"total":"NaN"}}"#, "properties.total"),
        (#"{"type":"track","event":"Checkout Started","userId":"u","properties":{"revenue":"Infinity"}}"#, "properties.revenue"),
        (#"{"type":"track","event":"Order Completed","userId":"u","properties":{"total":true}}"#, "properties.total"),
        (#"{"type":"track","event":"Product Added","userId":"u","properties":{"price":"0x10"}}"#, "properties.price"),
        (#"{"type":"track","event":"Order Completed","userId":"u","properties":{"total":10,"products":[{"price":5},{"price":"5 EUR"}]}}"#,
         "properties.products[1].price"),
    ])
    func rejected(text: String, field: String) throws {
        #expect { _ = try Normalizer.normalize(try parse(text), now: 0) } throws: { error in
            (error as? NormalizationError)?.field == field
        }
    }

    @Test("amounts sent as strings become numbers, in order items too; other events keep text that is no number")
    func amounts() throws {
        let order = try Normalizer.normalize(try parse("""
            {"type":"track","event":"Order Completed","userId":"u","properties":{"total":" 30 ","discount":null,"tax":"",
             "products":[{"sku":"a","price":"12.50","quantity":"2"},{"sku":"b","price":5}]}}
            """), now: 0)
        #expect(order.properties["total"] == .int(30))
        #expect(order.properties["discount"] == .null)
        #expect(order.properties["tax"] == .null, "an empty field is no amount, not a refusal")
        func item(_ index: Int, _ key: String) -> JSONValue? {
            guard case .array(let items)? = order.properties["products"], index < items.count else { return nil }
            return items[index][key]
        }
        #expect(item(0, "price") == .double(12.5))
        #expect(item(0, "quantity") == .int(2))
        #expect(item(1, "price") == .int(5))
        let survey = try Normalizer.normalize(try parse(#"{"type":"track","event":"Survey Answered","userId":"u","properties":{"value":"yes","amount":"12"}}"#), now: 0)
        #expect(survey.properties["value"] == "yes")
        #expect(survey.properties["amount"] == .int(12))
    }

    @Test("a message without messageId gets a stable id from its content")
    func derivedIds() throws {
        let text = #"{"type":"track","event":"x","userId":"u","timestamp":"2026-01-01T00:00:00Z"}"#
        let a = try Normalizer.normalize(try parse(text), now: 0)
        let b = try Normalizer.normalize(try parse(text), now: 99)
        #expect(a.messageId == b.messageId && a.messageId.hasPrefix("derived-"))
    }

    @Test("timestamps in every form SDKs use", arguments: [
        ("2026-01-01T00:00:00Z", Int64(1_767_225_600_000)), ("2026-01-01T00:00:00.5Z", 1_767_225_600_500),
        ("2026-01-01T02:00:00+02:00", 1_767_225_600_000), ("2025-12-31T19:00:00-0500", 1_767_225_600_000),
        ("2026-01-01 00:00:00Z", 1_767_225_600_000),
    ])
    func timestamps(text: String, expected: Int64) {
        #expect(Timestamps.parse(text) == expected)
        #expect(Timestamps.milliseconds(.int(1_767_225_600)) == 1_767_225_600_000)
        #expect(Timestamps.milliseconds(.int(1_767_225_600_000)) == 1_767_225_600_000)
    }

    @Test("a time ahead of the server's clock is corrected as Segment does; earlier times are kept")
    func skew() {
        let received: Int64 = 1_767_225_600_000, minute: Int64 = 60_000
        func corrected(_ time: Int64, sentAt: Int64? = nil) -> Int64 {
            Timestamps.skewCorrected(time, sentAt: sentAt.map { .int($0) }, receivedAt: received, tolerance: minute)
        }
        #expect(corrected(received - 86_400_000) == received - 86_400_000, "a day late (an offline queue): kept")
        #expect(corrected(received + 30_000) == received + 30_000, "within the tolerance: kept")
        let year: Int64 = 365 * 86_400_000
        #expect(corrected(received + year) == received, "a year ahead, no sentAt: the receive time")
        #expect(corrected(received + year - 10_000, sentAt: received + year) == received - 10_000,
                "a device clock a year ahead: 10 s before it sent, by its own clock")
        #expect(corrected(received + year, sentAt: received + year - 5) == received, "sent before it happened: the receive time")
    }

    @Test("times print as ISO-8601 UTC with milliseconds, as Foundation prints them, across leap years and before 1970")
    func isoText() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var samples: [Int64] = [0, -1, 951_782_400_000, 1_709_164_800_123, 4_107_542_399_999, -2_208_988_800_000]
        var x: UInt64 = 42
        for _ in 0..<2000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            samples.append(Int64(x >> 24) % 8_000_000_000_000 - 2_000_000_000_000)
        }
        for millis in samples {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
            #expect(Timestamps.iso(millis) == expected, "\(millis)")
            #expect(Timestamps.parse(Timestamps.iso(millis)) == millis)
        }
    }

    @Test("the JSON parser and writer round-trip, and reject bad JSON")
    func json() throws {
        let text = #"{"a":[1,2.5,-3e2,true,false,null],"b":"q\"\\\n\u00e9\ud83c\udf19","c":{}}"#
        let value = try parse(text)
        #expect(value["b"] == .string("q\"\\\né🌙"))
        #expect(value["a"] == .array([.int(1), .double(2.5), .double(-300), .bool(true), .bool(false), .null]))
        #expect(try parse(value.jsonText) == value)
        for bad in ["{", "[1,]", "{\"a\" 1}", "tru", "\"x", "01x", "{\"a\":1}}"] {
            #expect(throws: (any Error).self, "\(bad)") { _ = try parse(bad) }
        }
    }
}
