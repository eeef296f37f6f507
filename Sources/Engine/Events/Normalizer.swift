import Foundation
import Store

/// Turns Segment messages into ``Event``s.
///
/// Accepts what real SDKs send: `null` ids, ids and amounts sent as numbers
/// or strings, unicode, fields nobody asked for. Rejects what cannot be an
/// event, naming the field: no `type`, an unknown type, no id at all, a
/// track without `event`, an order's amount that is no number (``Amounts``).
public enum Normalizer {
    /// Normalizes one message. `now` fills a missing timestamp.
    public static func normalize(_ message: JSONValue, now: Int64) throws(NormalizationError) -> Event {
        // Card numbers sent by mistake are masked before anything reads the message.
        let masking = CardNumbers.masked(message)
        let message = masking?.value ?? message
        guard case .object(let fields) = message else {
            throw NormalizationError(field: "(message)", message: "a message must be a JSON object")
        }
        guard let typeText = fields["type"]?.stringValue else {
            throw NormalizationError(field: "type", message: "is required (identify, track, page, screen, group or alias)")
        }
        guard let kind = Event.Kind(rawValue: typeText.lowercased()) else {
            throw NormalizationError(field: "type", message: "unknown message type '\(typeText)'")
        }
        let userId = nonEmpty(fields["userId"]?.stringValue ?? fields["user_id"]?.stringValue)
        let anonymousId = nonEmpty(fields["anonymousId"]?.stringValue ?? fields["anonymous_id"]?.stringValue)
        let previousId = nonEmpty(fields["previousId"]?.stringValue)
        if kind == .alias {
            guard userId != nil else { throw NormalizationError(field: "userId", message: "is required for alias") }
            guard previousId != nil else { throw NormalizationError(field: "previousId", message: "is required for alias") }
        } else if userId == nil && anonymousId == nil {
            throw NormalizationError(field: "userId", message: "no id: one of 'userId' or 'anonymousId' is required")
        }

        let name: String
        switch kind {
        case .track:
            guard let event = nonEmpty(fields["event"]?.stringValue) else {
                throw NormalizationError(field: "event", message: "is required for track")
            }
            name = event
        case .page: name = "Page Viewed"
        case .screen: name = "Screen Viewed"
        case .identify: name = "Identify"
        case .group: name = "Group"
        case .alias: name = "Alias"
        }

        var properties = try Amounts.normalized(fields["properties"]?.object ?? [:], event: name)
        if kind == .page || kind == .screen, let pageName = fields["name"]?.stringValue, properties["name"] == nil {
            properties["name"] = .string(pageName)
        }
        let traits = fields["traits"]?.object ?? fields["context"]?["traits"]?.object ?? [:]
        let context = fields["context"]?.object ?? [:]

        var timestamp: Int64 = now
        for key in ["timestamp", "originalTimestamp", "sentAt", "receivedAt"] {
            guard let value = fields[key], value != .null else { continue }
            guard let parsed = Timestamps.milliseconds(value) else {
                throw NormalizationError(field: key, message: "is not an ISO-8601 date or epoch number of the years 1 to 9999")
            }
            timestamp = parsed
            break
        }

        let messageId = nonEmpty(fields["messageId"]?.stringValue) ?? derivedMessageId(message)
        var event = Event(messageId: messageId, kind: kind, name: name, userId: userId, anonymousId: anonymousId,
                          previousId: previousId, groupId: nonEmpty(fields["groupId"]?.stringValue), properties: properties,
                          traits: traits, context: context, timestamp: timestamp)
        event.maskedCardNumbers = masking?.paths.sorted() ?? []
        return event
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    /// A stable id for a message sent without one, so a retried copy is
    /// still recognised as the same message (FNV-1a over its sorted JSON).
    static func derivedMessageId(_ message: JSONValue) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in message.jsonText.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return "derived-" + String(hash, radix: 16)
    }
}

/// Timestamps in the forms SDKs send.
public enum Timestamps {
    /// A message's time as a server receiving it at `receivedAt` keeps it.
    /// A time ahead of `receivedAt` by more than `tolerance` came from a
    /// clock running ahead (the engine's clock must not jump to it: every
    /// journey timer and schedule due by then would run at once). With the
    /// device's `sentAt` it is corrected as Segment does, `receivedAt -
    /// (sentAt - time)`, so what the device measured between the two stays;
    /// without it, or when that is still ahead, it becomes `receivedAt`.
    /// Earlier times are kept: devices send late (offline queues, imports).
    public static func skewCorrected(_ time: Int64, sentAt: JSONValue?, receivedAt: Int64, tolerance: Int64) -> Int64 {
        guard time > receivedAt + tolerance else { return time }
        if let sentAt, let sent = milliseconds(sentAt), sent >= time {
            return min(receivedAt, receivedAt - (sent - time))
        }
        return receivedAt
    }

    /// The times accepted: the years 1 to 9999, as ISO-8601 writes them.
    public static let range: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    /// Milliseconds since the epoch from an ISO-8601 string or an epoch
    /// number (seconds, or milliseconds when larger than 1e11); nil when it
    /// is neither, or outside ``range``.
    public static func milliseconds(_ value: JSONValue) -> Int64? {
        let ms: Int64?
        switch value {
        case .int(let i):
            let (product, overflow) = i.multipliedReportingOverflow(by: 1000)
            ms = i > 100_000_000_000 ? i : overflow ? nil : product
        case .double(let d): ms = Int64(finite: d > 1e11 ? d : d * 1000)
        case .string(let s): ms = parse(s)
        default: ms = nil
        }
        return ms.flatMap { range.contains($0) ? $0 : nil }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (the fast path) and
    /// falls back to Foundation's ISO-8601 parser for anything else.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var n = 0
            for i in from..<(from + count) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                n = n * 10 + Int(b[i] - 48)
            }
            return n
        }
        if b.count >= 19, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 32, b[13] == 58, b[16] == 58,
           let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
           let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
           (1...12).contains(month), (1...CalendarDate.days(inMonth: month, of: year)).contains(day), hour < 24, minute < 60, second < 61 {
            var index = 19
            var millis = 0
            if index < b.count, b[index] == 46 {
                index += 1
                var scale = 100
                while index < b.count, b[index] >= 48, b[index] <= 57 {
                    millis += Int(b[index] - 48) * scale
                    scale /= 10
                    index += 1
                }
            }
            var offsetMinutes = 0
            if index < b.count {
                if b[index] == 90 || b[index] == 122 {
                    index += 1
                } else if b[index] == 43 || b[index] == 45, let oh = digits(index + 1, 2) {
                    let sign = b[index] == 45 ? -1 : 1
                    var om = 0
                    if index + 3 < b.count, b[index + 3] == 58, let m = digits(index + 4, 2) {
                        om = m
                        index += 6
                    } else if let m = digits(index + 3, 2) {
                        om = m
                        index += 5
                    } else {
                        index += 3
                    }
                    offsetMinutes = sign * (oh * 60 + om)
                }
            }
            if index == b.count {
                let days = daysFromCivil(year, month, day)
                let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
                return seconds * 1000 + Int64(millis)
            }
        }
        // Foundation rolls a day the month does not have into the next month: refused instead.
        guard CalendarDate.startsWithValidDate(text) else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
        return nil
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// ISO-8601 text (UTC, milliseconds) for a time in milliseconds, as
    /// `2026-03-14T03:09:31.387Z` (written directly: Foundation's formatter
    /// cost a formatter per call on the journey path).
    public static func iso(_ milliseconds: Int64) -> String {
        let (secondsTotal, millis) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        var seconds = secondsTotal, ms = millis
        if ms < 0 { ms += 1000; seconds -= 1 }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let (year, month, day) = civil(fromDays: Int(days))
        var text = ""
        text.reserveCapacity(24)
        func append(_ value: Int, width: Int) {
            let digits = String(value)
            if digits.count < width { text += String(repeating: "0", count: width - digits.count) }
            text += digits
        }
        append(year, width: 4); text += "-"; append(month, width: 2); text += "-"; append(day, width: 2)
        text += "T"; append(Int(secondOfDay / 3600), width: 2); text += ":"; append(Int(secondOfDay % 3600 / 60), width: 2)
        text += ":"; append(Int(secondOfDay % 60), width: 2); text += "."; append(Int(ms), width: 3); text += "Z"
        return text
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (the
    /// inverse of ``daysFromCivil(_:_:_:)``).
    static func civil(fromDays z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
