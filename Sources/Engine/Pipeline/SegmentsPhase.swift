import LuaKit
import Store

/// The segments phase: each segment runs again only when something it read
/// changed or its answer stopped holding (``SegmentMemo``); the others keep
/// their last answer, recorded with the reason ``RuleResult/unchanged``.
extension Engine {
    /// One segment's answer in this evaluation.
    private struct SegmentAnswer {
        enum Kind { case reused, inside, outside, failed, reported, disabled, absent }
        var kind: Kind = .reused
        var micros = 0
        var error: String?
    }

    func segmentsPhase(_ run: inout EvaluationRun) {
        let customer = run.customer
        let now = state.now
        let count = segments.count
        if customer.memoEpoch != rulesEpoch || customer.memos.count != count {
            customer.memos = Array(repeating: SegmentMemo(), count: count)
            customer.memoEpoch = rulesEpoch
        }
        let changed = customer.changedInputs
        customer.changedInputs = []
        var answers = Array(repeating: SegmentAnswer(), count: count)
        var due: [Int] = []
        for index in 0..<count {
            if options.reuseSegmentResults && customer.memos[index].holds(at: now, changed: changed) { continue }
            customer.memos[index] = SegmentMemo()
            if segmentHandles[index] == nil {
                answers[index].kind = .absent
            } else if isDisabled(segments[index].ruleId) {
                answers[index].kind = .disabled
            } else {
                due.append(index)
            }
        }
        if !due.isEmpty { evaluateSegments(due, into: &answers, &run, now: now) }
        customer.noteSegmentsEvaluated(count: count, version: rules.version)
        defer {
            // The next sweep looks at this customer when its answers stop
            // holding, or at once if something it may read changed since.
            state.segmentWatch.watch(customer, at: customer.changedInputs.isEmpty ? customer.segmentsHoldUntil : .min)
        }

        var members = customer.segments
        for (index, d) in segments.enumerated() {
            let answer = answers[index]
            let inside: Bool
            switch answer.kind {
            case .absent, .reported: continue
            case .disabled:
                run.results.append(RuleResult(rule: d.ruleId, kind: "segment", outcome: .disabled,
                                              reason: "disabled after repeated errors"))
                continue
            case .failed:
                recordError(d, answer.error ?? "failed", micros: answer.micros, &run)
                continue
            case .reused: inside = customer.memos[index].inside
            case .inside, .outside:
                clearErrors(d.ruleId)
                inside = answer.kind == .inside
            }
            let reason: String? = answer.kind == .reused ? RuleResult.unchanged : nil
            if d.isShadow {
                // A would-be entry counts as the shadow rule's hit, as an entry does for a live one.
                let wasInside = customer.shadowSegments.contains(d.name)
                let wouldEnter = inside && !wasInside
                if inside != wasInside {
                    if inside { customer.shadowSegments.insert(d.name) } else { customer.shadowSegments.remove(d.name) }
                    state.batch.shadowSegmentChanges.append(SegmentChangeRow(segment: d.name, customerId: customer.row.id,
                                                                             entered: inside, at: now, messageId: run.event.messageId))
                }
                if wouldEnter { stat(d.ruleId) { $0.shadowHits += 1 } }
                run.results.append(RuleResult(rule: d.ruleId, kind: "segment", outcome: inside ? .shadowHit : .miss,
                                              reason: wouldEnter ? RuleResult.wouldEnter : reason, micros: answer.micros))
                continue
            }
            let was = customer.segments.contains(d.name)
            if inside != was {
                if inside { members.insert(d.name) } else { members.remove(d.name) }
                run.segmentChanges.append(SegmentChangeRow(segment: d.name, customerId: customer.row.id, entered: inside,
                                                           at: now, messageId: run.event.messageId))
                // A segment's hits are its entries (an exit is not a hit).
                if inside { stat(d.ruleId) { $0.hits += 1 } }
            }
            run.results.append(RuleResult(rule: d.ruleId, kind: "segment", outcome: inside ? .hit : .miss,
                                          reason: inside != was ? (inside ? RuleResult.entered : "exited") : reason,
                                          micros: answer.micros))
        }
        guard members != customer.segments else { return }
        customer.segments = members
        customer.changedInputs.insert(.segments)
        state.batch.segmentChanges += run.segmentChanges
        // (Not pushed yet: the customer table, when it is, reads the new memberships.)
        guard luaPrepared else { return }
        let set = LuaValue.table(Dictionary(uniqueKeysWithValues: members.map { (.string(LuaString($0)), .boolean(true)) }))
        _ = try? rules.state.call(rules.setSegments, [set])
    }

    /// Runs the `due` segments in one Lua call and records, for each, its
    /// answer and (when it read nothing that moves on its own) its memo.
    private func evaluateSegments(_ due: [Int], into answers: inout [SegmentAnswer], _ run: inout EvaluationRun, now: Int64) {
        let customer = run.customer
        let handles = segmentHandles
        struct Raw { var code: UInt8; var micros: Int; var error: String?; var reads: UInt32; var holds: Int64 }
        let prepared = (try? prepareLua()) != nil
        let raws = !prepared ? nil : try? rules.state.call(rules.segmentsBatch, arguments: 1, results: 5, push: { stack in
            stack.pushTable(array: due.count)
            for (position, index) in due.enumerated() {
                stack.push(handles[index]!)
                stack.setIndex(position + 1)
            }
        }, read: { stack throws(LuaError) -> [Raw] in
            // codes, times, errors (or false), inputs read, holds until
            let codes = Array((stack.string(at: -5) ?? "").utf8)
            return due.indices.map { position in
                let item = position + 1
                let code = position < codes.count ? codes[position] : UInt8(ascii: "e")
                return Raw(code: code, micros: Int(stack.integer(inTableAt: -4, item: item) ?? 0),
                           error: code == UInt8(ascii: "e") ? stack.string(inTableAt: -3, item: item) : nil,
                           reads: UInt32(truncatingIfNeeded: stack.integer(inTableAt: -2, item: item) ?? -1),
                           holds: stack.integer(inTableAt: -1, item: item) ?? -1)
            }
        })
        guard let raws else {
            // A limit stopped the phase: run each segment alone (errors recorded
            // as they happen), remembering nothing.
            for index in due {
                if let (values, micros) = invoke(segments[index], "when", rules.segmentCall, [], &run) {
                    answers[index] = SegmentAnswer(kind: values.first == .boolean(true) ? .inside : .outside, micros: micros)
                } else {
                    answers[index] = SegmentAnswer(kind: .reported)
                }
            }
            return
        }
        for (position, index) in due.enumerated() {
            let raw = raws[position]
            switch raw.code {
            case UInt8(ascii: "1"), UInt8(ascii: "0"):
                let inside = raw.code == UInt8(ascii: "1")
                answers[index] = SegmentAnswer(kind: inside ? .inside : .outside, micros: raw.micros)
                if raw.holds > now {
                    customer.memos[index] = SegmentMemo(reads: CustomerInputs(rawValue: raw.reads), inside: inside,
                                                        from: now, holdsUntil: raw.holds)
                }
            default:
                answers[index] = SegmentAnswer(kind: .failed, micros: raw.micros, error: raw.error ?? "failed")
            }
        }
    }
}
