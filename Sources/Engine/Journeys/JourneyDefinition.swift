import Foundation
import LuaKit

/// One step of a journey, flattened: branches are jumps by step name.
public struct JourneyStep: Sendable, Equatable {
    /// The step kinds a journey can hold (`jump` is made by `branch ... otherwise`).
    public enum Kind: String, Sendable {
        case wait, waitUntil = "wait_until", send, coupon, setTrait = "set_trait", tag, untag, exit, branch, jump
    }
    public var name: String
    public var kind: Kind
    /// `wait`: how long; `wait_until`: the timeout.
    public var duration: Int64 = 0
    /// `wait_until`: the event it waits for, and the step to go to on timeout (nil: exit).
    public var event: String?
    public var onTimeout: String?
    /// `send`: where and what; `coupon` (also inside a send): the coupon.
    public var channel: String?
    public var template: String?
    public var data: JSONValue?
    /// `send`: the handle of `data = function(c, j, e)`, called when the message goes.
    public var dataFunction: Int64?
    public var coupon: JSONValue?
    /// `set_trait`, `tag`, `untag`.
    public var trait: String?
    public var value: JSONValue?
    public var tag: String?
    /// `exit`: the reason recorded.
    public var reason: String?
    /// `branch`: the condition's handle, and where to go when it is false.
    public var condition: Int64?
    public var elseTo: String?
    /// `jump`: where to go.
    public var to: String?

    /// Whether an instance rests on this step until a timer or an event moves it.
    var isWait: Bool { kind == .wait || kind == .waitUntil }
}

/// A `journey` declaration, ready to run. Immutable and shared (each event
/// looks up the definitions of the customer's active instances).
public final class JourneyDefinition: Sendable {
    public let name: String
    public let file: String
    public let line: Int
    /// Entry: an event name, or entry into a segment.
    public let trigger: String?
    public let segment: String?
    public let condition: Int64?
    public let keyFunction: Int64?
    public let exitOn: Set<String>
    public let goal: String?
    public let reenterAfter: Int64?
    /// Per-customer cap on this journey's sends: at most `max` per `per` ms.
    public let cap: MessageCap?
    /// Whether sends wait for the customer's quiet hours to end (default yes).
    public let respectsQuietHours: Bool
    public let isShadow: Bool
    public let steps: [JourneyStep]
    /// Step name → position.
    public let positions: [String: Int]
    /// Position among the engine's journeys (step counters use it).
    public let index: Int
    /// The declaration it was read from (statistics, errors, disabling).
    public let declaration: RuleDeclaration

    /// The event that makes an instance: the trigger, or `Segment Entered`.
    var entryEvent: String { segment != nil ? "Segment Entered" : trigger ?? "" }

    /// `journey:NAME`: the declaration's own, not a new string at each read.
    var ruleId: String { declaration.ruleId }

    /// Reads a declaration; throws a message naming the field when it is wrong.
    init(_ d: RuleDeclaration, index: Int = 0) throws(DefinitionError) {
        self.index = index
        declaration = d
        name = d.name
        file = d.file
        line = d.line
        trigger = d.string("on")
        segment = d.string("segment")
        condition = d.functions["when"]
        keyFunction = d.functions["key"]
        exitOn = Set(d.eventNames("exit_on"))
        goal = d.string("goal")
        reenterAfter = d.fields["reenter_after"].flatMap { v in v.doubleValue.flatMap { Int64(finite: $0) } }
        respectsQuietHours = d.fields["quiet_hours"] != .boolean(false)
        isShadow = d.isShadow
        cap = try MessageCap(d.fields["cap"], field: "cap")
        guard case .array(let items)? = d.fields["steps"] else { throw DefinitionError("steps must be a list of steps") }
        var steps: [JourneyStep] = []
        for (index, item) in items.enumerated() {
            guard case .table(let t) = item, let kindText = t["step"]?.stringValue,
                  let kind = JourneyStep.Kind(rawValue: kindText), let stepName = t["name"]?.stringValue else {
                throw DefinitionError("step \(index + 1) is not a step")
            }
            var step = JourneyStep(name: stepName, kind: kind)
            step.duration = Int64(finite: t["duration"]?.doubleValue ?? t["timeout"]?.doubleValue ?? 0) ?? 0
            step.event = t["event"]?.stringValue
            step.onTimeout = t["on_timeout"]?.stringValue
            step.channel = t["channel"]?.stringValue
            step.template = t["template"]?.stringValue
            step.data = t["data"].map(JSONValue.init)
            if kind == .coupon {
                var fields: [String: JSONValue] = [:]
                for key in ["percent", "amount", "expires_in", "prefix"] { if let v = t[.string(LuaString(key))] { fields[key] = JSONValue(v) } }
                step.coupon = .object(fields)
            } else {
                step.coupon = t["coupon"].map(JSONValue.init)
            }
            step.trait = t["trait"]?.stringValue
            step.value = t["value"].map(JSONValue.init)
            step.tag = t["tag"]?.stringValue
            step.reason = t["reason"]?.stringValue
            if case .table(let handle)? = t["when"], case .integer(let id)? = handle["__function"] { step.condition = id }
            if case .table(let handle)? = t["data_function"], case .integer(let id)? = handle["__function"] { step.dataFunction = id }
            step.elseTo = t["else_to"]?.stringValue
            step.to = t["to"]?.stringValue
            steps.append(step)
        }
        self.steps = steps
        positions = Dictionary(steps.enumerated().map { ($0.element.name, $0.offset) }) { first, _ in first }
    }

    /// The position of a step name; `$end` (or an unknown name) is past the last step.
    func position(of name: String?) -> Int {
        guard let name else { return steps.count }
        return positions[name] ?? steps.count
    }

    /// The step names in order, one per line (as stored for live edits).
    var stepList: String { steps.map(\.name).joined(separator: "\n") }
}

/// A frequency cap: at most `max` messages per `per` milliseconds.
public struct MessageCap: Sendable, Equatable {
    public var max: Int
    public var per: Int64

    init?(_ value: LuaValue?, field: String) throws(DefinitionError) {
        guard let value else { return nil }
        guard case .table(let t) = value, let max = t["max"]?.doubleValue, max >= 1,
              let perValue = t["per"], let per = ScheduleTiming.milliseconds(perValue), per > 0 else {
            throw DefinitionError("\(field) must look like { max = 2, per = \"1d\" }")
        }
        self.max = max >= 1e9 ? Int.max : Int(max) // a billion a day is no cap: not a number to convert
        self.per = per
    }
}

/// The `messaging` declaration: quiet hours, the default time zone, and a
/// cap over every journey's messages to one customer.
public struct MessagingPolicy: Sendable {
    public var timezone: TimeZone
    public var timezoneName = "UTC"
    /// Quiet hours as minutes of the local day: sends wait from `quietFrom` to `quietTo`.
    public var quietFrom: Int?
    public var quietTo: Int?
    public var cap: MessageCap?

    public init() { timezone = TimeZone(identifier: "UTC")! }

    init(_ d: RuleDeclaration?) throws(DefinitionError) {
        self.init()
        guard let d else { return }
        if let zone = d.string("timezone") {
            guard let tz = TimeZone(identifier: zone) else { throw DefinitionError("unknown timezone \"\(zone)\"") }
            timezone = tz
            timezoneName = zone
        }
        if case .table(let t)? = d.fields["quiet_hours"] {
            guard let from = (t["from"] ?? t[.integer(1)])?.stringValue.flatMap(ScheduleTiming.minuteOfDay),
                  let to = (t["to"] ?? t[.integer(2)])?.stringValue.flatMap(ScheduleTiming.minuteOfDay) else {
                throw DefinitionError("quiet_hours must look like { from = \"21:00\", to = \"08:00\" }")
            }
            quietFrom = from
            quietTo = to
        }
        cap = try MessageCap(d.fields["cap"], field: "cap")
    }
}

/// A `schedule` declaration.
public struct ScheduleDefinition: Sendable {
    public var name: String
    public var every: Int64?
    /// Minute of the local day for `at`.
    public var at: Int?
    public var timezone: TimeZone
    public var run: Int64?
    public var sweepsSegments: Bool

    init(_ d: RuleDeclaration, defaultZone: TimeZone) {
        name = d.name
        every = d.fields["every"].flatMap(ScheduleTiming.milliseconds)
        at = d.string("at").flatMap(ScheduleTiming.minuteOfDay)
        timezone = d.string("timezone").flatMap(TimeZone.init(identifier:)) ?? defaultZone
        run = d.functions["run"]
        sweepsSegments = d.string("sweep") == "segments"
    }

    /// The first time this schedule is due strictly after `time`.
    func next(after time: Int64) -> Int64 {
        if let every, every > 0 { return (time / every + 1) * every }
        return LocalTime(timezone).next(minuteOfDay: at ?? 0, after: time)
    }
}

/// Parsing of `every` and `at` values.
enum ScheduleTiming {
    static func milliseconds(_ value: LuaValue) -> Int64? {
        switch value {
        case .string(let s): DurationText.milliseconds(s.description)
        case .integer(let i): DurationText.milliseconds(seconds: Double(i))
        case .number(let d): DurationText.milliseconds(seconds: d)
        default: nil
        }
    }

    /// "08:00" → 480.
    static func minuteOfDay(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h), (0..<60).contains(m) else {
            return nil
        }
        return h * 60 + m
    }
}

/// What is wrong with a journey, schedule or messaging declaration.
struct DefinitionError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
