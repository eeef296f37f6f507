import Foundation
import LuaKit
import Store

/// Why ``Engine/evaluateAsRule(_:customer:)`` could not run.
public struct RuleInspectionError: Error, CustomStringConvertible {
    public let description: String
}

extension Engine {
    /// Runs Lua as a rule function would run (`crescent repl`'s `rule_eval`):
    /// in the rule state, with every helper rules have (`catalog`,
    /// `competitor_prices`, `trending`, `lists`, `sentiment`, `duration`,
    /// `now`, plugins through `require`), `c` the customer (an id, an
    /// anonymous id or an alias; nil gives a customer with no history), `e` an
    /// empty track event named `REPL` at the engine's clock, and `ctx` the
    /// fraud context. An expression's values come back (`c:spent{ within =
    /// "365d" }, c.segments`); statements give what their `return` gives.
    /// Nothing is recorded: no counter, no action, no explanation.
    public func evaluateAsRule(_ code: String, customer alias: String?) throws -> [LuaValue] {
        let chunk: LuaChunk
        // One line of preamble, so the code's line numbers are the user's.
        do {
            chunk = try rules.state.load("local e, c, ctx = ...; return " + code, name: "rule_eval")
        } catch {
            chunk = try rules.state.load("local e, c, ctx = ...; " + code, name: "rule_eval")
        }
        let customer: CustomerState
        if let alias {
            try flush()
            let id = try store.resolve(alias: alias) ?? alias
            let known = try state.customers[id] != nil || store.customer(id: id) != nil
            guard known else {
                throw RuleInspectionError(description: "no customer \(alias): send one of their events first")
            }
            customer = try state.customer(id)
        } else {
            customer = CustomerState(row: CustomerRow(id: "repl-nobody"))
        }
        let (previousCustomer, previousEvent, previousOrder) = (state.currentCustomer, state.currentEvent, state.currentOrder)
        defer {
            (state.currentCustomer, state.currentEvent, state.currentOrder) = (previousCustomer, previousEvent, previousOrder)
            luaPrepared = false
        }
        state.currentCustomer = customer
        state.currentEvent = Event(messageId: "rule_eval", kind: .track, name: "REPL", userId: customer.row.id, timestamp: state.now)
        state.currentOrder = nil
        luaPrepared = false
        try prepareLua()
        return try rules.state.call(rules.inspectCall, arguments: 1, results: 2, push: { stack in
            stack.push(chunk.function)
        }, read: { stack throws(LuaError) in
            let count = Int(stack.integer(at: -2) ?? 0)
            let packed = try stack.value(at: -1)
            return (0..<count).map { index -> LuaValue in
                switch packed {
                case .array(let items): return index < items.count ? items[index] : .nil
                case .table(let fields): return fields[.integer(Int64(index + 1))] ?? .nil
                default: return .nil
                }
            }
        })
    }
}
