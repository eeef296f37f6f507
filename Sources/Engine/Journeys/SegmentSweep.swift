import Foundation
import Store

/// A segment sweep going on in slices between the shard's other work (see
/// ``EngineOptions/sweepSlice``): the customers it looks at, in id order,
/// and how far it got.
struct SweepInProgress {
    let schedule: String
    let due: Int64
    let ids: [String]
    var next = 0
    /// When it started (uptime nanoseconds), for the log line at its end.
    let started = DispatchTime.now().uptimeNanoseconds

    var waiting: Int { ids.count - next }
}

/// The segment sweep (`schedule { sweep = "segments" }`): every customer
/// this shard owns whose segment answers may have changed is evaluated
/// again, so time-based segments ("no order in 90 days") change without
/// an event; entries and exits run promotions and journeys like any other.
extension Engine {
    /// Starts the sweep due at `due`. Returns true when it goes on in slices
    /// (``runSweepSlice()``); false when it ran whole, here.
    func startSweep(_ schedule: ScheduleDefinition, at due: Int64) throws -> Bool {
        let ids = try sweepCandidates(at: due)
        if let slice = options.sweepSlice, slice > 0, ids.count > slice {
            state.sweep = SweepInProgress(schedule: schedule.name, due: due, ids: ids)
            state.log("schedule:\(schedule.name): sweeping \(ids.count) customers in slices of \(slice), between other work")
            return true
        }
        try sweep(ids[...], schedule: schedule.name, due: due, at: due)
        return false
    }

    /// Customers that a sweep going on in slices has yet to evaluate.
    public var sweepWaiting: Int { state.sweep?.waiting ?? 0 }

    /// Evaluates the next slice of the sweep going on, at the clock's time
    /// (events that came in meanwhile moved it on); the last slice records
    /// the schedule's run. A failure ends the sweep and is logged: its run
    /// is not recorded, so it is due again after a restart.
    public func runSweepSlice() {
        guard var sweep = state.sweep else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        defer { clockWork.scheduleSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        let end = min(sweep.ids.count, sweep.next + max(1, options.sweepSlice ?? sweep.ids.count))
        let time = max(sweep.due, state.now)
        state.now = time
        do {
            try self.sweep(sweep.ids[sweep.next..<end], schedule: sweep.schedule, due: sweep.due, at: time)
            sweep.next = end
            guard sweep.waiting == 0 else {
                state.sweep = sweep
                return
            }
            state.sweep = nil
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - sweep.started) / 1e9
            state.log("schedule:\(sweep.schedule): swept \(sweep.ids.count) customers in " + String(format: "%.1f s", seconds))
            // A schedule removed by a reload meanwhile has nothing left to record.
            if let definition = schedules.first(where: { $0.name == sweep.schedule }) { try complete(definition, at: sweep.due) }
        } catch {
            state.sweep = nil
            state.log("schedule:\(sweep.schedule): the sweep due \(Timestamps.iso(sweep.due)) stopped after "
                + "\(sweep.next) of \(sweep.ids.count) customers: \(error)")
        }
    }

    /// Runs what is left of a sweep going on in slices, now (a next sweep
    /// is due before it ended).
    func finishSweepInProgress() {
        while state.sweep != nil { runSweepSlice() }
    }

    /// The customers a sweep at `due` looks at, in id order. Customers in
    /// memory whose every segment answer still holds (nothing they read
    /// changed, no window moved by `due`) are left out; the rest, and those
    /// only in the store, are in. Only the customers the watch names are
    /// looked at, unless the rules changed since the last sweep (then every
    /// one is).
    private func sweepCandidates(at due: Int64) throws -> [String] {
        var ids: [String] = []
        let reuse = options.reuseSegmentResults, epoch = rulesEpoch
        if !reuse || state.segmentWatchEpoch != epoch {
            state.segmentWatchEpoch = epoch
            for (id, customer) in state.customers where !keepsAnswers(customer, at: due, epoch: epoch) { ids.append(id) }
        } else {
            let named = state.segmentWatch.due(by: due)
            for id in named {
                guard let customer = state.customers[id] else { continue } // evicted: in the store
                customer.watchedFrom = .max // its entries up to now are gone
                if !keepsAnswers(customer, at: due, epoch: epoch) { ids.append(id) }
            }
            // The customers the watch did not name keep their answers unread.
            clockWork.customersUnchanged += max(0, state.customers.count - named.count)
        }
        if !state.freshStore {
            // Those only in the store: skipped while the answers last written for them hold.
            for (id, holds) in try store.customersForSweep(version: rules.version, at: due)
            where sweepOwns(id) && state.customers[id] == nil {
                if holds && reuse { clockWork.customersUnchanged += 1 } else { ids.append(id) }
            }
        }
        return ids.sorted()
    }

    /// Evaluates the segments of `ids` at `time`, loading them 512 at a time.
    private func sweep(_ ids: ArraySlice<String>, schedule: String, due: Int64, at time: Int64) throws {
        var index = ids.startIndex
        while index < ids.endIndex {
            let chunk = ids[index..<min(ids.endIndex, index + 512)]
            index = chunk.endIndex
            try warm(Array(chunk))
            for id in chunk {
                let customer = try state.customer(id)
                guard customer.row.mergedInto == nil, customer.row.firstSeen != nil else { continue }
                let event = Event(messageId: "sweep:\(schedule):\(due):\(id)", kind: .track, name: "Segment Sweep",
                                  userId: id, timestamp: time, isInternal: true)
                var run = EvaluationRun(event: event, customer: customer, order: nil)
                try evaluate(&run, segmentsOnly: true)
                state.dirty.insert(id) // the row keeps until when the new answers hold
                clockWork.customersSwept += 1
                pendingEvents += 1
                if pendingEvents >= options.batchSize { try submitBatch() }
            }
        }
    }

    /// True (and counted) when a customer's segment answers all hold at `time`;
    /// the watch then looks at it again when they stop holding.
    private func keepsAnswers(_ customer: CustomerState, at time: Int64, epoch: Int) -> Bool {
        guard options.reuseSegmentResults, customer.row.mergedInto == nil else { return false }
        if !customer.complete {
            // Loaded for a journey timer only: the answers stored for them, as if only in the store.
            guard customer.storedAnswersHold(at: time, version: rules.version) else { return false }
            clockWork.customersUnchanged += 1
            state.segmentWatch.watch(customer, at: customer.storedAnswersExpire(version: rules.version))
            return true
        }
        guard customer.segmentsHold(at: time, epoch: epoch) else { return false }
        clockWork.customersUnchanged += 1
        state.segmentWatch.watch(customer, at: customer.segmentsHoldUntil)
        return true
    }
}
