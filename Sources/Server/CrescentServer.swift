import Engine
import Foundation
import Hummingbird
import Logging
import NIOCore
import Store

/// `crescent serve`: the engine behind the Segment-compatible ingest API,
/// `/v1/decide`, the admin API, `/metrics`, `/health` and `/ready`, on
/// Hummingbird 2. The engine's clock follows the wall clock (a tick a
/// second fires due journey timers and schedules). On SIGTERM the server
/// stops accepting, commits what it accepted, and exits.
public final class CrescentServer: Sendable {
    public let configuration: ServerConfiguration
    public let gateway: IngestGateway
    /// Reloads the rules (on a file change, or over the admin API), guarded by check and scenarios.
    public let reloader: RuleReloader
    let metrics = ServerMetrics()
    /// The messages the ingest API refused, kept for `GET /v1/rejected`.
    let rejections: RejectedMessageLog
    /// Card numbers masked at ingest, counted and logged once per field.
    let maskedCardNumbers = MaskedCardNumbers { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    /// Whether the clock is still catching up after a start (see ``startCatchUp(to:)``).
    let caughtUp = CatchUp()

    /// Opens the store and loads the rules; a rule file with errors is
    /// reported and left out, as in `crescent check`.
    public init(configuration: ServerConfiguration) throws {
        self.configuration = configuration
        let store = try CrescentStore(path: configuration.database)
        var options = EngineOptions()
        // Admission (429 past `maxInFlight`) bounds what is queued: a request never waits on a shard's queue.
        options.shardQueueEvents = max(options.shardQueueEvents, configuration.maxInFlight)
        // A sweep over every customer (the first after a start reads them all back) takes turns with requests.
        options.sweepSlice = configuration.sweepSlice
        options.timerSlice = configuration.timerSlice
        options.historicalAfter = configuration.historicalAfter
        // The engine's log (rules' `log(...)`, rules disabled, failed or skipped schedule runs) is the server's: standard error.
        options.logSink = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let engine = try ShardedEngine(store: store, rulesDirectory: configuration.rules, pluginsDirectory: configuration.plugins,
                                       options: options, shards: configuration.shards)
        gateway = IngestGateway(engine: engine, maxInFlight: configuration.maxInFlight)
        rejections = RejectedMessageLog(store: store, log: options.logSink!)
        let metrics = self.metrics
        engine.observeCommits { seconds in metrics.committed(seconds: seconds) }
        // Monitoring has figures from the start, even while the shards catch up (see ``readings``).
        _ = engine.readingsNow()
        reloader = RuleReloader(engine: engine, rulesDirectory: configuration.rules, pluginsDirectory: configuration.plugins)
        reloader.runScenarios = configuration.reloadRunsScenarios
    }

    /// Reloads the rules now and writes the outcome to standard error (the log).
    @discardableResult
    public func reloadRules(scenarios: Bool? = nil) -> ReloadAttempt {
        let attempt = reloader.reload(scenarios: scenarios)
        FileHandle.standardError.write(Data((attempt.report + "\n").utf8))
        return attempt
    }

    /// The routes, for the server and for tests.
    public func router() -> Router<BasicRequestContext> {
        // A `HEAD` on a path served with `GET` answers as the `GET` would, without the body.
        let router = Router(options: .autoGenerateHeadEndpoints)
        TrackingAPI(configuration: configuration, gateway: gateway, metrics: metrics, rejections: rejections,
                    maskedCardNumbers: maskedCardNumbers).register(on: router)
        AdminAPI(configuration: configuration, gateway: gateway, reload: { self.reloadRules(scenarios: $0) },
                 reloader: reloader, rejections: rejections, readings: { await self.readings() },
                 metrics: metrics).register(on: router)
        router.get("/") { request, _ in
            // The admin token as Bearer, as the Basic password (the browser asks), or as ?token=.
            let header = request.headers[.authorization] ?? ""
            var token = request.uri.queryParameters.get("token") ?? ""
            if header.hasPrefix("Bearer ") { token = String(header.dropFirst(7)) }
            if header.hasPrefix("Basic "), let decoded = Data(base64Encoded: String(header.dropFirst(6))),
               let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":") {
                token = String(text[text.index(after: colon)...])
            }
            guard self.configuration.acceptsAdminToken(token) else {
                // A browser without credentials is asked for them; a wrong token is simply refused.
                let ask = header.isEmpty && request.uri.queryParameters.get("token") == nil
                var headers: HTTPFields = [.contentType: "text/plain"]
                if ask { headers[.wwwAuthenticate] = "Basic realm=\"crescent\"" }
                return Response(status: .unauthorized, headers: headers,
                                body: ResponseBody(byteBuffer: ByteBuffer(string: "the dashboard needs the admin token (as the password)\n")))
            }
            let engine = self.gateway.engine
            let readings = await self.readings()
            let page = try Dashboard(engine: engine, readings: readings, rate: self.metrics.rate).html()
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
        }
        router.get("/health") { _, _ in APIResponse.json(.ok, #"{"status":"ok"}"#) }
        router.get("/ready") { _, _ in
            if !self.caughtUp.isDone {
                return APIResponse.json(.serviceUnavailable,
                                        #"{"ready":false,"reason":"catching up: journey timers and schedules due while the server was stopped"}"#)
            }
            return self.gateway.pending < self.configuration.maxInFlight
                ? APIResponse.json(.ok, #"{"ready":true}"#)
                : APIResponse.json(.serviceUnavailable, #"{"ready":false,"reason":"saturated"}"#)
        }
        router.get("/metrics") { _, _ in
            let engine = self.gateway.engine
            let health = try engine.store.outboxHealth(now: Int64(Date().timeIntervalSince1970 * 1000))
            // A scrape never waits long for the shards: while they are busy
            // (catching up after a start), it gets their last readings.
            let readings = await self.readings()
            let text = self.metrics.exposition(readings: readings, catchingUp: !self.caughtUp.isDone,
                                               pending: self.gateway.pending, reloads: self.reloader,
                                               outbox: (try engine.store.outboxCounts(), health.lag, health.failedAttempts),
                                               storeSizes: engine.store.fileSizes(), logRestarts: engine.store.logRestarts)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        // Last, so it wraps only the not-found responder: 405 with `Allow` for a served path, else a JSON 404.
        router.add(middleware: UnservedMethods(routes: router.routes))
        return router
    }

    /// The shards' figures for monitoring, fresh when the shards answer
    /// within ``ServerConfiguration/metricsWait``, else the last ones taken
    /// (they are busy catching up after a start): monitoring never waits long.
    func readings() async -> EngineReadings {
        let engine = gateway.engine
        if let fresh = await engine.readings(within: configuration.metricsWait) { return fresh }
        return engine.lastReadings ?? engine.readingsNow()
    }

    /// The webhook channels: those declared in rules and plugins (secrets from
    /// the environment), then the configured ones, which win. Problems go to
    /// standard error.
    public func deliveryChannels(environment: [String: String]) -> [String: WebhookChannel] {
        let declared = DeclaredChannels.resolve(gateway.engine.declarations, environment: environment)
        for problem in declared.problems { FileHandle.standardError.write(Data("warning: \(problem)\n".utf8)) }
        return declared.channels.merging(configuration.channels) { _, configured in configured }
    }

    /// Moves the clock from where the store left it to `now`: journey timers
    /// due while the server was stopped fire, each in order; a schedule that
    /// missed several runs runs once, for the latest, and the log says how
    /// many it skipped (an hourly check does not alert once per hour of
    /// downtime, a nightly sweep does not run once per night). Queued on the
    /// shards ahead of any request, while the server already listens:
    /// `/health` answers, `/ready` says it is catching up until done, and
    /// requests wait behind it (admission still applies).
    func startCatchUp(to now: Int64) {
        let caughtUp = self.caughtUp
        caughtUp.begin()
        gateway.engine.startAdvance(to: now, missedRuns: .latest) { error in
            if let error { FileHandle.standardError.write(Data("error: catching up the clock: \(error)\n".utf8)) }
            caughtUp.finish()
        }
    }

    /// Runs until SIGTERM or SIGINT, then commits everything accepted.
    /// `onListening` gets the bound port (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let logger = Logger(label: "crescent") { ServerLogHandler(label: $0) }
        let app = Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "crescent"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let checkpoints = try BackgroundCheckpoints(store: gateway.engine.store)
        defer { checkpoints?.stop() }
        // Before the catch-up: reading the rules waits for the shards, which it keeps busy.
        let channels = deliveryChannels(environment: ProcessInfo.processInfo.environment)
        startCatchUp(to: Int64(Date().timeIntervalSince1970 * 1000))
        let dispatcher = channels.isEmpty ? nil : OutboxDispatcher(store: gateway.engine.store, channels: channels)
        let delivery = Task.detached { await dispatcher?.run() }
        defer { delivery.cancel() }
        let ticker = Task.detached { [gateway, caughtUp] in
            while !Task.isCancelled {
                // The clock ticks once the catch-up (queued first on the shards) is done.
                if !caughtUp.isDone {
                    try? await Task.sleep(for: .milliseconds(100))
                    continue
                }
                try? await Task.sleep(for: .seconds(1))
                try? gateway.engine.advance(to: Int64(Date().timeIntervalSince1970 * 1000))
            }
        }
        defer { ticker.cancel() }
        let watcher = configuration.watchRules
            ? try RulesWatcher(folders: [configuration.rules, configuration.plugins].filter { FileManager.default.fileExists(atPath: $0) }) {
                self.reloadRules()
            }
            : nil
        defer { watcher?.stop() }
        do {
            try await app.runService()
        } catch let error as IOError where [EADDRINUSE, EADDRNOTAVAIL, EACCES].contains(error.errnoCode) {
            try gateway.shutdown()
            throw ListenError(host: configuration.host, port: configuration.port, errno: error.errnoCode)
        }
        try gateway.shutdown()
        rejections.flush()
    }
}

/// The server could not bind its address (`crescent serve` exits 1 with this).
public struct ListenError: Error, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let errno: Int32

    public var description: String {
        let reason = errno == EADDRINUSE
            ? "the address is in use (another server? --port 0 picks a free port)"
            : String(cString: strerror(errno)).lowercased()
        return "cannot listen on \(host):\(port): \(reason)"
    }
}

/// Whether the clock is still catching up after a start (``CrescentServer/startCatchUp(to:)``).
final class CatchUp: @unchecked Sendable {
    private let lock = NSLock()
    private var done = true
    /// False from ``begin()`` until ``finish()``: a catch-up is running.
    var isDone: Bool { lock.withLock { done } }
    func begin() { lock.withLock { done = false } }
    func finish() { lock.withLock { done = true } }
}
