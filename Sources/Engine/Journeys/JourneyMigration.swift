import Foundation
import Store

/// What loading a rule set did to one journey's instances that an earlier
/// version left in flight (a live edit).
public struct JourneyMigration: Sendable, Equatable, Codable, CustomStringConvertible {
    public var journey: String
    /// Still on a step of the same name (the step list changed around it).
    public var migrated = 0
    /// Their step was removed: moved to the next step that survived.
    public var moved = 0
    /// Ended: the journey was removed, or no later step survived.
    public var ended = 0
    /// Left waiting untouched: the journey is missing while the rule set has
    /// load errors (its file may be the broken one); a later good version takes them over.
    public var kept = 0

    public init(journey: String) { self.journey = journey }

    public var description: String {
        if kept > 0 {
            return "journey \(journey): \(kept) instances kept waiting, not run: the journey is missing and the rules have errors"
        }
        return "journey \(journey): \(migrated) migrated, \(moved) moved to the next surviving step, \(ended) ended"
    }

    static func merged(_ all: [JourneyMigration]) -> [JourneyMigration] {
        var byName: [String: JourneyMigration] = [:]
        for m in all {
            var total = byName[m.journey] ?? JourneyMigration(journey: m.journey)
            total.migrated += m.migrated
            total.moved += m.moved
            total.ended += m.ended
            total.kept += m.kept
            byName[m.journey] = total
        }
        return byName.values.sorted { $0.journey < $1.journey }
    }
}

extension Engine {
    /// Active journey instances held by this engine.
    public func journeyInstanceCount() -> Int { state.journeys.activeCount }

    /// Problems of the journey, schedule and messaging declarations (what
    /// `crescent check` adds to the rule runtime's own).
    public static func automationProblems(_ declarations: [RuleDeclaration]) -> [RuleProblem] {
        automation(declarations).problems
    }

    /// Builds the journey, schedule and messaging definitions; a bad one is
    /// a problem (`file:line: message`) and is left out.
    static func automation(_ declarations: [RuleDeclaration])
        -> (journeys: [JourneyDefinition], schedules: [ScheduleDefinition], messaging: MessagingPolicy, problems: [RuleProblem]) {
        var problems: [RuleProblem] = []
        var messaging = MessagingPolicy()
        if let d = declarations.first(where: { $0.kind == .messaging }) {
            do { messaging = try MessagingPolicy(d) } catch {
                problems.append(RuleProblem(.error, file: d.file, line: d.line, "messaging: \(error.message)"))
            }
        }
        var journeys: [JourneyDefinition] = []
        for d in declarations where d.kind == .journey {
            do {
                let journey = try JourneyDefinition(d, index: journeys.count)
                journeys.append(journey)
            } catch {
                problems.append(RuleProblem(.error, file: d.file, line: d.line, "journey \"\(d.name)\": \(error.message)"))
            }
        }
        let schedules = declarations.filter { $0.kind == .schedule }.map { ScheduleDefinition($0, defaultZone: messaging.timezone) }
        return (journeys, schedules, messaging, problems)
    }

    /// Loads this shard's active instances and schedule runs from the store.
    /// Instances left by another rule set version are mapped onto the
    /// current definitions by step name; what happened is in ``journeyMigrations``.
    func loadJourneys(owns: (String) -> Bool) throws {
        let version = rules.version
        for def in journeyByName.values.sorted(by: { $0.name < $1.name }) {
            state.batch.journeyDefinitions.append((version, def.name, def.stepList))
        }
        state.shared.registerJourneyIds(try store.maxJourneyInstanceId())
        state.scheduleLastRun = try store.scheduleRuns(shard: shard)
        guard !state.freshStore else { return }
        try adopt(try store.activeJourneyInstances().filter { owns($0.customerId) }.map { JourneyInstance(row: $0) })
    }

    /// Maps instances made under any rule set version onto the current
    /// definitions (at load, and when a reload swaps the rule set in).
    func adopt(_ instances: [JourneyInstance]) throws {
        let version = rules.version
        var report: [String: JourneyMigration] = [:]
        var oldSteps: [String: [String]?] = [:]
        let rulesHaveErrors = problems.contains { $0.severity == .error }
        for instance in instances {
            let row = instance.row
            if row.rulesetVersion == version {
                state.journeys.add(instance)
                continue
            }
            if journeyByName[row.journey] == nil && rulesHaveErrors {
                report[row.journey, default: JourneyMigration(journey: row.journey)].kept += 1
                continue // a broken file must not end the instances of the journey it declared
            }
            let cacheKey = row.rulesetVersion + "/" + row.journey
            if oldSteps[cacheKey] == nil {
                oldSteps[cacheKey] = .some(try store.journeySteps(version: row.rulesetVersion, journey: row.journey))
            }
            let previous = oldSteps[cacheKey] ?? nil
            if let def = journeyByName[row.journey], let previous, previous == def.steps.map(\.name) {
                // The journey's steps did not change: its position still means the same step, so
                // the row keeps the version it names (an edit elsewhere rewrites no instance).
                state.journeys.add(instance)
                continue
            }
            var entry = report[row.journey] ?? JourneyMigration(journey: row.journey)
            instance.row.rulesetVersion = version
            defer {
                report[row.journey] = entry
                state.batch.journeyInstances[instance.id] = instance.row
            }
            guard let def = journeyByName[row.journey] else {
                end(instance, reason: "journey removed in rule set \(version)")
                entry.ended += 1
                continue
            }
            if let position = def.positions[row.step] {
                let step = def.steps[position]
                instance.row.position = position
                if step.kind != .wait && !(step.kind == .waitUntil && row.waitingFor != nil) {
                    instance.row.resume = true // now another kind of step: run it when the wait ends
                }
                if step.kind == .waitUntil, row.waitingFor != nil { instance.row.waitingFor = step.event }
                instance.row.note = "live edit: kept at step \(row.step)"
                entry.migrated += 1
                state.journeys.add(instance)
                continue
            }
            // The step is gone: continue at the first later step that survived.
            let later = previous.map { names in Array(names.drop { $0 != row.step }.dropFirst()) } ?? []
            guard let next = later.first(where: { def.positions[$0] != nil }), let position = def.positions[next] else {
                end(instance, reason: "step \(row.step) removed in rule set \(version), no later step survived")
                entry.ended += 1
                continue
            }
            instance.row.position = position
            instance.row.step = next
            instance.row.resume = true
            instance.row.waitingFor = nil
            if instance.row.wakeAt == nil { instance.row.wakeAt = state.shared.startTime }
            instance.row.note = "live edit: step \(row.step) removed, continues at \(next)"
            entry.moved += 1
            state.journeys.add(instance)
        }
        journeyMigrations = report.values.sorted { $0.journey < $1.journey }
        for migration in journeyMigrations { state.log(migration.description) }
    }

    private func end(_ instance: JourneyInstance, reason: String) {
        instance.row.status = "exited"
        instance.row.exitReason = reason
        instance.row.wakeAt = nil
        instance.row.waitingFor = nil
    }
}
