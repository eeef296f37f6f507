import Foundation

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
                                            "\(label) listens to '\(name)', which is not a known event name"))
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
        return kept
    }

    /// Warns where a rule reads a list by a literal name that no `list`
    /// declaration has (`lists.contains("blocked_ip", ...)` for
    /// `blocked_ips`): such a list holds only what the admin API adds, so a
    /// typo would silently never match. Declaring the list, even empty,
    /// answers the warning.
    static func checkListReads(sources: [String: String], declarations: [RuleDeclaration], problems: inout [RuleProblem]) {
        let declared = Set(declarations.filter { $0.kind == .list }.map(\.name))
        let read = #/(?:lists\.contains|in_list)\(\s*["']([^"']+)["']/#
        for (file, source) in sources.sorted(by: { $0.key < $1.key }) {
            for (index, line) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.range(of: "--").map { line[..<$0.lowerBound] } ?? line[...]
                for match in code.matches(of: read) where !declared.contains(String(match.1)) {
                    problems.append(RuleProblem(.warning, file: file, line: index + 1,
                                                "reads list \"\(match.1)\", which no file declares: it holds only what the admin API adds "
                                                + "(declare it, even empty, with list \"\(match.1)\" {})"))
                }
            }
        }
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
