import Foundation
import LuaKit
import Store

/// What a journey's `send` step did.
enum SendOutcome {
    /// Sent, or suppressed with the reason counted: the instance moves on.
    case done
    /// Not allowed yet (quiet hours, a frequency cap): retried at `until`.
    case deferred(until: Int64, why: String)
    /// Its `data` function failed: the instance has ended with the error.
    case failed
}

/// The steps of a journey that act: messages (with consent, fraud-block
/// suppression, quiet hours and frequency caps), coupons, traits and tags,
/// and branch conditions.
extension Engine {
    func send(_ step: JourneyStep, _ instance: JourneyInstance, _ def: JourneyDefinition,
              _ run: inout EvaluationRun) -> SendOutcome {
        let customer = run.customer
        if customer.consent["marketing"] != true {
            count(def, instance.row.position, .suppressed)
            instance.row.note = "\(step.name): suppressed, no marketing consent"
            return .done
        }
        if let blocked = customer.lastBlockAt, state.now - blocked < options.fraudBlockSuppression {
            count(def, instance.row.position, .suppressed)
            return .done
        }
        if let (until, why) = deferral(for: def, customer) {
            count(def, instance.row.position, .deferred)
            return .deferred(until: until, why: why)
        }
        var data = step.data ?? .object([:])
        if let handle = step.dataFunction {
            guard let made = callStep(handle, rules.stepDataCall, step, instance, def, &run, read: { s throws(LuaError) in
                try s.value(at: -1)
            }) else { return .failed }
            data = made == .nil ? .object([:]) : JSONValue(made)
        }
        if let coupon = step.coupon, case .object(var fields) = data {
            fields["coupon"] = .string(issueCoupon(coupon, instance, def, step, &run))
            data = .object(fields)
        }
        let channel = step.channel ?? "email", template = step.template ?? step.name
        let key: JSONValue = instance.row.key.isEmpty ? .null : .string(instance.row.key)
        let payload: JSONValue = .object([
            "action": "notify", "channel": .string(channel), "template": .string(template), "data": data,
            "journey": .string(def.name), "step": .string(step.name), "key": key,
        ])
        // The same JSON as payload.jsonText (keys in order), written directly: this is the per-timer path.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160)
        bytes += #"{"action":"notify","channel":"#.utf8
        JSONValue.quote(channel, into: &bytes)
        bytes += #","data":"#.utf8
        data.write(to: &bytes)
        bytes += #","journey":"#.utf8
        JSONValue.quote(def.name, into: &bytes)
        bytes += #","key":"#.utf8
        key.write(to: &bytes)
        bytes += #","step":"#.utf8
        JSONValue.quote(step.name, into: &bytes)
        bytes += #","template":"#.utf8
        JSONValue.quote(template, into: &bytes)
        bytes.append(UInt8(ascii: "}"))
        let text = String(decoding: bytes, as: UTF8.self)
        addAction(ActionRecord(rule: def.ruleId, action: "notify", channel: channel, payload: payload,
                               idempotencyKey: "journey:\(instance.id):\(instance.row.runs)", consentPurpose: "marketing"),
                  text: text, &run)
        count(def, instance.row.position, .sent)
        return .done
    }

    /// The first time a message to this customer is allowed, and why it has
    /// to wait; nil when it may go now. Quiet hours are in the customer's
    /// `timezone` trait, else the messaging policy's zone.
    func deferral(for def: JourneyDefinition, _ customer: CustomerState) -> (Int64, String)? {
        var time = state.now
        var reasons: [String] = []
        for _ in 0..<8 {
            var moved = false
            if def.respectsQuietHours, let from = messaging.quietFrom, let to = messaging.quietTo {
                let (zone, zoneName) = timeZone(of: customer)
                let local = LocalTime(zone)
                if local.isQuiet(time, from: from, to: to) {
                    time = local.next(minuteOfDay: to, after: time)
                    reasons.append("quiet hours \(Self.clock(from))–\(Self.clock(to)) \(zoneName)")
                    moved = true
                }
            }
            for (cap, rule, label) in [(def.cap, def.ruleId as String?, "journey cap"), (messaging.cap, nil, "global cap")] {
                guard let cap, let oldest = Self.capHolder(customer.messages, rule: rule, cap: cap, at: time) else { continue }
                time = oldest + cap.per
                reasons.append("\(label) \(cap.max) per \(cap.per / 3_600_000)h")
                moved = true
            }
            if !moved { break }
        }
        guard time > state.now else { return nil }
        var seen = Set<String>()
        return (time, reasons.filter { seen.insert($0).inserted }.joined(separator: ", "))
    }

    /// When the cap is full at `time`: the time of the message whose expiry
    /// frees a slot (the `max`-th most recent in the window); nil when not full.
    static func capHolder(_ messages: [(rule: String, at: Int64)], rule: String?, cap: MessageCap, at time: Int64) -> Int64? {
        var seen = 0
        for message in messages.reversed() where message.at > time - cap.per && (rule == nil || message.rule == rule) {
            seen += 1
            if seen == cap.max { return message.at }
        }
        return nil
    }

    /// The customer's zone (trait `timezone`) and its name, else the policy's.
    private func timeZone(of customer: CustomerState) -> (TimeZone, String) {
        let fallback = (messaging.timezone, messaging.timezoneName)
        guard let name = customer.traits["timezone"]?.stringValue else { return fallback }
        if let known = state.zones[name] { return (known, name) }
        guard let zone = TimeZone(identifier: name) else { return fallback }
        state.zones[name] = zone
        return (zone, name)
    }

    static func clock(_ minute: Int) -> String {
        // Not String(format:): Foundation's formatter cost more than the rest of a deferred send.
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return two(minute / 60) + ":" + two(minute % 60)
    }

    /// Issues a coupon (an outbox action) and keeps its code in the instance's `vars.coupon`.
    func issueCoupon(_ spec: JSONValue, _ instance: JourneyInstance, _ def: JourneyDefinition, _ step: JourneyStep,
                     _ run: inout EvaluationRun) -> String {
        let prefix = spec["prefix"]?.stringValue ?? "CR"
        let code = "\(prefix)-\(Self.hex("journey:\(instance.id):\(instance.row.runs)"))"
        var payload: [String: JSONValue] = ["action": "coupon", "code": .string(code), "journey": .string(def.name),
                                            "step": .string(step.name)]
        for key in ["percent", "amount", "expires_in"] { if let v = spec[key] { payload[key] = v } }
        addAction(ActionRecord(rule: def.ruleId, action: "coupon", channel: nil, payload: .object(payload),
                               idempotencyKey: "journey:\(instance.id):\(instance.row.runs):coupon"), &run)
        instance.vars["coupon"] = .string(code)
        instance.row.vars = JSONValue.object(instance.vars).jsonText
        return code
    }

    /// `set_trait`, `tag` and `untag` steps: the change applies to the customer now and goes to the outbox.
    func customerAction(_ step: JourneyStep, _ instance: JourneyInstance, _ def: JourneyDefinition,
                        _ run: inout EvaluationRun) {
        let customer = run.customer
        var payload: [String: JSONValue] = ["action": .string(step.kind.rawValue), "journey": .string(def.name)]
        state.invalidateSegments(of: customer)
        switch step.kind {
        case .setTrait:
            guard let trait = step.trait else { return }
            customer.traits[trait] = step.value ?? .null
            payload["trait"] = .string(trait)
            payload["value"] = step.value ?? .null
        default:
            guard let tag = step.tag else { return }
            var tags: [JSONValue] = []
            if case .array(let existing)? = customer.traits["tags"] { tags = existing }
            tags.removeAll { $0 == .string(tag) }
            if step.kind == .tag { tags.append(.string(tag)) }
            customer.traits["tags"] = .array(tags)
            payload["tag"] = .string(tag)
        }
        state.dirty.insert(customer.row.id)
        addAction(ActionRecord(rule: def.ruleId, action: step.kind.rawValue, channel: nil, payload: .object(payload),
                               idempotencyKey: "journey:\(instance.id):\(instance.row.runs)"), &run)
    }

    /// Evaluates a branch condition `when(c, j, e)`; nil when it failed (the
    /// instance is then ended with the error as its reason).
    func branch(_ step: JourneyStep, _ instance: JourneyInstance, _ def: JourneyDefinition,
                _ run: inout EvaluationRun) -> Bool? {
        guard let handle = step.condition else { return true }
        return callStep(handle, rules.branchCall, step, instance, def, &run) { s throws(LuaError) in try s.value(at: -1) == .boolean(true) }
    }

    /// Calls one of a step's functions, `f(c, j, e)`, through the prelude's
    /// `entry`; nil when it failed (the instance is then ended with the error
    /// as its reason, counted as the journey's error).
    private func callStep<T>(_ handle: Int64, _ entry: LuaReference, _ step: JourneyStep, _ instance: JourneyInstance,
                             _ def: JourneyDefinition, _ run: inout EvaluationRun,
                             read: (LuaStack) throws(LuaError) -> T) -> T? {
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            if !run.luaReady {
                if !run.customer.complete { _ = try state.customer(run.customer.row.id) }
                try begin(run.event, run)
                run.luaReady = true
            }
            try prepareLua()
            let row = instance.row, vars = instance.vars
            let answer = try rules.state.call(entry, arguments: 2, results: 1, push: { s in
                s.push(handle)
                s.pushTable(fields: 6)
                s.push(row.journey); s.setField("journey")
                s.push(row.key); s.setField("key")
                s.push(row.step); s.setField("step")
                s.push(row.enteredAt); s.setField("entered_at")
                s.push(row.id); s.setField("id")
                s.push(json: .object(vars)); s.setField("vars")
            }, read: read)
            clearErrors(def.ruleId)
            return answer
        } catch {
            let micros = Int((DispatchTime.now().uptimeNanoseconds - started) / 1000)
            let message = (error as? LuaError)?.message ?? "\(error)"
            recordError(def.declaration, "\(step.name): \(message)", micros: micros, &run)
            count(def, instance.row.position, .error)
            finish(instance, def, status: "exited", reason: "error in \(step.name): \(message)", &run)
            return nil
        }
    }

    static func hex(_ text: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}
