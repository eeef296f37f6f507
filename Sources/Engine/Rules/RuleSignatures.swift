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

    /// The fields a customer (`c`) and an event (`e`) have, as the prelude lists them.
    struct KnownFields {
        var customer: Set<String>
        var event: Set<String>
    }

    /// Warns, at each function's own line, about parameters that can never
    /// receive what their names say: past the arguments passed (always nil)
    /// or named for another argument than the one in their place; and, with
    /// `known`, at the line of the read, about a field of the customer or the
    /// event that they do not have (`c.total_spnt`), unless some rule sets it,
    /// and about `e.order` read on events that never carry one.
    /// `signature` reads a function by its handle; `sources` are the rule
    /// and plugin files by chunk name.
    static func check(_ declarations: [RuleDeclaration], sources: [String: String], known: KnownFields?,
                      problems: inout [RuleProblem], signature: (Int64) -> LuaFunctionSignature?) {
        let lines = sources.mapValues { RuleChecks.codeLines($0, blankingStrings: true) }
        let assigned = known == nil ? [] : assigned(in: lines)
        var rebindPatterns: [String: [Regex<Substring>]] = [:]
        for d in declarations {
            // The events a function runs on, when they are the declaration's `on` (not a journey step's).
            var functions: [(field: String, label: String, found: LuaFunctionSignature, passed: [Argument], triggers: [String]?)] = []
            for (field, handle) in d.functions {
                guard let passed = arguments(d.kind, field), let found = signature(handle) else { continue }
                functions.append((field, field, found, passed, d.triggers))
            }
            if d.kind == .journey, case .array(let steps)? = d.fields["steps"] {
                for case .table(let step) in steps {
                    let name = step["name"]?.stringValue ?? "?"
                    for (key, field) in [("when", "when"), ("data_function", "data")] {
                        guard case .table(let handle)? = step[.string(LuaString(key))],
                              case .integer(let id)? = handle["__function"], let found = signature(id) else { continue }
                        functions.append((field, "step \"\(name)\"'s \(field)", found, stepArguments, nil))
                    }
                }
            }
            var found: [RuleProblem] = []
            for function in functions {
                // A function defined in a plugin is reported in the plugin's file.
                let file = function.found.chunk.isEmpty ? d.file : function.found.chunk
                found += problem(d, function.field, label: function.label, file: file, function.found, function.passed)
                if let known, let body = lines[function.found.chunk] {
                    found += unknownReads(d, file: file, body, function.found, function.passed, triggers: function.triggers,
                                          known, assigned, &rebindPatterns)
                }
            }
            problems += found.sorted { ($0.line ?? 0) < ($1.line ?? 0) }
        }
    }

    /// `name.field` in `line`, where `name` stands alone (not `x.name.field`,
    /// not `myname.field`); with whether each is assigned (`name.field = ...`).
    private static func reads(of name: String, in line: Substring) -> [(field: String, assigned: Bool)] {
        // On the UTF-8 bytes: this runs for every line and every conventional
        // name on each load, and Lua names are ASCII.
        func isName(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "_") || byte >= 0x80 || (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
        }
        var found: [(field: String, assigned: Bool)] = []
        let bytes = Array(line.utf8), needle = Array(name.utf8)
        var at = 0
        while at + needle.count < bytes.count {
            defer { at += 1 }
            guard bytes[at + needle.count] == UInt8(ascii: "."), bytes[at..<at + needle.count].elementsEqual(needle) else { continue }
            if at > 0, isName(bytes[at - 1]) || bytes[at - 1] == UInt8(ascii: ".") || bytes[at - 1] == UInt8(ascii: ":") { continue }
            let start = at + needle.count + 1
            var end = start
            while end < bytes.count && isName(bytes[end]) { end += 1 }
            guard end > start, !(bytes[start] >= 0x30 && bytes[start] <= 0x39) else { continue }
            var next = end
            while next < bytes.count && (bytes[next] == UInt8(ascii: " ") || bytes[next] == UInt8(ascii: "\t")) { next += 1 }
            let assigned = next < bytes.count && bytes[next] == UInt8(ascii: "=")
                && !(next + 1 < bytes.count && bytes[next + 1] == UInt8(ascii: "="))
            found.append((String(decoding: bytes[start..<end], as: UTF8.self), assigned))
        }
        return found
    }

    /// Fields some rule sets on `c` or `e` (`c.score = 1`): reading them is no typo.
    private static func assigned(in lines: [String: [Substring]]) -> Set<String> {
        var set: Set<String> = []
        for line in lines.values.joined() {
            for name in conventional.keys {
                for read in reads(of: name, in: line) where read.assigned { set.insert(read.field) }
            }
        }
        return set
    }

    private static func unknownReads(_ d: RuleDeclaration, file: String, _ lines: [Substring], _ found: LuaFunctionSignature,
                                     _ passed: [Argument], triggers: [String]?, _ known: KnownFields,
                                     _ assigned: Set<String>, _ rebindPatterns: inout [String: [Regex<Substring>]])
        -> [RuleProblem] {
        var problems: [RuleProblem] = []
        for (position, name) in found.parameters.prefix(passed.count).enumerated() {
            // A parameter named for another argument is warned about as such already.
            if let meant = conventional[name], meant != passed[position] { continue }
            let (fields, noun): (Set<String>, String)
            switch passed[position] {
            case .customer: (fields, noun) = (known.customer, "a customer")
            case .event: (fields, noun) = (known.event, "an event")
            default: continue
            }
            let body = max(found.line, 1)...min(max(found.lastLine, found.line), lines.count)
            guard !body.isEmpty, !rebinds(name, in: body.map { lines[$0 - 1] }, &rebindPatterns) else { continue }
            for number in body {
                var named: Set<String> = []
                for read in reads(of: name, in: lines[number - 1]) where !read.assigned && named.insert(read.field).inserted {
                    if !fields.contains(read.field) && !assigned.contains(read.field) {
                        problems.append(RuleProblem(.warning, file: file, line: number,
                                                    "\(d.kind.rawValue) \"\(d.name)\": reads \(name).\(read.field), which \(noun) does not have"
                                                    + NameSuggestion.hint(for: read.field, among: fields, quote: "")))
                    } else if passed[position] == .event, read.field == "order", let triggers, !triggers.isEmpty,
                              !triggers.contains(where: EngineState.orderEventNames.contains) {
                        problems.append(RuleProblem(.warning, file: file, line: number,
                                                    "\(d.kind.rawValue) \"\(d.name)\": reads \(name).order, which is nil on "
                                                    + triggers.map { "'\($0)'" }.joined(separator: " and ")
                                                    + " (only order events and fraud reviews naming an order carry one)"))
                    }
                }
            }
        }
        return problems
    }

    /// Whether the function's body (its header line first) declares `name`
    /// again (`local c`, `for _, c in`, a nested `function(c)`): its reads may
    /// then be of something else, so none is reported. `patterns` keeps the
    /// regexes built for each name: building one costs far more than running it.
    private static func rebinds(_ name: String, in body: [Substring], _ patterns: inout [String: [Regex<Substring>]]) -> Bool {
        // Each pattern needs the name and one of its keywords on the line.
        let candidates = body.enumerated().filter { line in
            line.element.contains(name) && ["local", "for", "function"].contains { line.element.contains($0) }
        }
        guard !candidates.isEmpty else { return false }
        if patterns[name] == nil {
            patterns[name] = (try? [
                Regex("\\blocal\\s+[A-Za-z0-9_,\\s]*\\b\(name)\\b"),
                Regex("\\bfor\\s+[A-Za-z0-9_,\\s]*\\b\(name)\\b"),
                Regex("\\bfunction\\b[A-Za-z0-9_.:\\s]*\\([A-Za-z0-9_,.\\s]*\\b\(name)\\b"),
            ]) ?? []
        }
        guard let patterns = patterns[name], !patterns.isEmpty else { return true }
        for (index, line) in candidates {
            // The header's own parameter list is not a second declaration.
            var text = line
            if index == 0, let start = text.range(of: "function"), let close = text[start.upperBound...].firstIndex(of: ")") {
                text = text[text.index(after: close)...]
            }
            if patterns.contains(where: { text.contains($0) }) { return true }
        }
        return false
    }

    private static func problem(_ d: RuleDeclaration, _ field: String, label: String, file: String,
                                _ found: LuaFunctionSignature, _ passed: [Argument]) -> [RuleProblem] {
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
        return [RuleProblem(.warning, file: file, line: found.line > 0 ? found.line : d.line,
                            "\(d.kind.rawValue) \"\(d.name)\": \(label) is called as \(call): "
                            + findings.joined(separator: "; "))]
    }
}
