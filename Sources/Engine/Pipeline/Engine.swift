import Foundation
import LuaKit
import Store

/// Settings of the pipeline.
public struct EngineOptions: Sendable {
    /// Events per group commit (the server also commits whenever a request waits).
    public var batchSize = 1000
    /// Events per commit for a replay of a file: larger commits write each
    /// changed page of the database once for more events.
    public static let replayBatchSize = 20_000
    /// A fraud block suppresses promotions for this long (milliseconds).
    public var fraudBlockSuppression: Int64 = 30 * 86_400_000
    /// An event this much older than the engine's clock (milliseconds) is
    /// history arriving late, such as a backfill through `/v1/import`: it
    /// updates state, counters and segments and gets its fraud decision,
    /// but fires no promotion and starts no journey (a year-old order does
    /// not earn a thank-you e-mail today). Nil or 0: every event may act.
    public var historicalAfter: Int64? = 86_400_000
    /// Consecutive errors after which a rule is disabled.
    public var disableAfterErrors = 10
    /// Limits for each rule call.
    public var limits = LuaLimits.default
    /// Customers kept in memory per shard; the least recently used beyond it
    /// are dropped (their state is in the store) and read back when needed.
    public var customerCacheLimit = 200_000
    /// Message ids, counter keys and identities kept in memory per
    /// generation (at most twice as many); older ones are read back from the
    /// store when an event needs them. Keep it well above a few batches' worth.
    public var recentKeys = 250_000
    /// Events routed to a shard and not yet processed, at most: past it the
    /// router waits. Reading a file is several times faster than processing
    /// it, so a replay keeps this many events parsed ahead of each shard.
    /// Much longer only holds memory (a million events: 262,144 queued
    /// events took the peak RSS from 632 to 950 MiB); much shorter and, with
    /// several shards, the router waiting on one shard's full queue starves
    /// the others (two shards, 100 k events: 25.9 k events/s at 4,096,
    /// 27.8 k at 16,384).
    public var shardQueueEvents = 16_384
    /// Runs a segment again only when something it read changed or its
    /// answer stopped holding (false: every segment on every evaluation,
    /// the reference the tests compare with).
    public var reuseSegmentResults = true
    /// Customers a segment sweep evaluates before the shard runs what is
    /// queued behind it, then the next as many (the server: 64, so an
    /// event or a decision never waits for a sweep over every customer).
    /// Nil: a sweep runs whole where it is due, so a replay, a backtest or
    /// a test gives the same result however fast its events arrive.
    public var sweepSlice: Int?
    /// Journey timers a catch-up after a stop (``MissedScheduleRuns/latest``)
    /// fires before the shard runs what is queued behind it, then the next
    /// as many (the server: 512), oldest first; a customer's own fire
    /// before their next event. Nil: they all fire in the catch-up.
    public var timerSlice: Int?
    /// Where each log line goes as it is written (``Engine/log``): `crescent
    /// replay` and `crescent serve` write them to standard error. Nil keeps
    /// them only in memory.
    public var logSink: (@Sendable (String) -> Void)?
    /// Log lines each shard keeps in memory (``Engine/log``), the latest.
    public var logLinesKept = 1_000
    /// Whether loading a rule set also reads its source text for the
    /// warnings `crescent check` gives (misnamed parameters, misspelt
    /// fields, undeclared counters, lists and segments), kept in
    /// ``Engine/problems``. Only shard 0 does; a scenario's engine, whose
    /// rule set `crescent check` has just read, need not.
    public var checksRuleText = true

    public init() {}
}

/// The per-event pipeline: normalize → resolve the customer → apply state →
/// counters → fraud → segments (entries and exits become internal events) →
/// promotions → record, with one group commit per batch.
///
/// An `Engine` owns one Lua state and must stay on the thread that made it.
public final class Engine {
    public let store: CrescentStore
    /// The rule set running now (a reload swaps it between events).
    public private(set) var rules: RuleRuntime
    /// Counts installed rule sets: segment stability holds for one epoch only.
    private(set) var rulesEpoch = 0
    public var options: EngineOptions {
        didSet {
            state.logSink = options.logSink
            state.logLinesKept = options.logLinesKept
        }
    }
    public internal(set) var stats: [String: RuleStats] = [:]
    /// Rules that may have an error streak or be disabled (a superset): while
    /// it is empty, no rule call needs to look its stats up.
    var erroring: Set<String> = []
    let state: EngineState
    let commits: CommitPipeline
    /// The host API rules call (kept to build the next version's runtime).
    let host: RuleHost
    var pendingEvents = 0
    /// Told when the batch being built now is committed (see ``whenCommitted(_:)``).
    var commitWaiters: [CommitPipeline.Notification] = []
    /// Customers held in memory now, and evicted so far (the bounded cache).
    public var cachedCustomers: Int { state.customers.count }
    public var evictedCustomers: Int { state.evictions }
    /// Message ids, counter keys and aliases held in memory (bounded by ``EngineOptions/recentKeys``).
    public var heldKeys: (messageIds: Int, counterKeys: Int, aliases: Int) { state.shared.heldKeys }

    /// What the clock did besides events: timers fired, schedules run, customers swept, and the time they took.
    public internal(set) var clockWork = ClockWork()
    /// Actions put in the outbox so far, by kind (`notify`, `alert`, ...), whatever made them:
    /// events, journey timers, schedules, sweeps.
    public private(set) var actionsMade: [String: Int] = [:]
    public private(set) var declarations: [RuleDeclaration] = []
    /// The segment and fraud declarations, in file order.
    private(set) var segments: [RuleDeclaration] = []
    /// Each segment's `when` function, indexed like ``segments``.
    private(set) var segmentHandles: [Int64?] = []
    /// Whether the rule state holds the current event and customer tables.
    var luaPrepared = false
    private(set) var frauds: [RuleDeclaration] = []
    /// Event name → the promotions and the counters it triggers, in file order.
    private(set) var promotionsByEvent: [String: [RuleDeclaration]] = [:]
    private(set) var countersByEvent: [String: [RuleDeclaration]] = [:]
    private(set) var policy: RuleDeclaration?
    /// Rule id → position in the rule set's list (for compact explanations).
    private(set) var ruleIndex: [String: Int] = [:]
    /// Journeys by name and by the event that starts them; the messaging policy; schedules.
    private(set) var journeys: [JourneyDefinition] = []
    private(set) var journeyByName: [String: JourneyDefinition] = [:]
    /// The events that end an instance of some journey (`exit_on`, `goal`).
    private(set) var journeyEndEvents: Set<String> = []
    private(set) var journeysByEntry: [String: [JourneyDefinition]] = [:]
    private(set) var messaging = MessagingPolicy()
    private(set) var schedules: [ScheduleDefinition] = []
    /// A rule set built for a reload, waiting to be swapped in (see `Reload/RuleSwap.swift`).
    var stagedRules: RuleRuntime?
    /// This engine's shard (schedules with `run` execute on shard 0 only), and which customers it owns.
    let shard: Int
    /// The engine's time when counter hits past their windows were last deleted.
    var lastCounterPrune: Int64 = 0
    let sweepOwns: (String) -> Bool
    /// Problems of journey, schedule and messaging declarations found after loading.
    var definitionProblems: [RuleProblem] = []
    /// What loading did to journey instances left by another rule set version.
    public internal(set) var journeyMigrations: [JourneyMigration] = []

    /// Loads the rules and opens the engine over a store.
    public convenience init(store: CrescentStore, rulesDirectory: String, pluginsDirectory: String?,
                            options: EngineOptions = EngineOptions()) throws {
        try self.init(store: store, rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory, options: options,
                      shared: try SharedState(store: store, recentKeys: options.recentKeys), commits: CommitPipeline(store: store), shard: 0, owns: { _ in true })
    }

    /// One shard of a ``ShardedEngine``: its own rules and Lua state, shared
    /// identities, counters and commit queue.
    init(store: CrescentStore, rulesDirectory: String, pluginsDirectory: String?, options: EngineOptions,
         shared: SharedState, commits: CommitPipeline, shard: Int, owns: @escaping (String) -> Bool) throws {
        self.store = store
        self.options = options
        self.shard = shard
        self.sweepOwns = owns
        let state = EngineState(store: store, shared: shared)
        state.logSink = options.logSink
        state.logLinesKept = options.logLinesKept
        self.state = state
        self.commits = commits
        let host = Self.ruleHost(state: state, shared: shared)
        self.host = host
        rules = try RuleRuntime(rulesDirectory: rulesDirectory, pluginsDirectory: pluginsDirectory,
                                limits: options.limits, host: host, checksText: options.checksRuleText && shard == 0)
        install(rules)
        try loadJourneys(owns: owns)
    }

    /// Makes a rule set the running one: its declarations, indexes, journey
    /// and schedule definitions, list values and counter windows; the
    /// version row goes out with the next batch.
    func install(_ runtime: RuleRuntime) {
        let shared = state.shared
        rules = runtime
        state.lua = runtime.state
        luaPrepared = false
        rulesEpoch += 1
        declarations = rules.declarations
        segments = declarations.filter { $0.kind == .segment }
        segmentHandles = segments.map { $0.functions["when"] }
        frauds = declarations.filter { $0.kind == .fraud }
        policy = declarations.first { $0.kind == .fraudPolicy }
        promotionsByEvent = Self.index(declarations, [.promotion])
        countersByEvent = Self.index(declarations, [.counter, .distinctCounter])
        ruleIndex = Dictionary(declarations.enumerated().map { ($0.element.ruleId, $0.offset) }) { first, _ in first }
        let automation = Self.automation(declarations)
        journeys = automation.journeys
        journeyByName = Dictionary(automation.journeys.map { ($0.name, $0) }) { first, _ in first }
        journeysByEntry = Dictionary(grouping: automation.journeys, by: \.entryEvent)
        journeyEndEvents = automation.journeys.reduce(into: []) { names, def in
            names.formUnion(def.exitOn)
            if let goal = def.goal { names.insert(goal) }
        }
        messaging = automation.messaging
        schedules = automation.schedules
        definitionProblems = automation.problems
        var listValues: [(list: String, value: String, file: String)] = []
        for declaration in declarations {
            switch declaration.kind {
            case .list:
                if case .array(let values)? = declaration.fields["values"] {
                    listValues += values.compactMap(\.stringValue).map { (declaration.name, $0, declaration.file) }
                }
            case .counter, .distinctCounter:
                shared.counterRetention[declaration.name] = declaration.counterWindow
            default:
                break
            }
        }
        let lists = shared.declareListValues(listValues)
        state.batch.listAdditions += lists.added.map { ($0.list, $0.value, $0.file, 0) }
        state.batch.listRemovals += lists.removed
        let sources = JSONValue.object(rules.sources.mapValues { .string($0) }).jsonText
        let ruleIds = JSONValue.array(declarations.map { .string($0.ruleId) }).jsonText
        state.batch.ruleset = (rules.version, sources, ruleIds, Int64(Date().timeIntervalSince1970 * 1000))
    }

    static func index(_ declarations: [RuleDeclaration], _ kinds: Set<RuleKind>) -> [String: [RuleDeclaration]] {
        var byEvent: [String: [RuleDeclaration]] = [:]
        for d in declarations where kinds.contains(d.kind) {
            for name in d.triggers ?? [] { byEvent[name, default: []].append(d) }
        }
        return byEvent
    }

    /// The rule set's problems (errors and warnings), as `crescent check` prints them.
    public var problems: [RuleProblem] { rules.problems + definitionProblems }

    /// The time to give an event that arrives without one: the engine's
    /// clock during a replay, else the wall clock.
    public var clockHint: Int64 { state.now > 0 ? state.now : Int64(Date().timeIntervalSince1970 * 1000) }

    /// The latest lines of the engine's log (at most ``EngineOptions/logLinesKept``):
    /// rules' `log(...)`, rules disabled, schedule failures, journey migrations.
    public var log: [String] { Array(state.logLines.suffix(options.logLinesKept)) }

    /// Processes one event. Its effects are committed with the batch; call
    /// ``flush()`` to commit now.
    @discardableResult
    public func process(_ event: Event) throws -> EventOutcome {
        guard state.shared.claim(event.messageId) else { return .duplicate(event.messageId) }
        return try process(event, route: state.shared.route(event), adopted: nil)
    }

    /// Processes an event already claimed and routed (by a ``ShardedEngine``).
    func process(_ event: Event, route: Route, adopted: CustomerState?) throws -> EventOutcome {
        let started = DispatchTime.now().uptimeNanoseconds
        try advance(to: event.timestamp)
        if state.overdueTimers != nil { try fireOverdueTimers(of: route) }
        state.now = event.timestamp
        try state.apply(route, adopted: adopted)
        let customerId = route.customerId
        let customer = try state.customer(customerId)
        let (order, repeatsCompletedOrder) = try state.apply(event, to: customer)
        state.batch.events.append(EventRow(messageId: event.messageId, customerId: customerId, type: event.kind.rawValue,
                                           name: event.name, timestamp: event.timestamp, payload: event.raw ?? event.json.jsonText))
        var run = EvaluationRun(event: event, customer: customer, order: order, repeatsCompletedOrder: repeatsCompletedOrder)
        try evaluate(&run)
        record(run)
        pendingEvents += 1
        if pendingEvents >= options.batchSize { try submitBatch() }
        return EventOutcome(messageId: event.messageId, customerId: customerId, duplicate: false, decision: run.decision,
                            results: run.results, actions: run.actions,
                            segmentChanges: run.segmentChanges.map { ($0.segment, $0.entered) },
                            micros: Int((DispatchTime.now().uptimeNanoseconds - started) / 1000))
    }

    /// Commits everything processed so far and waits until it is durable.
    public func flush() throws {
        try submitBatch()
        try commits.drain()
    }

    /// Hands the current batch to the background committer.
    func submitBatch() throws {
        for id in state.dirty {
            if let customer = state.customers[id] { state.batch.customers[id] = customer.syncedRow() }
        }
        state.dirty.removeAll(keepingCapacity: true)
        for (key, n) in state.stepCounts {
            let def = journeys[key.journey]
            state.batch.journeyStepCounts[JourneyStepKey(def.name, def.steps[key.step].name, key.metric.rawValue), default: 0] += n
        }
        state.stepCounts.removeAll(keepingCapacity: true)
        // Once a day of the engine's clock, shard 0 deletes the counter hits no count reads again.
        if shard == 0, state.now > 0, state.now - lastCounterPrune >= 86_400_000 {
            state.batch.counterPrunes = state.shared.counterPrunes(now: state.now)
            lastCounterPrune = state.now
        }
        let deltas = state.shared.items.takeDeltas()
        state.batch.itemPairDeltas = deltas.pairs
        state.batch.itemPopularityDeltas = deltas.popularity
        let batch = state.batch
        for row in batch.outbox { actionsMade[row.action, default: 0] += 1 }
        state.batch = WriteBatch()
        pendingEvents = 0
        state.batchNumber += 1
        state.evict(limit: options.customerCacheLimit)
        let waiters = commitWaiters
        commitWaiters = []
        try commits.submit(batch, notifying: waiters)
    }

    /// Runs `body` (on the commit thread) once everything processed so far
    /// is committed: with the batch being built now, which goes out at the
    /// latest when the shard has nothing left to do (``commitIfAwaited()``).
    func whenCommitted(_ body: @escaping CommitPipeline.Notification) {
        commitWaiters.append(body)
    }

    var hasCommitWaiters: Bool { !commitWaiters.isEmpty }

    /// Hands the batch over if someone waits for it (a shard with no job left calls it).
    func commitIfAwaited() {
        guard !commitWaiters.isEmpty else { return }
        try? submitBatch() // a failure reaches the waiters
    }

    /// Erases a customer: commits what is pending, drops the customer's state
    /// from memory (state, orders, promotion fires, journey instances), then
    /// erases them in the store.
    public func forget(customerId id: String) throws -> [String: Int]? {
        try flush()
        let merged = state.customers.filter { $0.value.row.mergedInto == id }.map(\.key)
        for key in [id] + merged {
            _ = state.surrender(key)
            state.dirty.remove(key)
        }
        return try store.eraseCustomer(id, at: clockHint)
    }

    /// A success ends a rule's run of errors (no write when there is none).
    func clearErrors(_ name: String) {
        guard !erroring.isEmpty, erroring.contains(name) else { return }
        stats[name]?.consecutiveErrors = 0
        if stats[name]?.disabled != true { erroring.remove(name) }
    }

    /// Whether a rule is disabled after repeated errors.
    func isDisabled(_ name: String) -> Bool {
        !erroring.isEmpty && stats[name]?.disabled == true
    }

    func stat(_ name: String, _ update: (inout RuleStats) -> Void) {
        if Self.update(&stats[name, default: RuleStats()], update, now: state.now) { erroring.insert(name) }
    }

    /// Updates one rule's stats in place; true when it now has an error streak or is disabled.
    private static func update(_ stats: inout RuleStats, _ body: (inout RuleStats) -> Void, now: Int64) -> Bool {
        let hits = stats.hits + stats.shadowHits
        body(&stats)
        if stats.hits + stats.shadowHits != hits { stats.lastHitAt = now }
        return stats.consecutiveErrors > 0 || stats.disabled
    }
}

/// The working record of one event's evaluation.
struct EvaluationRun {
    var event: Event
    var customer: CustomerState
    var order: OrderRow?
    /// The event is an `Order Completed` for an order already completed:
    /// counters do not count it again, promotions and journeys do not start
    /// again for it (fraud rules and segments run as usual).
    var repeatsCompletedOrder = false
    var results: [RuleResult] = []
    var actions: [ActionRecord] = []
    var decision: FraudDecision?
    var segmentChanges: [SegmentChangeRow] = []
    /// Whether the Lua side holds this run's event and customer (timer runs set it up lazily).
    var luaReady = true
}
