import Foundation
import LuaKit
import Store

/// Promotions: trigger, condition, host-enforced suppression (consent, fraud
/// block, limits), then the rule's actions into the outbox.
extension Engine {
    func promotionsPhase(for event: Event, _ run: inout EvaluationRun) {
        let customer = run.customer
        for d in promotionsByEvent[event.name] ?? [] {
            let id = d.ruleId
            var micros = 0
            if d.functions["when"] != nil {
                guard let (values, spent) = invoke(d, "when", rules.whenCall, [], &run) else { continue }
                micros += spent
                if values.first != .boolean(true) {
                    run.results.append(RuleResult(rule: id, kind: "promotion", outcome: .miss, micros: micros))
                    continue
                }
            }
            // A `key` makes the limits count per customer and key (a cart, a SKU and region).
            var limitKey: String?
            if d.functions["key"] != nil {
                guard let (values, spent) = invoke(d, "key", rules.keyCall, [], &run) else { continue }
                micros += spent
                limitKey = values.first?.stringValue
            }
            let firesName = EngineState.firesName(d.name, key: limitKey)
            if let reason = repeatReason(event, run, "promotions run once per order") ?? historicalReason(event)
                ?? suppression(d, customer, key: limitKey) {
                run.results.append(RuleResult(rule: id, kind: "promotion", outcome: .suppressed, reason: reason, micros: micros))
                continue
            }
            if let share = d.fields["holdout"]?.doubleValue, share > 0, Self.heldOut(customer.row.id, from: d.name, share: share) {
                // Recorded like a fire (limits apply alike) under "holdout:<name>", so reports can measure uplift.
                state.fires[customer.row.id, default: [:]][firesName, default: []].append(state.now)
                state.batch.promotionFires.append(("holdout:" + d.name, customer.row.id, state.now, limitKey))
                let percent = JSONValue.double(min(share, 1) * 100).stringValue ?? ""
                run.results.append(RuleResult(rule: id, kind: "promotion", outcome: .suppressed,
                                              reason: "holdout: \(percent)% of customers never get it, to measure uplift",
                                              micros: micros))
                continue
            }
            if d.isShadow {
                run.results.append(RuleResult(rule: id, kind: "promotion", outcome: .shadowHit, micros: micros))
                stat(id) { $0.shadowHits += 1 }
                continue
            }
            let seed = LuaValue.string(LuaString("\(event.messageId):\(d.name)"))
            guard let (values, spent) = invoke(d, "run", rules.runCall, [seed], &run) else { continue }
            micros += spent
            var actions: [JSONValue] = []
            if case .array(let items)? = values.first { actions = items.map(JSONValue.init) }
            for (index, action) in actions.enumerated() {
                apply(action, to: customer, rule: id)
                addAction(ActionRecord(rule: id, action: action["action"]?.stringValue ?? "unknown",
                                       channel: action["channel"]?.stringValue, payload: action,
                                       idempotencyKey: "\(event.messageId):\(id):\(index)",
                                       consentPurpose: d.isMarketing ? "marketing" : nil), &run)
            }
            state.fires[customer.row.id, default: [:]][firesName, default: []].append(state.now)
            state.shared.recordGlobalFire(d.name, now: state.now)
            state.batch.promotionFires.append((d.name, customer.row.id, state.now, limitKey))
            stat(id) { $0.hits += 1 }
            run.results.append(RuleResult(rule: id, kind: "promotion", outcome: .hit,
                                          reason: actions.isEmpty ? "no actions" : "\(actions.count) action(s)", micros: micros))
        }
    }

    /// Whether a customer is in a promotion's holdout: a stable hash of both
    /// names, so the same customers are held out on every shard and every run.
    static func heldOut(_ customerId: String, from promotion: String, share: Double) -> Bool {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (promotion + "\u{1F}" + customerId).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return Double(hash % 10_000) < share * 10_000
    }

    /// Why the host will not let a promotion act for this customer (and key) now, if it won't.
    func suppression(_ d: RuleDeclaration, _ customer: CustomerState, key: String? = nil) -> String? {
        let marketing = d.isMarketing
        if marketing && customer.consent["marketing"] != true {
            return "no marketing consent"
        }
        if marketing, let blocked = customer.lastBlockAt, state.now - blocked < options.fraudBlockSuppression {
            return "fraud block on \(Timestamps.iso(blocked)) (promotions suppressed for \(options.fraudBlockSuppression / 86_400_000) days)"
        }
        let fires = state.promotionFires(d.name, customer.row.id, key: key)
        let forKey = key.map { " for key \($0)" } ?? ""
        if let limit = d.limits.perCustomer, Double(fires.count) >= limit {
            return "limit per_customer = \(JSONValue.double(limit).stringValue ?? "") reached\(forKey)"
        }
        if let cooldown = d.limits.cooldown, let last = fires.last, state.now - last < cooldown {
            return "cooldown \(d.limits.cooldownText ?? "") since \(Timestamps.iso(last))\(forKey)"
        }
        if let perDay = d.limits.perDay {
            let today = state.shared.globalPromotionFires(d.name, now: state.now)
            if Double(today) >= perDay { return "limit per_day = \(JSONValue.double(perDay).stringValue ?? "") reached" }
        }
        return nil
    }

    /// Effects an action has at once: tags and traits on the customer, a list entry for every rule.
    private func apply(_ action: JSONValue, to customer: CustomerState, rule: String) {
        switch action["action"]?.stringValue {
        case "tag", "untag", "set_trait": state.invalidateSegments(of: customer)
        default: break
        }
        switch action["action"]?.stringValue {
        case "tag", "untag":
            guard let tag = action["tag"]?.stringValue else { return }
            var tags: [JSONValue] = []
            if case .array(let existing)? = customer.traits["tags"] { tags = existing }
            tags.removeAll { $0 == .string(tag) }
            if action["action"]?.stringValue == "tag" { tags.append(.string(tag)) }
            customer.traits["tags"] = .array(tags)
        case "set_trait":
            if let trait = action["trait"]?.stringValue { customer.traits[trait] = action["value"] ?? .null }
        case "list_add":
            guard let list = action["list"]?.stringValue, let value = action["value"]?.stringValue else { return }
            if state.shared.addRuleListValue(list, value) { state.batch.listAdditions.append((list, value, "rule:" + rule, state.now)) }
            return
        default:
            break
        }
        state.dirty.insert(customer.row.id)
    }

    /// Stores the explanation of one event.
    func record(_ run: EvaluationRun) {
        for result in run.results where result.reason != RuleResult.unchanged {
            stats[result.rule, default: RuleStats()].latency.record(micros: result.micros)
        }
        let results = RuleResult.compactText(run.results, index: ruleIndex)
        if let last = state.batch.events.indices.last, state.batch.events[last].messageId == run.event.messageId {
            state.batch.events[last].rulesetVersion = rules.version
            state.batch.events[last].results = results
        }
    }
}

extension EngineState {
    /// When a promotion fired for a customer (for one key of a keyed promotion), loaded on first use.
    func promotionFires(_ promotion: String, _ customerId: String, key: String? = nil) -> [Int64] {
        let name = Self.firesName(promotion, key: key)
        if let known = fires[customerId]?[name] { return known }
        let loaded = !mayBeStored(customer: customerId) ? [] : (try? store.promotionFires(promotion: promotion, customerId: customerId,
                                                                                          key: key, since: Int64.min)) ?? []
        fires[customerId, default: [:]][name] = loaded
        return loaded
    }

    /// The entry of `fires` for a promotion, or for one key of a keyed promotion.
    static func firesName(_ promotion: String, key: String?) -> String {
        key.map { promotion + "\u{1F}" + $0 } ?? promotion
    }

    /// The promotion and key an entry of `fires` stands for.
    static func promotionAndKey(_ firesName: String) -> (promotion: String, key: String?) {
        guard let separator = firesName.firstIndex(of: "\u{1F}") else { return (firesName, nil) }
        return (String(firesName[..<separator]), String(firesName[firesName.index(after: separator)...]))
    }

}
