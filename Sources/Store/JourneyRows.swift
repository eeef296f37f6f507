import GRDB

/// One journey instance as stored: where it is, what it waits for, and how
/// it ended. An active instance with `wakeAt` set is a durable timer.
public struct JourneyInstanceRow: Sendable, Equatable, Codable, FetchableRecord {
    public var id: Int64
    public var journey: String
    public var customerId: String
    /// The entity the instance is for (`key`), "" for one per customer.
    public var key: String
    /// `active`, `completed` or `exited`.
    public var status: String
    /// The current step's name and position.
    public var step: String
    public var position: Int
    /// When woken, run the current step itself (a deferred send, a moved
    /// instance) instead of finishing it (a wait).
    public var resume: Bool
    public var wakeAt: Int64?
    /// The event a `wait_until` waits for.
    public var waitingFor: String?
    public var enteredAt: Int64
    public var updatedAt: Int64
    public var converted: Bool
    public var exitReason: String?
    /// Why the instance waits now (a deferral), or what a live edit did.
    public var note: String?
    /// The rule set version whose step list `position` indexes: the one it
    /// entered under, or the live edit that last changed its journey's steps.
    public var rulesetVersion: String
    /// Steps run so far (part of the outbox idempotency keys).
    public var runs: Int
    /// JSON: the trigger's properties and values steps produced (coupon codes).
    public var vars: String

    public init(id: Int64, journey: String, customerId: String, key: String, step: String, position: Int,
                enteredAt: Int64, rulesetVersion: String, vars: String = "{}") {
        self.id = id
        self.journey = journey
        self.customerId = customerId
        self.key = key
        self.status = "active"
        self.step = step
        self.position = position
        self.resume = false
        self.enteredAt = enteredAt
        self.updatedAt = enteredAt
        self.converted = false
        self.rulesetVersion = rulesetVersion
        self.runs = 0
        self.vars = vars
    }

    enum CodingKeys: String, CodingKey {
        case id, journey, key, status, step, position, resume, converted, note, runs, vars
        case customerId = "customer_id", wakeAt = "wake_at", waitingFor = "waiting_for", enteredAt = "entered_at"
        case updatedAt = "updated_at", exitReason = "exit_reason", rulesetVersion = "ruleset_version"
    }
}

/// A journey step counter: how often `step` of `journey` saw `metric`
/// (`reached`, `sent`, `deferred`, `suppressed`, `error`).
public struct JourneyStepKey: Sendable, Hashable {
    public var journey: String
    public var step: String
    public var metric: String
    public init(_ journey: String, _ step: String, _ metric: String) {
        self.journey = journey
        self.step = step
        self.metric = metric
    }
}

/// One line of `crescent journeys`: a journey's step with its counts.
public struct JourneyStepReport: Sendable, Equatable, Codable {
    public var journey: String
    public var step: String
    /// Counts by metric: reached, sent, deferred, suppressed, error, and
    /// `waiting` (active instances at this step now).
    public var counts: [String: Int]
}

/// A journey's totals for `crescent journeys`.
public struct JourneyReport: Sendable, Equatable, Codable {
    public var journey: String
    public var entered = 0
    public var active = 0
    public var completed = 0
    public var converted = 0
    /// Ended instances by reason (completed, exit_on, goal, step removed, ...).
    public var exits: [String: Int] = [:]
    public var steps: [JourneyStepReport] = []
}

extension BatchWriter {
    func writeJourneys(_ batch: WriteBatch) throws {
        // An upsert, not a replace: a timer firing rewrites no index (the
        // indexed columns of an instance never change here; merges move
        // customer_id with their own UPDATE).
        if !batch.journeyInstances.isEmpty {
            let upsert = try RawStatement(db, """
                INSERT INTO journey_instances (id, journey, customer_id, key, status, step, position, resume, wake_at,
                    waiting_for, entered_at, updated_at, converted, exit_reason, note, ruleset_version, runs, vars)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET status = excluded.status, step = excluded.step,
                    position = excluded.position, resume = excluded.resume, wake_at = excluded.wake_at,
                    waiting_for = excluded.waiting_for, updated_at = excluded.updated_at, converted = excluded.converted,
                    exit_reason = excluded.exit_reason, note = excluded.note, ruleset_version = excluded.ruleset_version,
                    runs = excluded.runs, vars = excluded.vars
                """)
            // A stored instance moving on: a plain UPDATE of the columns that
            // change (no index among them), falling back to the upsert.
            let update = try RawStatement(db, """
                UPDATE journey_instances SET status = ?, step = ?, position = ?, resume = ?, wake_at = ?, waiting_for = ?,
                    updated_at = ?, converted = ?, exit_reason = ?, note = ?, ruleset_version = ?, runs = ?, vars = ?
                WHERE id = ?
                """)
            for row in batch.journeyInstances.values {
                if !batch.newJourneyInstances.contains(row.id) {
                    update.bind(1, row.status); update.bind(2, row.step); update.bind(3, row.position); update.bind(4, row.resume)
                    update.bind(5, row.wakeAt); update.bind(6, row.waitingFor); update.bind(7, row.updatedAt)
                    update.bind(8, row.converted); update.bind(9, row.exitReason); update.bind(10, row.note)
                    update.bind(11, row.rulesetVersion); update.bind(12, row.runs); update.bind(13, row.vars); update.bind(14, row.id)
                    try update.step()
                    if db.changesCount == 1 { continue }
                }
                upsert.bind(1, row.id); upsert.bind(2, row.journey); upsert.bind(3, owner(row.customerId)); upsert.bind(4, row.key)
                upsert.bind(5, row.status); upsert.bind(6, row.step); upsert.bind(7, row.position); upsert.bind(8, row.resume)
                upsert.bind(9, row.wakeAt); upsert.bind(10, row.waitingFor); upsert.bind(11, row.enteredAt)
                upsert.bind(12, row.updatedAt); upsert.bind(13, row.converted); upsert.bind(14, row.exitReason)
                upsert.bind(15, row.note); upsert.bind(16, row.rulesetVersion); upsert.bind(17, row.runs); upsert.bind(18, row.vars)
                try upsert.step()
            }
        }
        try run("""
            INSERT INTO journey_steps (journey, step, metric, count) VALUES (?, ?, ?, ?)
            ON CONFLICT(journey, step, metric) DO UPDATE SET count = count + excluded.count
            """, batch.journeyStepCounts.map { [$0.key.journey, $0.key.step, $0.key.metric, $0.value] })
        try run("INSERT OR IGNORE INTO journey_definitions (ruleset_version, journey, steps) VALUES (?, ?, ?)",
                batch.journeyDefinitions.map { [$0.version, $0.journey, $0.steps] })
        try run("INSERT OR REPLACE INTO schedule_runs (schedule, shard, last_run) VALUES (?, ?, ?)",
                batch.scheduleRuns.map { [$0.schedule, $0.shard, $0.at] })
    }
}

extension CrescentStore {
    /// Every active journey instance.
    public func activeJourneyInstances() throws -> [JourneyInstanceRow] {
        try read { db in
            try JourneyInstanceRow.fetchAll(db, sql: "SELECT * FROM journey_instances WHERE status = 'active' ORDER BY id")
        }
    }

    /// One journey instance by id.
    public func journeyInstance(id: Int64) throws -> JourneyInstanceRow? {
        try read { db in try JourneyInstanceRow.fetchOne(db, sql: "SELECT * FROM journey_instances WHERE id = ?", arguments: [id]) }
    }

    /// A customer's journey instances, newest first.
    public func journeyInstances(customerId: String) throws -> [JourneyInstanceRow] {
        try read { db in
            try JourneyInstanceRow.fetchAll(db, sql: "SELECT * FROM journey_instances WHERE customer_id = ? ORDER BY id DESC",
                                            arguments: [customerId])
        }
    }

    /// Every customer not merged into another, and whether their segment
    /// answers, as last written, still hold at `time` under the rule set `version`.
    public func customersForSweep(version: String, at time: Int64) throws -> [(id: String, holds: Bool)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, segments_version IS ? AND segments_hold_until > ? AS holds FROM customers WHERE merged_into IS NULL
                """, arguments: [version, time]).map { ($0["id"], $0["holds"]) }
        }
    }

    /// The highest instance id in use (0 when none).
    public func maxJourneyInstanceId() throws -> Int64 {
        try read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM journey_instances") ?? 0 }
    }

    /// When a customer last entered a journey for a key.
    public func lastJourneyEntry(journey: String, customerId: String, key: String) throws -> Int64? {
        try pointRead { db in
            try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT MAX(entered_at) FROM journey_instances WHERE journey = ? AND customer_id = ? AND key = ?
                """), arguments: [journey, customerId, key])
        }
    }

    /// The step names of a journey in a rule set, if recorded.
    public func journeySteps(version: String, journey: String) throws -> [String]? {
        try read { db in
            guard let text = try String.fetchOne(db, sql: """
                SELECT steps FROM journey_definitions WHERE ruleset_version = ? AND journey = ?
                """, arguments: [version, journey]) else { return nil }
            return text.split(separator: "\n").map(String.init)
        }
    }

    /// When each schedule last ran on a shard.
    public func scheduleRuns(shard: Int) throws -> [String: Int64] {
        try read { db in
            var runs: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT schedule, last_run FROM schedule_runs WHERE shard = ?", arguments: [shard]) {
                runs[row["schedule"]] = row["last_run"]
            }
            return runs
        }
    }

    /// Times of the marketing messages (`notify` actions) sent to a customer since a time, with the rule that sent each.
    public func messageTimes(customerId: String, since: Int64) throws -> [(rule: String, at: Int64)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT rule, created_at FROM outbox WHERE customer_id = ? AND action = 'notify' AND created_at >= ? ORDER BY created_at
                """, arguments: [customerId, since]).map { ($0["rule"], $0["created_at"]) }
        }
    }

    /// Revenue and order counts of completed orders per hour (hour start → totals) since a time.
    public func hourlySales(since: Int64) throws -> [Int64: (revenue: Double, orders: Int)] {
        try read { db in
            var hours: [Int64: (Double, Int)] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT created_at / 3600000 * 3600000 AS hour, SUM(total) AS revenue, COUNT(*) AS n FROM orders
                WHERE status = 'completed' AND created_at >= ? GROUP BY hour
                """, arguments: [since]) {
                hours[row["hour"]] = (row["revenue"], row["n"])
            }
            return hours
        }
    }

    /// Per journey: instances by status and exit reason, and per-step counts.
    public func journeyReports() throws -> [JourneyReport] {
        try read { db in
            var reports: [String: JourneyReport] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT journey, status, exit_reason, converted, COUNT(*) AS n FROM journey_instances
                GROUP BY journey, status, exit_reason, converted
                """) {
                let journey: String = row["journey"], status: String = row["status"], n: Int = row["n"]
                var report = reports[journey] ?? JourneyReport(journey: journey)
                report.entered += n
                if status == "active" { report.active += n } else {
                    report.exits[row["exit_reason"] ?? status, default: 0] += n
                }
                if status == "completed" { report.completed += n }
                if row["converted"] as Bool { report.converted += n }
                reports[journey] = report
            }
            var steps: [String: [String: [String: Int]]] = [:]
            var order: [String: [String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT journey, step, metric, count FROM journey_steps ORDER BY rowid") {
                let journey: String = row["journey"], step: String = row["step"]
                if steps[journey]?[step] == nil { order[journey, default: []].append(step) }
                steps[journey, default: [:]][step, default: [:]][row["metric"]] = row["count"]
            }
            for row in try Row.fetchAll(db, sql: """
                SELECT journey, step, COUNT(*) AS n FROM journey_instances WHERE status = 'active' GROUP BY journey, step
                """) {
                let journey: String = row["journey"], step: String = row["step"]
                if steps[journey]?[step] == nil { order[journey, default: []].append(step) }
                steps[journey, default: [:]][step, default: [:]]["waiting"] = row["n"]
            }
            // Steps in the order of the newest rule set that defines the journey.
            var defined: [String: [String]] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT d.journey, d.steps FROM journey_definitions d JOIN rulesets r ON r.version = d.ruleset_version
                ORDER BY r.loaded_at, r.rowid
                """) {
                defined[row["journey"]] = (row["steps"] as String).split(separator: "\n").map(String.init)
            }
            for (journey, seen) in order {
                let listed = defined[journey] ?? []
                let names = listed.filter { steps[journey]?[$0] != nil } + seen.filter { !listed.contains($0) }
                var report = reports[journey] ?? JourneyReport(journey: journey)
                report.steps = names.map { JourneyStepReport(journey: journey, step: $0, counts: steps[journey]?[$0] ?? [:]) }
                reports[journey] = report
            }
            return reports.values.sorted { $0.journey < $1.journey }
        }
    }
}
