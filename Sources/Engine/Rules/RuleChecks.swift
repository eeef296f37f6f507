import Foundation
import LuaKit

/// Static checks on a loaded rule set: what `crescent check` reports beyond
/// compile and runtime errors.
enum RuleChecks {
    /// Keeps the usable declarations and appends problems: missing required
    /// functions and bad thresholds (errors); duplicate names, unknown event
    /// names and rules that can never fire (warnings).
    static func validate(_ declarations: [RuleDeclaration], problems: inout [RuleProblem]) -> [RuleDeclaration] {
        var kept: [RuleDeclaration] = []
        var seen: [String: RuleDeclaration] = [:]
        let required: [RuleKind: [String]] = [
            .segment: ["when"], .promotion: ["on", "run"], .fraud: ["score"], .counter: ["on", "key"],
            .distinctCounter: ["on", "key", "value"], .fraudPolicy: ["on"], .journey: ["steps"], .channel: ["url", "secret_env"],
        ]
        for declaration in declarations {
            let where_ = (file: declaration.file, line: declaration.line)
            let label = "\(declaration.kind.rawValue) \"\(declaration.name)\""
            let missing = (required[declaration.kind] ?? []).filter {
                declaration.functions[$0] == nil && declaration.fields[$0] == nil
            }
            if !missing.isEmpty {
                problems.append(RuleProblem(.error, file: where_.file, line: where_.line,
                                            "\(label) needs \(missing.map { "'\($0)'" }.joined(separator: " and "))"))
                continue
            }
            if let mode = declaration.string("mode"), mode != "live", mode != "shadow" {
                problems.append(RuleProblem(.error, file: where_.file, line: where_.line,
                                            "\(label): mode must be \"live\" or \"shadow\", not \"\(mode)\""))
                continue
            }
            if let problem = limitsProblem(declaration) {
                problems.append(RuleProblem(.error, file: where_.file, line: where_.line, "\(label): \(problem)"))
                continue
            }
            if declaration.kind == .schedule, let problem = scheduleProblem(declaration) {
                problems.append(RuleProblem(.error, file: where_.file, line: where_.line, "\(label): \(problem)"))
                continue
            }
            if declaration.kind == .fraudPolicy {
                let review = declaration.number("review_at") ?? 50, block = declaration.number("block_at") ?? 80
                if review > block {
                    problems.append(RuleProblem(.error, file: where_.file, line: where_.line,
                                                "fraud_policy: review_at (\(review)) is above block_at (\(block))"))
                    continue
                }
            }
            let key = declaration.kind.rawValue + "/" + declaration.name
            if let first = seen[key] {
                problems.append(RuleProblem(.warning, file: where_.file, line: where_.line,
                                            "\(label) is declared again (first at \(first.file):\(first.line)); this one is ignored"))
                continue
            }
            seen[key] = declaration
            var listened = declaration.triggers ?? []
            if declaration.kind == .journey {
                listened += declaration.eventNames("exit_on") + declaration.eventNames("goal")
            }
            for name in listened where !KnownEvents.names.contains(name) {
                problems.append(RuleProblem(.warning, file: where_.file, line: where_.line,
                                            "\(label) listens to '\(name)', which is not a known event name"
                                            + NameSuggestion.hint(for: name, among: KnownEvents.names)))
            }
            if declaration.kind == .promotion, declaration.functions["key"] != nil,
               declaration.limit("per_customer") == nil, declaration.limit("cooldown") == nil {
                problems.append(RuleProblem(.warning, file: where_.file, line: where_.line,
                                            "\(label) has a 'key' but no per_customer or cooldown limit for it to count by: it changes nothing"))
            }
            kept.append(declaration)
        }
        let hasPolicy = kept.contains { $0.kind == .fraudPolicy }
        if !hasPolicy {
            for fraud in kept where fraud.kind == .fraud && fraud.triggers == nil {
                problems.append(RuleProblem(.warning, file: fraud.file, line: fraud.line,
                                            "fraud \"\(fraud.name)\" can never fire: there is no fraud_policy and no 'on'"))
            }
        }
        checkReachability(kept, problems: &problems)
        return kept
    }

    /// Warns about rules that wait for something the rest of the rule set
    /// never gives them: a fraud rule listening to events the fraud policy
    /// does not decide on, a journey started by a segment no file declares
    /// (or one in shadow mode, whose would-be entries start nothing).
    static func checkReachability(_ kept: [RuleDeclaration], problems: inout [RuleProblem]) {
        func quoted(_ names: [String]) -> String { names.map { "'\($0)'" }.joined(separator: ", ") }
        if let policy = kept.first(where: { $0.kind == .fraudPolicy }) {
            let decided = policy.triggers ?? []
            for fraud in kept where fraud.kind == .fraud {
                guard let own = fraud.triggers else { continue }
                let outside = own.filter { !decided.contains($0) }
                guard !outside.isEmpty else { continue }
                let label = "fraud \"\(fraud.name)\""
                let message = outside.count == own.count
                    ? "\(label) can never fire: it listens to \(quoted(outside)), and the fraud_policy decides only on \(quoted(decided))"
                    : "\(label) never runs for \(quoted(outside)): the fraud_policy decides only on \(quoted(decided))"
                problems.append(RuleProblem(.warning, file: fraud.file, line: fraud.line, message))
            }
        }
        let segments = Dictionary(kept.filter { $0.kind == .segment }.map { ($0.name, $0) }) { first, _ in first }
        for journey in kept where journey.kind == .journey {
            guard let name = journey.string("segment") else { continue }
            let label = "journey \"\(journey.name)\" starts when a customer enters segment \"\(name)\""
            if let segment = segments[name] {
                if segment.isShadow {
                    problems.append(RuleProblem(.warning, file: journey.file, line: journey.line,
                                                "\(label), which is in shadow mode: its would-be entries start no journey"))
                }
            } else {
                problems.append(RuleProblem(.warning, file: journey.file, line: journey.line,
                                            "\(label), which no file declares: it never starts"
                                            + NameSuggestion.hint(for: name, among: segments.keys, quote: "\"")))
            }
        }
    }

    /// Warns where a rule reads a list by a literal name that no `list`
    /// declaration has (`lists.contains("blocked_ip", ...)` for
    /// `blocked_ips`): such a list holds only what the admin API adds, so a
    /// typo would silently never match. Declaring the list, even empty,
    /// answers the warning.
    static func checkListReads(code: [String: [Substring]], declarations: [RuleDeclaration], problems: inout [RuleProblem]) {
        let declared = Set(declarations.filter { $0.kind == .list }.map(\.name))
        for (file, line, name) in names(readBy: [#/(?:lists\.contains|in_list)\(\s*["']([^"']+)["']/#], onLinesWith: ["lists.contains", "in_list"],
                                             in: code)
        where !declared.contains(name) {
            problems.append(RuleProblem(.warning, file: file, line: line,
                                        "reads list \"\(name)\", which no file declares: it holds only what the admin API adds "
                                        + "(declare it, even empty, with list \"\(name)\" {})"
                                        + NameSuggestion.hint(for: name, among: declared, quote: "\"")))
        }
    }

    /// Warns where a rule reads a counter by a literal name (`ctx:count("orders_per_card", ...)`,
    /// `ctx:distinct(...)`) that no counter declares, so it always answers 0; reads distinct
    /// values of a plain counter, which keeps none; or asks for a longer window than the
    /// counter keeps its hits, so it counts less than it says.
    static func checkCounterReads(code: [String: [Substring]], declarations: [RuleDeclaration], problems: inout [RuleProblem]) {
        var counters: [String: RuleDeclaration] = [:]
        for d in declarations where d.kind == .counter || d.kind == .distinctCounter { counters[d.name] = d }
        // Built once: a regex literal is compiled each time it is evaluated, and
        // this runs on every rule set load, once per shard.
        let read = #/:(count|distinct)\(\s*["']([^"']+)["']([^)]*)\)/#
        let lastArgument = #/,\s*["']([^"']+)["']\s*$/#
        for (file, lines) in code.sorted(by: { $0.key < $1.key }) {
            for (index, code) in lines.enumerated() where code.contains(":count(") || code.contains(":distinct(") {
                for match in code.matches(of: read) {
                    let (method, name) = (String(match.1), String(match.2))
                    var warning: String?
                    if let counter = counters[name] {
                        let kept = counter.counterWindow
                        let keptText = counter.fields["window"].map { $0.stringValue ?? $0.display } ?? "30d (the default)"
                        if method == "distinct" && counter.kind == .counter {
                            warning = "reads distinct values of counter \"\(name)\", which keeps none: it always answers 0 "
                                + "(declare it as a distinct_counter with a 'value')"
                        } else if let asked = match.3.firstMatch(of: lastArgument)?.1,
                                  let window = DurationText.milliseconds(String(asked)), window > kept {
                            warning = "asks counter \"\(name)\" for \(asked), but it keeps hits for \(keptText) (its window): "
                                + "it counts at most that"
                        }
                    } else {
                        warning = "reads counter \"\(name)\", which no file declares: it always answers 0"
                            + NameSuggestion.hint(for: name, among: counters.keys, quote: "\"")
                    }
                    if let warning { problems.append(RuleProblem(.warning, file: file, line: index + 1, warning)) }
                }
            }
        }
    }

    /// Warns where a rule reads a segment by a literal name that no `segment`
    /// declaration has (`c:in_segment("golld")`, `c.segments.Gold`,
    /// `e.properties.segment == "silvr"`): a typo would silently never match.
    static func checkSegmentReads(code: [String: [Substring]], declarations: [RuleDeclaration], problems: inout [RuleProblem]) {
        let declared = Set(declarations.filter { $0.kind == .segment }.map(\.name))
        let reads = [#/in_segment\(\s*["']([^"']+)["']/#, #/segments\.([A-Za-z_][A-Za-z0-9_]*)/#,
                     #/segments\[\s*["']([^"']+)["']\s*\]/#, #/properties\.segment\s*[=~]=\s*["']([^"']+)["']/#]
        for (file, line, name) in names(readBy: reads, onLinesWith: ["segment"], in: code) where !declared.contains(name) {
            problems.append(RuleProblem(.warning, file: file, line: line,
                                        "reads segment \"\(name)\", which no file declares: no customer is ever in it"
                                        + NameSuggestion.hint(for: name, among: declared, quote: "\"")))
        }
    }

    /// The names the `reads` patterns capture in the rule files, outside
    /// `--` comments: each once per line, by file and line. Only lines with
    /// one of `hints` in them are matched (a regex match costs microseconds a line).
    private static func names(readBy reads: [Regex<(Substring, Substring)>], onLinesWith hints: [String],
                              in code: [String: [Substring]]) -> [(file: String, line: Int, name: String)] {
        var found: [(file: String, line: Int, name: String)] = []
        for (file, lines) in code.sorted(by: { $0.key < $1.key }) {
            for (index, code) in lines.enumerated() where hints.contains(where: { code.contains($0) }) {
                var named: [String] = []
                for read in reads {
                    for match in code.matches(of: read) where !named.contains(String(match.1)) { named.append(String(match.1)) }
                }
                found += named.map { (file, index + 1, $0) }
            }
        }
        return found
    }

    /// What is wrong with a promotion's `limit` or a counter's `window`, if
    /// anything: a limit the engine could not read would
    /// silently not apply (`cooldown = "1 week"` would let a promotion fire
    /// on every event).
    static func limitsProblem(_ d: RuleDeclaration) -> String? {
        func shown(_ value: LuaValue) -> String {
            if case .string(let text) = value { return "\"\(text)\"" }
            return value.display
        }
        switch d.kind {
        case .promotion:
            // (That `limit` is a table and `holdout` a number, the declaration's field types already say.)
            guard case .table(let fields)? = d.fields["limit"] else { return nil }
            for (key, value) in fields.sorted(by: { $0.key.display < $1.key.display }) {
                switch key.stringValue {
                case "per_customer", "per_day":
                    if value.doubleValue == nil { return "limit.\(key.display) must be a number, not \(shown(value))" }
                case "cooldown":
                    if ScheduleTiming.milliseconds(value) == nil {
                        return "limit.cooldown must be a duration like \"7d\" or \"12h\", not \(shown(value))"
                    }
                default:
                    return "unknown limit '\(key.display)' (per_customer, per_day, cooldown)"
                }
            }
        case .counter, .distinctCounter:
            if let window = d.fields["window"], ScheduleTiming.milliseconds(window) == nil {
                return "window must be a duration like \"1d\", not \(shown(window))"
            }
        default:
            break
        }
        return nil
    }

    /// What is wrong with a schedule's timing or work, if anything.
    static func scheduleProblem(_ d: RuleDeclaration) -> String? {
        let every = d.fields["every"], at = d.string("at")
        if (every == nil) == (at == nil) { return "give either every = \"1h\" or at = \"08:00\"" }
        if let every, ScheduleTiming.milliseconds(every) == nil {
            return "every must be a duration like \"1h\", not \(every.display)"
        }
        if let at, ScheduleTiming.minuteOfDay(at) == nil { return "at must be a time of day like \"08:00\", not \"\(at)\"" }
        if let zone = d.string("timezone"), TimeZone(identifier: zone) == nil { return "unknown timezone \"\(zone)\"" }
        if d.functions["run"] == nil && d.string("sweep") == nil { return "needs run = function(ctx, act) ... end or sweep = \"segments\"" }
        if let sweep = d.string("sweep"), sweep != "segments" { return "sweep can only be \"segments\", not \"\(sweep)\"" }
        return nil
    }
}
