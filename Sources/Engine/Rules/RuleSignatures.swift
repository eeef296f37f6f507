import LuaKit

/// What the engine passes to each rule function, and the check `crescent
/// check` makes of the parameters a function declares against it: a
/// segment's `when(e, c)` gets the customer as `e` and nil as `c`, which
/// fails only at run time ("attempt to index a nil value (local 'c')").
enum RuleSignatures {
    /// One argument the engine passes, by what it is.
    enum Argument: String {
        case event = "e", customer = "c", context = "ctx", actions = "act", journey = "j"

        var noun: String {
            switch self {
            case .event: "the event"
            case .customer: "the customer"
            case .context: "the context"
            case .actions: "the actions"
            case .journey: "the journey instance"
            }
        }
    }

    /// Parameter names that say which argument their author expects.
    static let conventional: [String: Argument] = [
        "e": .event, "event": .event, "c": .customer, "customer": .customer, "ctx": .context, "context": .context,
        "act": .actions, "actions": .actions, "j": .journey, "instance": .journey, "journey": .journey,
    ]

    /// The arguments a declaration's function `field` is called with.
    static func arguments(_ kind: RuleKind, _ field: String) -> [Argument]? {
        switch (kind, field) {
        case (.segment, "when"): [.customer]
        case (.promotion, "when"), (.counter, "when"), (.distinctCounter, "when"), (.journey, "when"),
             (.fraud, "score"):
            [.event, .customer, .context]
        case (.promotion, "key"), (.counter, "key"), (.distinctCounter, "key"), (.distinctCounter, "value"),
             (.journey, "key"):
            [.event, .customer]
        case (.promotion, "run"): [.event, .customer, .actions]
        case (.schedule, "run"): [.context, .actions]
        default: nil
        }
    }

    /// A journey step's `when` and `data` functions: `(c, j, e)`.
    static let stepArguments: [Argument] = [.customer, .journey, .event]

    /// Warns, at each function's own line, about parameters that can never
    /// receive what their names say: past the arguments passed (always nil)
    /// or named for another argument than the one in their place.
    /// `signature` reads a function by its handle.
    static func check(_ declarations: [RuleDeclaration], problems: inout [RuleProblem],
                      signature: (Int64) -> LuaFunctionSignature?) {
        for d in declarations {
            var found: [RuleProblem] = []
            for (field, handle) in d.functions {
                guard let passed = arguments(d.kind, field), let declared = signature(handle) else { continue }
                found += problem(d, field, label: field, declared, passed)
            }
            if d.kind == .journey, case .array(let steps)? = d.fields["steps"] {
                for case .table(let step) in steps {
                    let name = step["name"]?.stringValue ?? "?"
                    for (key, field) in [("when", "when"), ("data_function", "data")] {
                        guard case .table(let handle)? = step[.string(LuaString(key))],
                              case .integer(let id)? = handle["__function"], let declared = signature(id) else { continue }
                        found += problem(d, field, label: "step \"\(name)\"'s \(field)", declared, stepArguments)
                    }
                }
            }
            problems += found.sorted { ($0.line ?? 0) < ($1.line ?? 0) }
        }
    }

    private static func problem(_ d: RuleDeclaration, _ field: String, label: String, _ found: LuaFunctionSignature,
                                _ passed: [Argument]) -> [RuleProblem] {
        var findings: [String] = []
        for (position, name) in found.parameters.enumerated() {
            if position >= passed.count {
                findings.append("'\(name)' is always nil")
            } else if let meant = conventional[name], meant != passed[position] {
                findings.append("'\(name)' receives \(passed[position].noun), not \(meant.noun)")
            }
        }
        guard !findings.isEmpty else { return [] }
        let call = "\(field)(\(passed.map(\.rawValue).joined(separator: ", ")))"
        return [RuleProblem(.warning, file: d.file, line: found.line > 0 ? found.line : d.line,
                            "\(d.kind.rawValue) \"\(d.name)\": \(label) is called as \(call): "
                            + findings.joined(separator: "; "))]
    }
}
