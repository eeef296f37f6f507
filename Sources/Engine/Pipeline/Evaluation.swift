import Foundation
import LuaKit
import Store

/// The evaluation phases, in DESIGN order: counters, fraud, segments,
/// promotions (also for the segment entries and exits of this event).
extension Engine {
    /// Runs every phase for the run's event; `segmentsOnly` (a scheduled
    /// sweep) re-evaluates the segments alone, then handles their entries and exits.
    func evaluate(_ run: inout EvaluationRun, segmentsOnly: Bool = false) throws {
        try begin(run.event, run)
        if !segmentsOnly {
            countersPhase(&run)
            fraudPhase(&run)
        }
        segmentsPhase(&run)
        if !segmentsOnly {
            promotionsPhase(for: run.event, &run)
            journeysPhase(for: run.event, &run)
        }
        for change in run.segmentChanges {
            let name = change.entered ? "Segment Entered" : "Segment Exited"
            let internalEvent = Event(
                messageId: "\(run.event.messageId)#\(change.entered ? "entered" : "exited"):\(change.segment)",
                kind: .track, name: name, userId: run.customer.row.id, properties: ["segment": .string(change.segment)],
                timestamp: run.event.timestamp, isInternal: true)
            try begin(internalEvent, run)
            promotionsPhase(for: internalEvent, &run)
            journeysPhase(for: internalEvent, &run)
        }
    }

    /// Makes `event` (with the run's customer and order) the one rules see;
    /// the tables `e` and `c` are pushed at the first rule call that needs
    /// them (``prepareLua()``), so an event no rule looks at builds none.
    func begin(_ event: Event, _ run: EvaluationRun) throws {
        state.currentCustomer = run.customer
        state.currentEvent = event
        state.currentOrder = run.order
        luaPrepared = false
    }

    /// Pushes the current event and customer into the rule state, once per ``begin(_:_:)``.
    func prepareLua() throws(LuaError) {
        guard !luaPrepared, let event = state.currentEvent, let customer = state.currentCustomer else { return }
        let now = state.now
        try rules.state.call(rules.begin, arguments: 2, results: 0, push: { stack in
            Self.push(event, stack)
            customer.push(stack, now: now)
        }, read: { _ in })
        luaPrepared = true
    }

    // MARK: Calling rule functions

    /// Calls one of a declaration's functions through a prelude entry point;
    /// records errors and disables a rule that keeps failing.
    func invoke(_ d: RuleDeclaration, _ field: String, _ entry: LuaReference, _ extra: [LuaValue] = [],
                        _ run: inout EvaluationRun) -> (values: [LuaValue], micros: Int)? {
        guard let handle = d.functions[field] else { return nil }
        let id = d.ruleId
        if isDisabled(id) {
            run.results.append(RuleResult(rule: id, kind: d.kind.rawValue, outcome: .disabled, reason: "disabled after repeated errors"))
            return nil
        }
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            try prepareLua()
            let values = try rules.state.call(entry, arguments: Int32(1 + extra.count), results: 2, push: { stack in
                stack.push(handle)
                for value in extra { try? stack.push(value) }
            }, read: { stack throws(LuaError) in [try stack.value(at: -2), try stack.value(at: -1)] })
            clearErrors(id)
            return (values, Int((DispatchTime.now().uptimeNanoseconds - start) / 1000))
        } catch {
            let micros = Int((DispatchTime.now().uptimeNanoseconds - start) / 1000)
            recordError(d, error.description, micros: micros, &run)
            return nil
        }
    }

    /// Records a rule's failure for this event; disables (and alerts on) a
    /// rule that keeps failing.
    func recordError(_ d: RuleDeclaration, _ message: String, micros: Int, _ run: inout EvaluationRun) {
        let id = d.ruleId
        run.results.append(RuleResult(rule: id, kind: d.kind.rawValue, outcome: .error, reason: message, micros: micros))
        var disabledNow = false
        stat(id) {
            $0.errors += 1
            $0.consecutiveErrors += 1
            $0.lastError = message
            if $0.consecutiveErrors >= options.disableAfterErrors && !$0.disabled {
                $0.disabled = true
                disabledNow = true
            }
        }
        guard disabledNow else { return }
        let text = "\(id) disabled after \(options.disableAfterErrors) consecutive errors; last: \(message)"
        state.log(text)
        addAction(ActionRecord(rule: id, action: "alert", channel: "ops",
                               payload: .object(["action": .string("alert"), "message": .string(text), "severity": .string("critical")]),
                               idempotencyKey: "\(run.event.messageId):\(id):disabled"), &run)
    }

    /// Runs a whole phase in one Lua call: the enabled rules' handles for
    /// `field`, the disabled ones recorded. Nil when a limit stopped the
    /// call (the caller then runs the rules one by one).
    func batch(_ rules: [RuleDeclaration], _ field: String, _ entry: LuaReference, results: Int32,
               _ run: inout EvaluationRun) -> (rules: [RuleDeclaration], values: [LuaValue])? {
        var enabled: [RuleDeclaration] = []
        for d in rules where d.functions[field] != nil {
            if isDisabled(d.ruleId) {
                run.results.append(RuleResult(rule: d.ruleId, kind: d.kind.rawValue, outcome: .disabled,
                                              reason: "disabled after repeated errors"))
            } else {
                enabled.append(d)
            }
        }
        if enabled.isEmpty { return ([], []) }
        let count = enabled.count
        guard (try? prepareLua()) != nil else { return nil }
        let values = try? self.rules.state.call(entry, arguments: 1, results: results, push: { stack in
            stack.pushTable(array: count)
            for (index, d) in enabled.enumerated() {
                stack.push(d.functions[field]!)
                stack.setIndex(index + 1)
            }
        }, read: { stack throws(LuaError) -> [LuaValue] in
            // Each result is a string of codes or a list indexed like the rules.
            var values: [LuaValue] = []
            for slot in (-results)...(-1) {
                if stack.isNil(at: slot) {
                    values.append(.nil)
                } else if let items = try? stack.elements(ofTableAt: slot, count: count), !items.isEmpty {
                    values.append(.array(items))
                } else {
                    values.append(try stack.value(at: slot))
                }
            }
            return values
        })
        guard let values else { return nil }
        return (enabled, values)
    }

    /// Why a counter, promotion or journey entry does not act again for
    /// `event`: it repeats the `Order Completed` of an order already completed.
    func repeatReason(_ event: Event, _ run: EvaluationRun, _ what: String) -> String? {
        guard run.repeatsCompletedOrder, !event.isInternal, let order = run.order else { return nil }
        return "order \(order.id) was already completed: \(what)"
    }

    /// Why no promotion fires and no journey starts for `event`: it happened
    /// longer ago than ``EngineOptions/historicalAfter`` before the clock.
    func historicalReason(_ event: Event) -> String? {
        guard let horizon = options.historicalAfter, horizon > 0, state.clock - event.timestamp > horizon else { return nil }
        let span = horizon % 86_400_000 == 0 ? "\(horizon / 86_400_000)d"
            : horizon % 3_600_000 == 0 ? "\(horizon / 3_600_000)h" : "\(horizon / 60_000)m"
        return "historical event of \(Timestamps.iso(event.timestamp)), more than \(span) before the clock: no action"
    }

    private func triggered(_ d: RuleDeclaration, by name: String) -> Bool {
        d.triggers?.contains(name) ?? false
    }

    // MARK: Counters

    private func countersPhase(_ run: inout EvaluationRun) {
        for d in countersByEvent[run.event.name] ?? [] {
            if d.functions["when"] != nil {
                guard let (values, _) = invoke(d, "when", rules.whenCall, [], &run), values.first == .boolean(true) else { continue }
            }
            guard let (keys, micros) = invoke(d, "key", rules.keyCall, [], &run), let key = keys.first?.stringValue else { continue }
            var value: String?
            if d.kind == .distinctCounter {
                guard let (values, _) = invoke(d, "value", rules.keyCall, [], &run), let v = values.first?.stringValue else { continue }
                value = v
            }
            if let reason = repeatReason(run.event, run, "counted once") {
                run.results.append(RuleResult(rule: d.ruleId, kind: d.kind.rawValue, outcome: .suppressed,
                                              reason: "key \(key): \(reason)", micros: micros))
                continue
            }
            state.addHit(d.name, key, value: value)
            run.results.append(RuleResult(rule: d.ruleId, kind: d.kind.rawValue, outcome: .hit,
                                          reason: value.map { "key \(key), value \($0)" } ?? "key \(key)", micros: micros))
        }
    }

    // MARK: Fraud

    private func fraudPhase(_ run: inout EvaluationRun) {
        guard let policy, triggered(policy, by: run.event.name) else { return }
        let reviewAt = policy.number("review_at") ?? 50
        let blockAt = policy.number("block_at") ?? 80
        var total = 0.0
        var reasons: [String] = []
        var ruleResults: [RuleResult] = []
        let applicable = frauds.filter { d in d.triggers.map { $0.contains(run.event.name) } ?? true }
        var scored: [(RuleDeclaration, Double, String?, Int)] = []
        scored.reserveCapacity(applicable.count)
        let before = run.results.count
        if let (enabled, values) = batch(applicable, "score", rules.fraudBatch, results: 4, &run) {
            for (index, d) in enabled.enumerated() {
                let micros = Int(Self.item(values.dropFirst(2).first, index)?.doubleValue ?? 0)
                if let message = Self.item(values.dropFirst(3).first, index)?.stringValue {
                    recordError(d, message, micros: micros, &run)
                } else {
                    clearErrors(d.ruleId)
                    scored.append((d, Self.item(values.first, index)?.doubleValue ?? 0,
                                   Self.item(values.dropFirst().first, index)?.stringValue, micros))
                }
            }
        } else {
            for d in applicable {
                guard let (values, micros) = invoke(d, "score", rules.fraudCall, [], &run) else { continue }
                scored.append((d, values.first?.doubleValue ?? 0, values.dropFirst().first?.stringValue, micros))
            }
        }
        ruleResults += run.results[before...]
        for (d, score, reason, micros) in scored {
            let result: RuleResult
            if score > 0 && d.isShadow {
                result = RuleResult(rule: d.ruleId, kind: "fraud", outcome: .shadowHit, score: score, reason: reason, micros: micros)
                stat(d.ruleId) { $0.shadowHits += 1 }
            } else if score > 0 {
                result = RuleResult(rule: d.ruleId, kind: "fraud", outcome: .hit, score: score, reason: reason, micros: micros)
                total += score
                reasons.append(reason ?? d.name)
                stat(d.ruleId) { $0.hits += 1 }
            } else {
                result = RuleResult(rule: d.ruleId, kind: "fraud", outcome: .miss, score: 0, micros: micros)
            }
            run.results.append(result)
            ruleResults.append(result)
        }
        let verdict: FraudDecision.Verdict = total >= blockAt ? .block : total >= reviewAt ? .review : .allow
        let decision = FraudDecision(verdict: verdict, score: total, reasons: reasons, rules: ruleResults)
        run.decision = decision
        if verdict == .block {
            run.customer.blocks.append((run.order?.id, state.now))
            if run.customer.blocks.count > 100 { run.customer.blocks.removeFirst() }
        }
        state.batch.decisions.append(DecisionRow(
            messageId: run.event.messageId, customerId: run.customer.row.id, orderId: run.order?.id, decision: verdict.rawValue,
            score: total, reasons: JSONValue.array(reasons.map { .string($0) }).jsonText,
            rules: RuleResult.jsonText(ruleResults),
            rulesetVersion: rules.version, at: state.now))
    }

    /// Item `index` (0-based) of a Lua array or sparse table.
    static func item(_ value: LuaValue?, _ index: Int) -> LuaValue? {
        switch value {
        case .array(let items)?: index < items.count ? items[index] : nil
        case .table(let fields)?: fields[.integer(Int64(index + 1))]
        default: nil
        }
    }

    // MARK: Actions

    /// Records an action in the run and the outbox; `text` is the payload's
    /// JSON when the caller already wrote it.
    func addAction(_ action: ActionRecord, text: String? = nil, _ run: inout EvaluationRun) {
        run.actions.append(action)
        if action.action == "notify" {
            let customer = run.customer
            customer.messages.append((action.rule, state.now))
            if customer.messages.count > 200 { customer.messages.removeFirst(customer.messages.count - 200) }
        }
        state.batch.outbox.append(OutboxRow(idempotencyKey: action.idempotencyKey, messageId: run.event.messageId,
                                            customerId: run.customer.row.id, rule: action.rule, action: action.action,
                                            channel: action.channel, payload: text ?? action.payload.jsonText, createdAt: state.now,
                                            consentPurpose: action.consentPurpose))
    }
}

