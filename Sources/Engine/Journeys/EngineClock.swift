import Foundation
import LuaKit
import Store

/// How ``Engine/advance(to:missedRuns:)`` treats a schedule more than one run behind.
public enum MissedScheduleRuns: Sendable {
    /// Every due time runs, in order: event time is the truth (replays,
    /// backtests, the server's clock as it ticks).
    case each
    /// A schedule that missed several due times runs once, for the latest;
    /// the runs skipped are logged. `crescent serve` starting after a stop:
    /// an hourly check does not run once for every hour the server was down.
    case latest
}

/// Virtual time: the engine's clock moves with event time (or when told
/// to), and everything due by then runs first, in time order: journey
/// timers and schedules. Nothing reads the wall clock here, so a replay
/// or a test runs a week of journeys in milliseconds.
extension Engine {
    /// Fires every journey timer and schedule due at or before `time`, each
    /// at its own due time. Call it before processing an event at `time`.
    public func advance(to time: Int64) throws { try advance(to: time, missedRuns: .each) }

    /// Fires every journey timer due at or before `time`, each at its own
    /// due time, and the schedules due as `missedRuns` says.
    public func advance(to time: Int64, missedRuns: MissedScheduleRuns) throws {
        if state.clock == 0 { startSchedules(at: time) }
        if missedRuns == .each, time - state.clock > Self.longMove {
            // A move this long (a timestamp centuries ahead in a replay) could owe a schedule millions of runs.
            skipMissedRuns(upTo: time, beyond: Self.mostRunsPerMove)
        }
        if missedRuns == .latest {
            skipMissedRuns(upTo: time)
            if let slice = options.timerSlice, slice > 0 { deferOverdueTimers(upTo: time) }
        }
        // Most events: nothing is due yet (a stale timer entry first in the queue takes the long way).
        if earliestSchedule() > time, (state.journeys.timers.first?.at ?? .max) > time {
            state.clock = max(state.clock, time)
            state.now = time
            return
        }
        while true {
            let timer = nextTimer()
            let schedule = nextSchedule()
            let due = [timer?.at, schedule?.at].compactMap { $0 }.min()
            guard let due, due <= time else { break }
            if let timer, timer.at == due {
                // Timers due before the next schedule run in one go, their customers loaded in bulk.
                try fireRun(upTo: min(time, schedule?.at ?? .max))
            } else if let schedule {
                state.now = due
                try runSchedule(schedule.definition, at: due)
            }
        }
        state.clock = max(state.clock, time)
        state.now = time
    }

    /// Fires due timers (at or before `limit`) in time order, up to 512 at a
    /// time, after loading the customers they need in one bulk read. A timer
    /// that one of them sets earlier than the rest of the run goes first.
    private func fireRun(upTo limit: Int64) throws {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { clockWork.timerSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        var run: [(at: Int64, instance: JourneyInstance)] = []
        while run.count < 512, let next = nextTimer(), next.at <= limit {
            _ = state.journeys.timers.popFirst()
            run.append(next)
        }
        try warm(run.map(\.instance.row.customerId), full: false)
        for (index, entry) in run.enumerated() {
            if let top = nextTimer(), top.at < entry.at || (top.at == entry.at && top.instance.id < entry.instance.id) {
                for rest in run[index...] { state.journeys.timers.insert(at: rest.at, id: rest.instance.id) }
                return
            }
            guard entry.instance.isActive, entry.instance.row.wakeAt == entry.at else { continue }
            state.now = entry.at
            try fire(entry.instance)
        }
    }

    /// Loads the customers among `ids` that are not in memory (or, for a
    /// full load, not complete), in bulk.
    func warm(_ ids: [String], full: Bool = true) throws {
        guard !state.freshStore else { return }
        let missing = Array(Set(ids.filter { id in state.customers[id].map { full && !$0.complete } ?? true }))
        guard !missing.isEmpty else { return }
        let loaded = try CustomerState.loadMany(missing, from: store, full: full)
        for id in missing {
            let customer = loaded[id] ?? CustomerState(row: CustomerRow(id: id))
            if let cached = state.customers[id], !cached.complete, full {
                cached.fill(fromLoaded: customer)
                state.invalidateSegments(of: cached)
            } else {
                customer.lastUsedBatch = state.batchNumber
                state.customers[id] = customer
                // Loaded for a timer only, the answers stored for them hold as long as they did in the store.
                state.segmentWatch.watch(customer, at: full ? .min : customer.storedAnswersExpire(version: rules.version))
            }
        }
    }

    /// The earliest live timer (stale heap entries are dropped on the way).
    private func nextTimer() -> (at: Int64, instance: JourneyInstance)? {
        while let entry = state.journeys.timers.first {
            if let instance = state.journeys.instances[entry.id], instance.row.wakeAt == entry.at {
                return (entry.at, instance)
            }
            _ = state.journeys.timers.popFirst()
        }
        return nil
    }

    private func earliestSchedule() -> Int64 {
        if let known = state.earliestScheduleDue { return known }
        let earliest = nextSchedule()?.at ?? .max
        state.earliestScheduleDue = earliest
        return earliest
    }

    private func nextSchedule() -> (at: Int64, definition: ScheduleDefinition)? {
        var best: (Int64, ScheduleDefinition)?
        for schedule in schedules where runsHere(schedule) {
            guard let due = state.scheduleDue[schedule.name] else { continue }
            if best == nil || due < best!.0 { best = (due, schedule) }
        }
        return best
    }

    /// The most runs one move of the clock gives a schedule under
    /// ``MissedScheduleRuns/each`` (eleven years of an hourly one): past
    /// that, it runs once, for the latest due time, and the log says so.
    static let mostRunsPerMove = 100_000
    /// Moves shorter than this (a year) cannot reach ``mostRunsPerMove`` for
    /// any schedule that runs at most every few minutes; they skip the count.
    static let longMove: Int64 = 365 * 86_400_000

    /// Moves each schedule due more than once by `time` (more than
    /// `beyond` times, when given) to its latest due time, and logs the
    /// runs it skips.
    private func skipMissedRuns(upTo time: Int64, beyond: Int? = nil) {
        for schedule in schedules where runsHere(schedule) {
            guard let due = state.scheduleDue[schedule.name], due <= time else { continue }
            var latest = due, skipped = 0
            if let every = schedule.every, every > 0 {
                skipped = Int((time - due) / every)
                latest = due + Int64(skipped) * every
            } else if let beyond, (time - due) / 86_400_000 > Int64(beyond) {
                // A daily schedule that far behind: its latest due time is within the last two days.
                skipped = Int((time - due) / 86_400_000)
                latest = schedule.next(after: time - 2 * 86_400_000)
                while case let next = schedule.next(after: latest), next <= time { latest = next }
            } else {
                while case let next = schedule.next(after: latest), next <= time {
                    latest = next
                    skipped += 1
                }
            }
            guard skipped > (beyond ?? 0) else { continue }
            state.scheduleDue[schedule.name] = latest
            // Every shard skips a sweep's same due times: one of them counts and says so.
            guard shard == 0 else { continue }
            clockWork.scheduleRunsSkipped += skipped
            let plural = skipped == 1 ? "run" : "runs"
            let why = beyond == nil ? "missed while stopped" : "passed in one move of the clock (more than \(beyond!) at once)"
            state.log("schedule:\(schedule.name): \(skipped) \(plural) due from \(Timestamps.iso(due)) \(why); "
                + "it runs once, for \(Timestamps.iso(latest))")
        }
    }

    /// A `run` schedule executes on shard 0; a segment sweep on every shard (for its customers).
    private func runsHere(_ schedule: ScheduleDefinition) -> Bool { schedule.sweepsSegments || shard == 0 }

    /// Sets each schedule's next due time: after its last run, or after the first time the clock shows.
    private func startSchedules(at time: Int64) {
        for schedule in schedules {
            state.scheduleDue[schedule.name] = schedule.next(after: state.scheduleLastRun[schedule.name] ?? time)
        }
    }

    /// After a reload: schedules that kept their name keep their next due
    /// time; new ones start from the clock; removed ones are forgotten.
    func rescheduleAfterReload() {
        guard state.clock > 0 else { return } // not started: the first advance sets them all
        var due: [String: Int64] = [:]
        for schedule in schedules {
            due[schedule.name] = state.scheduleDue[schedule.name]
                ?? schedule.next(after: state.scheduleLastRun[schedule.name] ?? state.clock)
        }
        state.scheduleDue = due
    }

    private func runSchedule(_ schedule: ScheduleDefinition, at due: Int64) throws {
        let started = DispatchTime.now().uptimeNanoseconds
        defer {
            clockWork.schedulesRun += 1
            clockWork.scheduleSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        }
        state.scheduleDue[schedule.name] = schedule.next(after: due)
        if schedule.sweepsSegments {
            finishSweepInProgress()
            // A sweep that goes on in slices completes (and is recorded) with its last slice.
            if try startSweep(schedule, at: due) { return }
        }
        try complete(schedule, at: due)
    }

    /// Records a schedule's run at `due` and runs its `run` function.
    func complete(_ schedule: ScheduleDefinition, at due: Int64) throws {
        state.batch.scheduleRuns.append((schedule.name, shard, due))
        if let handle = schedule.run {
            let id = "schedule:\(schedule.name)"
            let seed = "\(id)@\(due)"
            do {
                let values = try rules.state.call(rules.scheduleCall, [.integer(handle), .string(LuaString(seed)),
                                                                       .string(LuaString(schedule.name))])
                var actions: [JSONValue] = []
                if case .array(let items)? = values.first { actions = items.map(JSONValue.init) }
                for (index, action) in actions.enumerated() {
                    state.batch.outbox.append(OutboxRow(
                        idempotencyKey: "\(seed):\(index)", messageId: seed, customerId: nil, rule: id,
                        action: action["action"]?.stringValue ?? "unknown", channel: action["channel"]?.stringValue,
                        payload: action.jsonText, createdAt: due))
                }
                stat(id) { $0.hits += 1; $0.consecutiveErrors = 0 }
            } catch {
                stat(id) {
                    $0.errors += 1
                    $0.consecutiveErrors += 1
                    $0.lastError = error.description
                }
                state.log("\(id) failed at \(Timestamps.iso(due)): \(error.description)")
            }
        }
        pendingEvents += 1
        if pendingEvents >= options.batchSize { try submitBatch() }
    }
}

/// Work the clock did besides events: journey timers, schedules, sweeps.
public struct ClockWork: Sendable, Codable, Equatable {
    public var timersFired = 0
    public var timerSeconds = 0.0
    public var schedulesRun = 0
    public var customersSwept = 0
    /// Customers a sweep skipped: nothing their segments read changed and
    /// every answer still held at the sweep's time (or, merged into another
    /// customer, they had nothing to run).
    public var customersUnchanged = 0
    /// Seconds spent in schedules (sweeps included).
    public var scheduleSeconds = 0.0
    /// Due times skipped by ``MissedScheduleRuns/latest`` (a server starting after a stop).
    public var scheduleRunsSkipped = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case timersFired = "timers_fired", timerSeconds = "timer_seconds", schedulesRun = "schedules_run"
        case customersSwept = "customers_swept", customersUnchanged = "customers_unchanged"
        case scheduleSeconds = "schedule_seconds", scheduleRunsSkipped = "schedule_runs_skipped"
    }

    static func + (a: ClockWork, b: ClockWork) -> ClockWork {
        var sum = a
        sum.timersFired += b.timersFired
        sum.timerSeconds += b.timerSeconds
        sum.schedulesRun += b.schedulesRun
        sum.customersSwept += b.customersSwept
        sum.customersUnchanged += b.customersUnchanged
        sum.scheduleSeconds += b.scheduleSeconds
        sum.scheduleRunsSkipped += b.scheduleRunsSkipped
        return sum
    }
}
