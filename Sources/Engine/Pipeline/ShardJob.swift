import Foundation

/// One routed event waiting for its shard.
struct ShardJob: @unchecked Sendable {
    let event: Event
    let route: Route
    /// The merged customer's state, coming from another shard.
    let adopted: CustomerHandOver?
    /// Complete once the event is committed rather than once it is processed.
    let afterCommit: Bool
    let completion: @Sendable (Result<EventOutcome, any Error>) -> Void

    /// Processes routed events on their shard's thread, in order.
    static func run(_ run: [ShardJob], on engine: Engine) {
        for job in run {
            let adopted = job.adopted?.receive()
            if let adopted, let owner = job.route.mergeFrom {
                adopted.addPending(to: &engine.state.batch)
                for order in adopted.orders { engine.state.orders[order.id] = order }
                for (promotion, times) in adopted.fires { engine.state.fires[owner, default: [:]][promotion] = times }
                for instance in adopted.instances { engine.state.journeys.add(instance) }
            }
            let result = Result { try engine.process(job.event, route: job.route, adopted: adopted?.customer) }
            guard job.afterCommit, case .success = result else {
                job.completion(result)
                continue
            }
            engine.whenCommitted { committed in job.completion(committed.flatMap { result }) }
        }
    }

    /// The queued events `urgent` must not overtake: those of its customer and
    /// of every identity merged or linked into that customer by them, and
    /// those (of any customer) carrying its card fingerprint or client IP, the
    /// keys fraud velocity counts by, with their customers' earlier events.
    ///
    /// Takes those events out of `runs` (queued runs, oldest first) and
    /// returns them in their order. Takes nothing when one of them waits for
    /// a customer handed over by another shard: moving it would reorder the
    /// hand-overs between shards, so the urgent event then goes first alone.
    static func takeEarlier(of urgent: ShardJob, from runs: inout [[ShardJob]]) -> [ShardJob] {
        var customers: Set<String> = [urgent.route.customerId]
        if let merged = urgent.route.mergeFrom { customers.insert(merged) }
        let card = urgent.event.properties["card_fingerprint"]?.stringValue, ip = urgent.event.context["ip"]?.stringValue
        func sharesAKey(_ event: Event) -> Bool {
            (card != nil && event.properties["card_fingerprint"]?.stringValue == card)
                || (ip != nil && event.context["ip"]?.stringValue == ip)
        }
        var taken: [(run: Int, index: Int)] = []
        // Newest first, so that an identify seen late adds the anonymous
        // history it merges in before its earlier events are looked at.
        for r in runs.indices.reversed() {
            for i in runs[r].indices.reversed() {
                let route = runs[r][i].route
                if !customers.contains(route.customerId) {
                    guard (card != nil || ip != nil) && sharesAKey(runs[r][i].event) else { continue }
                    customers.insert(route.customerId)
                }
                if runs[r][i].adopted != nil { return [] }
                taken.append((r, i))
                if let merged = route.mergeFrom { customers.insert(merged) }
                if let linked = route.link { customers.insert(linked) }
            }
        }
        var earlier: [ShardJob] = []
        earlier.reserveCapacity(taken.count)
        for (r, i) in taken.reversed() { earlier.append(runs[r][i]) }
        // Indexes were collected newest first, so removing in that order keeps the rest valid.
        for (r, i) in taken { runs[r].remove(at: i) }
        return earlier
    }
}
