import Foundation
import Store

/// Journey timers that fell due while the engine was stopped, set aside by
/// a catch-up (``MissedScheduleRuns/latest``) to fire in slices between the
/// shard's other work (``EngineOptions/timerSlice``), in time order. A
/// customer's own overdue timers fire before their next event.
struct OverdueTimers {
    /// The catch-up's time: every timer due by then was set aside here.
    var until: Int64
    /// Due times in order; an entry whose instance moved on since is skipped.
    var entries: [TimerQueue<Int64>.Entry]
    var next = 0
    /// When the catch-up set them aside (uptime nanoseconds), for the log line at the end.
    let started = DispatchTime.now().uptimeNanoseconds

    var waiting: Int { entries.count - next }
}

extension Engine {
    /// Journey timers a catch-up set aside that have yet to fire (some may
    /// have fired already, before their customer's event).
    public var timersOverdue: Int { state.overdueTimers?.waiting ?? 0 }

    /// What a catch-up left to run in slices: overdue timers and a sweep's customers.
    public var catchUpWaiting: Int { timersOverdue + sweepWaiting }

    /// Runs the next slice of what a catch-up left: overdue timers first
    /// (they were due before any sweep), then the sweep's customers.
    public func runCatchUpSlice() {
        if state.overdueTimers != nil { runTimerSlice() } else { runSweepSlice() }
    }

    /// Sets aside every timer due by `time` to fire in slices. With timers
    /// still set aside from an earlier catch-up, the two lists merge.
    func deferOverdueTimers(upTo time: Int64) {
        var entries: [TimerQueue<Int64>.Entry] = []
        while let entry = state.journeys.timers.first, entry.at <= time {
            _ = state.journeys.timers.popFirst()
            entries.append(entry)
        }
        if var overdue = state.overdueTimers {
            // A reload re-armed the instances it kept: their entries come back here.
            let merged = (overdue.entries[overdue.next...] + entries).sorted()
            overdue.entries = merged.enumerated().filter { $0.offset == 0 || merged[$0.offset - 1] != $0.element }.map(\.element)
            overdue.next = 0
            overdue.until = max(overdue.until, time)
            state.overdueTimers = overdue
            return
        }
        guard !entries.isEmpty else { return }
        state.overdueTimers = OverdueTimers(until: time, entries: entries)
        state.log("journeys: \(entries.count) timers due while stopped fire in slices of "
            + "\(options.timerSlice ?? entries.count), between other work")
    }

    /// Fires the next slice of overdue timers, each at its own due time,
    /// after loading their customers in one bulk read. A failure puts the
    /// rest back on the clock (its next move fires them, or fails again)
    /// and is logged.
    public func runTimerSlice() {
        guard var overdue = state.overdueTimers else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        defer {
            clockWork.timerSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            state.now = state.clock
        }
        let end = min(overdue.entries.count, overdue.next + max(1, options.timerSlice ?? overdue.entries.count))
        do {
            let due = overdue.entries[overdue.next..<end].compactMap { entry -> (at: Int64, instance: JourneyInstance)? in
                guard let instance = state.journeys.instances[entry.id], instance.isActive, instance.row.wakeAt == entry.at
                else { return nil }
                return (entry.at, instance)
            }
            try warm(due.map(\.instance.row.customerId), full: false)
            for (at, instance) in due where instance.isActive && instance.row.wakeAt == at {
                state.now = at
                try fire(instance)
            }
            overdue.next = end
        } catch {
            for entry in overdue.entries[overdue.next...] { state.journeys.timers.insert(at: entry.at, id: entry.id) }
            state.overdueTimers = nil
            state.log("journeys: firing the timers due while stopped failed after \(overdue.next) of "
                + "\(overdue.entries.count): \(error); the rest fire with the clock's next move")
            return
        }
        guard overdue.waiting == 0 else {
            state.overdueTimers = overdue
            return
        }
        state.overdueTimers = nil
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - overdue.started) / 1e9
        state.log("journeys: the \(overdue.entries.count) timers due while stopped have fired, in " + String(format: "%.1f s", seconds))
    }

    /// Fires the overdue timers of the customers an event is about to
    /// touch, in time order, so the event finds their journeys where a
    /// catch-up all at once would have left them.
    func fireOverdueTimers(of route: Route) throws {
        guard let until = state.overdueTimers?.until else { return }
        for id in [route.customerId, route.mergeFrom].compactMap({ $0 }) {
            // Each firing moves its instance on (or ends it); the bound is a guard, not a limit.
            for _ in 0..<1_000 {
                let due = state.journeys.active(id).filter { ($0.row.wakeAt ?? .max) <= until }
                guard let first = due.min(by: { ($0.row.wakeAt!, $0.id) < ($1.row.wakeAt!, $1.id) }) else { break }
                state.now = first.row.wakeAt!
                try fire(first)
            }
        }
        state.now = state.clock
    }
}
