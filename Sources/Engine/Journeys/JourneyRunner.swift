import Foundation
import LuaKit
import Store

/// The step counters kept per journey step.
enum StepMetric: String, CaseIterable {
    case reached, sent, deferred, suppressed, converted, error
}

/// A step counter's key, by positions (cheap to hash on the per-timer path).
struct StepCountKey: Hashable {
    var journey: Int
    var step: Int
    var metric: StepMetric
}

/// Journeys in the pipeline: events end, convert or wake the customer's
/// instances, start new ones, and instances run their steps until the next
/// wait. Timers come back through ``Engine/fire(_:)``.
extension Engine {
    /// The journeys phase of one event (also of each Segment Entered/Exited it caused).
    func journeysPhase(for event: Event, _ run: inout EvaluationRun) {
        guard !journeyByName.isEmpty else { return }
        let customerId = run.customer.row.id
        var eventKeys: [String: String?] = [:]
        // Most events end, convert or wake no instance: then the customer's instances are not looked at.
        let concerns = journeyEndEvents.contains(event.name) || state.journeys.awaitedEvents.contains(event.name)
        for instance in concerns ? state.journeys.active(customerId) : [] {
            guard let def = journeyByName[instance.row.journey] else { continue }
            let exits = def.exitOn.contains(event.name), reachesGoal = def.goal == event.name
            let wakes = instance.row.waitingFor == event.name
            guard exits || reachesGoal || wakes else { continue }
            // An event from before the instance began (history arriving late) answers nothing of it.
            guard event.timestamp >= instance.row.enteredAt else { continue }
            if def.keyFunction != nil {
                if eventKeys[def.name] == nil { eventKeys[def.name] = .some(key(of: def, &run)) }
                // An event without the key (an order with no cart_id) concerns every instance.
                if let key = eventKeys[def.name] ?? nil, key != instance.row.key { continue }
            }
            if reachesGoal {
                instance.row.converted = true
                count(def, instance.row.position, .converted)
            }
            if exits || reachesGoal {
                let reason = exits ? "exit_on: \(event.name)" : "goal: \(event.name)"
                finish(instance, def, status: exits ? "exited" : "completed", reason: reason, &run)
                run.results.append(RuleResult(rule: def.ruleId, kind: "journey", outcome: .hit, reason: reason))
            } else {
                instance.row.waitingFor = nil
                instance.row.wakeAt = nil
                run.results.append(RuleResult(rule: def.ruleId, kind: "journey", outcome: .hit,
                                              reason: "\(instance.row.step): \(event.name) arrived"))
                proceed(instance, def, at: instance.row.position + 1, &run)
            }
        }
        for def in journeysByEntry[event.name] ?? [] {
            if let segment = def.segment, event.property("segment") != segment { continue }
            enter(def, event, &run)
        }
    }

    /// Starts an instance of `def` for this event, unless one is running for
    /// the key or re-entry is too soon.
    private func enter(_ def: JourneyDefinition, _ event: Event, _ run: inout EvaluationRun) {
        let d = def.declaration
        if def.condition != nil {
            guard let (values, _) = invoke(d, "when", rules.whenCall, [], &run) else { return }
            if values.first != .boolean(true) {
                run.results.append(RuleResult(rule: def.ruleId, kind: "journey", outcome: .miss))
                return
            }
        }
        var key = ""
        if def.keyFunction != nil {
            guard let (values, _) = invoke(d, "key", rules.keyCall, [], &run) else { return }
            guard let value = values.first?.stringValue else {
                run.results.append(RuleResult(rule: def.ruleId, kind: "journey", outcome: .miss, reason: "no key"))
                return
            }
            key = value
        }
        let customerId = run.customer.row.id
        if state.journeys.active(journey: def.name, customerId: customerId, key: key) != nil {
            run.results.append(RuleResult(rule: def.ruleId, kind: "journey", outcome: .miss, reason: "already in the journey"))
            return
        }
        if let reason = repeatReason(event, run, "journeys start once per order") ?? historicalReason(event) {
            run.results.append(RuleResult(rule: def.ruleId, kind: "journey", outcome: .suppressed, reason: reason))
            return
        }
        // The last entry matters only to a journey with `reenter_after` (the store is not read for the others).
        if let after = def.reenterAfter, let last = lastEntry(def.name, customerId, key), state.now - last < after {
            run.results.append(RuleResult(rule: def.ruleId, kind: "journey", outcome: .suppressed,
                                          reason: "re-entry only \(after / 3_600_000)h after the last entry (\(Timestamps.iso(last)))"))
            return
        }
        if def.isShadow {
            stat(def.ruleId) { $0.shadowHits += 1 }
            run.results.append(RuleResult(rule: def.ruleId, kind: "journey", outcome: .shadowHit, reason: "would enter"))
            return
        }
        let vars: [String: JSONValue] = ["trigger": .object(event.properties)]
        let row = JourneyInstanceRow(id: state.shared.nextJourneyInstanceId(), journey: def.name, customerId: customerId, key: key,
                                     step: def.steps[0].name, position: 0, enteredAt: state.now, rulesetVersion: rules.version,
                                     vars: JSONValue.object(vars).jsonText)
        let instance = JourneyInstance(row: row, vars: vars)
        state.journeys.add(instance)
        stat(def.ruleId) { $0.hits += 1 }
        run.results.append(RuleResult(rule: def.ruleId, kind: "journey", outcome: .hit,
                                      reason: key.isEmpty ? RuleResult.entered : "\(RuleResult.entered) for \(key)"))
        proceed(instance, def, at: 0, &run)
    }

    private func lastEntry(_ journey: String, _ customerId: String, _ key: String) -> Int64? {
        if let known = state.journeys.lastEntry(journey: journey, customerId: customerId, key: key) { return known }
        if !state.mayBeStored(customer: customerId) { return nil }
        return (try? store.lastJourneyEntry(journey: journey, customerId: customerId, key: key)) ?? nil
    }

    /// The key the current event gives for `def`, or nil.
    private func key(of def: JourneyDefinition, _ run: inout EvaluationRun) -> String? {
        guard let (values, _) = invoke(def.declaration, "key", rules.keyCall, [], &run) else { return nil }
        return values.first?.stringValue
    }

    /// Runs steps from `position` until the instance waits or ends.
    /// `arriving` is false when a timer resumes the step it rests on (a deferred send).
    func proceed(_ instance: JourneyInstance, _ def: JourneyDefinition, at start: Int, arriving: Bool = true,
                 _ run: inout EvaluationRun) {
        var position = start
        var arriving = arriving
        for _ in 0..<100 {
            guard position < def.steps.count else {
                finish(instance, def, status: "completed", reason: "completed", &run)
                return
            }
            let step = def.steps[position]
            instance.row.position = position
            instance.row.step = step.name
            instance.row.resume = false
            instance.row.note = nil
            instance.row.updatedAt = state.now
            if arriving { count(def, position, .reached) }
            arriving = true
            instance.row.runs += 1
            switch step.kind {
            case .wait:
                rest(instance, until: state.now + step.duration, waitingFor: nil)
                return
            case .waitUntil:
                rest(instance, until: state.now + step.duration, waitingFor: step.event)
                return
            case .send:
                switch send(step, instance, def, &run) {
                case .done:
                    position += 1
                case .deferred(let until, let why):
                    instance.row.resume = true
                    instance.row.note = "deferred until \(Timestamps.iso(until)): \(why)"
                    rest(instance, until: until, waitingFor: nil, keepNote: true)
                    return
                case .failed:
                    return
                }
            case .coupon:
                _ = issueCoupon(step.coupon ?? .object([:]), instance, def, step, &run)
                position += 1
            case .setTrait, .tag, .untag:
                customerAction(step, instance, def, &run)
                position += 1
            case .exit:
                finish(instance, def, status: "exited", reason: step.reason ?? "exit step", &run)
                return
            case .branch:
                guard let taken = branch(step, instance, def, &run) else {
                    return
                }
                position = taken ? position + 1 : def.position(of: step.elseTo)
            case .jump:
                position = def.position(of: step.to)
            }
        }
        finish(instance, def, status: "exited", reason: "ran 100 steps without waiting (a loop?)", &run)
    }

    /// Parks the instance on its current step until `until` (and, for a
    /// `wait_until`, the event), and arms the timer.
    private func rest(_ instance: JourneyInstance, until: Int64, waitingFor: String?, keepNote: Bool = false) {
        instance.row.wakeAt = until
        instance.row.waitingFor = waitingFor
        if !keepNote { instance.row.note = nil }
        state.journeys.arm(instance)
        persist(instance)
    }

    /// Ends an instance with its reason.
    func finish(_ instance: JourneyInstance, _ def: JourneyDefinition?, status: String, reason: String,
                _ run: inout EvaluationRun) {
        instance.row.status = status
        instance.row.exitReason = reason
        instance.row.wakeAt = nil
        instance.row.waitingFor = nil
        instance.row.resume = false
        instance.row.updatedAt = state.now
        state.journeys.remove(instance)
        persist(instance)
    }

    /// Queues the instance's current row for the next commit.
    func persist(_ instance: JourneyInstance) {
        if !instance.stored {
            state.batch.newJourneyInstances.insert(instance.id)
            instance.stored = true
        }
        state.batch.journeyInstances[instance.id] = instance.row
    }

    /// Adds to a step's counter (written to `journey_steps` with the batch).
    func count(_ def: JourneyDefinition, _ position: Int, _ metric: StepMetric) {
        state.stepCounts[StepCountKey(journey: def.index, step: position, metric: metric), default: 0] += 1
    }

    /// Fires one due timer: the instance finishes its wait (or times out of a
    /// `wait_until`), or retries the step it was deferred on.
    func fire(_ instance: JourneyInstance) throws {
        guard let def = journeyByName[instance.row.journey] else { return }
        // A timer needs what sending needs; the rest loads if a branch runs Lua.
        let customer = try state.customers[instance.row.customerId] ?? state.customer(instance.row.customerId)
        customer.lastUsedBatch = state.batchNumber
        let event = Event(messageId: "timer:\(instance.id):\(instance.row.runs)", kind: .track, name: "Journey Timer",
                          userId: customer.row.id, timestamp: state.now, isInternal: true)
        var run = EvaluationRun(event: event, customer: customer, order: nil)
        run.luaReady = false
        instance.row.wakeAt = nil
        let step = def.steps[min(instance.row.position, def.steps.count - 1)]
        if instance.row.resume || !step.isWait {
            proceed(instance, def, at: instance.row.position, arriving: false, &run)
        } else if step.kind == .waitUntil {
            instance.row.waitingFor = nil
            if let target = step.onTimeout {
                proceed(instance, def, at: def.position(of: target), &run)
            } else {
                finish(instance, def, status: "exited", reason: "timeout: no \(step.event ?? "event")", &run)
            }
        } else {
            proceed(instance, def, at: instance.row.position + 1, &run)
        }
        pendingEvents += 1
        if pendingEvents >= options.batchSize { try submitBatch() }
        clockWork.timersFired += 1
        if let limit = Self.killAfterTimers, clockWork.timersFired >= limit { kill(getpid(), SIGKILL) }
    }

    /// Test hook for crash safety: `CRESCENT_TEST_KILL_AFTER_TIMERS=N` makes
    /// the process SIGKILL itself after firing N timers (see the restart tests).
    static let killAfterTimers = ProcessInfo.processInfo.environment["CRESCENT_TEST_KILL_AFTER_TIMERS"].flatMap(Int.init)
}
