import CompressNIO
import Engine
import Foundation
import Hummingbird
import NIOCore
import Store

/// The Segment HTTP Tracking API, as unchanged Segment and RudderStack SDKs
/// call it: `/v1/track`, `identify`, `page`, `screen`, `group`, `alias`,
/// `batch` and `import` (and analytics.js's `/v1/t` ... `/v1/b`, with CORS
/// for pages on other origins). Success is always `200 {"success": true}`, sent
/// after the events are committed; problems are `400`/`401`/`429` with
/// `{"code": ..., "message": ...}`. A batch keeps its valid messages: those
/// refused are listed in the answer (`"rejected"`) and kept in the store.
struct TrackingAPI: Sendable {
    let configuration: ServerConfiguration
    let gateway: IngestGateway
    let metrics: ServerMetrics
    let rejections: RejectedMessageLog
    let maskedCardNumbers: MaskedCardNumbers
    /// Authorization headers whose write key was accepted already.
    let acceptedHeaders = AcceptedHeaders()
    /// Checks the user ids of browser keys' messages, when the shop set an identity secret.
    var identityVerification: IdentityVerification? { configuration.identitySecret.map(IdentityVerification.init) }

    static let messageLimit = 32 * 1024
    static let batchLimit = 500 * 1024
    static let batchItems = 2500

    /// Browser SDKs call from the shop's pages, another origin: any origin
    /// may post (a write key is public in a page anyway), with RudderStack's
    /// headers; `Retry-After` is readable by the page's script.
    static let cors = CORSMiddleware<BasicRequestContext>(
        allowOrigin: .all, allowHeaders: [.authorization, .contentType, .init("AnonymousId")!],
        allowMethods: [.post, .options], exposedHeaders: ["Retry-After"], maxAge: .hours(1))

    func register(on router: Router<BasicRequestContext>) {
        let ingest = router.group().add(middleware: Self.cors)
        for kind in ["track", "identify", "page", "screen", "group", "alias"] {
            // analytics.js posts to the type's initial: /v1/t, /v1/i, /v1/p, /v1/s, /v1/g, /v1/a.
            for path in ["/v1/\(kind)", "/v1/\(kind.prefix(1))"] {
                ingest.post(RouterPath(path)) { request, _ in await self.handle(request, single: kind) }
                ingest.on(RouterPath(path), method: .options) { _, _ in Self.options }
            }
        }
        // analytics.js in batching mode posts to /v1/b; RudderStack's beacon to /beacon/v1/batch?writeKey=.
        for path in ["/v1/batch", "/v1/import", "/v1/b", "/beacon/v1/batch"] {
            ingest.post(RouterPath(path)) { request, _ in await self.handle(request, single: nil) }
            ingest.on(RouterPath(path), method: .options) { _, _ in Self.options }
        }
        // analytics.js loaded with this server as its cdnURL reads its settings here.
        ingest.get("/v1/projects/:writeKey/settings") { request, context in
            self.sourceSettings(request, writeKey: try context.parameters.require("writeKey"))
        }
        registerPixels(on: router)
        router.post("/v1/decide") { request, _ in await self.decide(request) }
    }

    /// `OPTIONS` without an `Origin` (a browser's preflight is answered by ``cors``).
    static var options: Response {
        Response(status: .noContent, headers: [.allow: "OPTIONS, POST"])
    }

    /// A request's messages, authenticated and normalized, with those of a
    /// batch that were refused; or the response that refuses the request.
    /// `body`, when given, stands for the request's (a pixel's query).
    func messages(of request: Request, single kind: String?, body given: [UInt8]? = nil) async -> Result<Intake, APIProblem> {
        let limit = kind == nil ? Self.batchLimit : Self.messageLimit
        let body: [UInt8]
        do {
            if let given {
                guard given.count <= limit else { throw APIProblem(.badRequest, "message_too_large", "the message is over 32 KB") }
                body = given
            } else {
                body = try await Self.body(of: request, limit: limit)
            }
        } catch let problem as APIProblem {
            return .failure(problem)
        } catch {
            return .failure(APIProblem(.badRequest, "invalid_body", "the request body could not be read: \(error)"))
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes: body)
        } catch {
            return .failure(APIProblem(.badRequest, "invalid_json", "the body is not valid JSON: \(error)"))
        }
        guard case .object(let fields) = json else {
            return .failure(APIProblem(.badRequest, "invalid_json", "the body must be a JSON object"))
        }
        let header = request.headers[.authorization]
        var keyKind = header.flatMap(acceptedHeaders.kind)
        if keyKind == nil {
            let fromHeader = header.flatMap(Self.basicUser)
            // navigator.sendBeacon cannot set headers: RudderStack's beacon puts the key in the query.
            let fromQuery = request.uri.path.hasPrefix("/beacon/") ? request.uri.queryParameters.get("writeKey") : nil
            guard let key = fromHeader ?? fields["writeKey"]?.stringValue ?? fromQuery else {
                return .failure(APIProblem(.unauthorized, "missing_write_key",
                                           "no write key: send it as the Basic auth user name or as \"writeKey\" in the body"))
            }
            guard let kind = configuration.writeKeyKind(key) else {
                return .failure(APIProblem(.unauthorized, "invalid_write_key", "the write key is not valid"))
            }
            keyKind = kind
            if let header, fromHeader != nil { acceptedHeaders.insert(header, kind: kind) }
        }
        var items: [JSONValue]
        if let kind {
            var message = fields
            message["type"] = .string(kind) // the path says what it is, whatever the body says
            items = [.object(message)]
        } else {
            guard case .array(let batch)? = fields["batch"] else {
                return .failure(APIProblem(.badRequest, "invalid_batch", "a batch needs \"batch\": [messages]"))
            }
            if batch.count > Self.batchItems {
                return .failure(APIProblem(.badRequest, "batch_too_large",
                                           "a batch holds at most \(Self.batchItems) messages, this one \(batch.count)"))
            }
            // What the batch gives all its messages: objects (null is as absent).
            var shared: [String: JSONValue] = [:]
            for key in ["context", "integrations"] {
                switch fields[key] {
                case nil, .null?: continue
                case .object?: shared[key] = fields[key]
                default: return .failure(APIProblem(.badRequest, "invalid_batch", "a batch's \"\(key)\" must be an object"))
                }
            }
            items = batch.map { item in
                guard case .object(var message) = item else { return item }
                for (key, value) in shared where message[key] == nil { message[key] = value }
                return .object(message)
            }
        }
        var intake = Intake(keyKind: keyKind ?? .server)
        let verification = intake.keyKind == .browser ? identityVerification : nil
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // A batch's `sentAt` (the device's clock when it sent) stands for its messages without their own.
        let batchSentAt = kind == nil ? fields["sentAt"] : nil
        for (index, item) in items.enumerated() {
            let label = kind == nil ? "batch[\(index)]" : "message"
            // A body within the limit holds no message over it: measure items only in bigger batches.
            if kind == nil, body.count > Self.messageLimit, item.jsonText.utf8.count > Self.messageLimit {
                return .failure(APIProblem(.badRequest, "message_too_large", "\(label) is over 32 KB"))
            }
            var message = item
            if case .object(var fields) = item, fields["writeKey"] != nil {
                fields["writeKey"] = nil // a secret, not part of the event
                message = .object(fields)
            }
            do {
                if let verification { message = try verification.verified(message) }
                var event = try Normalizer.normalize(message, now: now)
                if intake.keyKind == .browser, let refusal = ServerOnlyEvents.refusal(event.name) { throw refusal }
                let corrected = Timestamps.skewCorrected(event.timestamp, sentAt: message["sentAt"] ?? batchSentAt,
                                                         receivedAt: now, tolerance: configuration.clockSkewTolerance)
                if corrected != event.timestamp {
                    event.originalTimestamp = event.timestamp
                    event.timestamp = corrected
                    intake.skewCorrected += 1
                }
                // The stored payload, written here on the request's thread
                // rather than on the shard's, which every event waits for.
                event.raw = event.json.jsonText
                intake.events.append(event)
            } catch {
                let source = request.uri.path + (kind == nil ? "[\(index)]" : "")
                let ids = message.object
                let code = error is ServerOnlyEvent ? "server_only_event" : error is UnverifiedUserId ? "unverified_user_id" : "invalid_message"
                intake.rejected.append(Intake.Rejection(index: index, message: "\(label): \(error)", stored: RejectedMessage(
                    receivedAt: now, source: source, code: code, reason: "\(error)",
                    payload: (CardNumbers.masked(message)?.value ?? message).jsonText, // kept, so never with a card number
                    userId: ids?["userId"]?.stringValue, anonymousId: ids?["anonymousId"]?.stringValue)))
            }
        }
        maskedCardNumbers.report(intake.events, from: request.uri.path, metrics: metrics)
        if intake.events.isEmpty, let first = intake.rejected.first {
            // Nothing of the request is kept: refuse it whole.
            keepRejected(intake)
            let more = intake.rejected.count > 1 ? " (all \(intake.rejected.count) messages refused; GET /v1/rejected lists them)" : ""
            let code = first.stored.code
            return .failure(APIProblem(code == "invalid_message" ? .badRequest : .forbidden, code, first.message + more))
        }
        return .success(intake)
    }

    /// Keeps a request's refused messages for `GET /v1/rejected`, once its
    /// answer is final: a request answered `429` or `503` is sent again by
    /// the SDKs, and its refused messages are kept from that attempt.
    func keepRejected(_ intake: Intake) {
        guard !intake.rejected.isEmpty else { return }
        rejections.record(intake.rejected.map(\.stored))
        metrics.messagesRejected(intake.rejected.count)
    }

    /// What a request brought: the events to process and the messages refused.
    struct Intake {
        /// One refused message of a batch: its position, what the client is told, what is kept.
        struct Rejection {
            var index: Int
            var message: String
            var stored: RejectedMessage
        }
        /// The kind of write key the request came with.
        var keyKind: WriteKeyKind
        var events: [Event] = []
        var rejected: [Rejection] = []
        /// Messages whose time was ahead of the server's clock and was corrected.
        var skewCorrected = 0

        /// `{"success": true}`, with `"rejected"` listing the refused messages of a batch.
        var successJSON: String {
            guard !rejected.isEmpty else { return #"{"success":true}"# }
            return JSONValue.object([
                "success": .bool(true),
                "rejected": .array(rejected.map { rejection in
                    .object(["index": .int(Int64(rejection.index)), "code": .string(rejection.stored.code),
                             "message": .string(rejection.message)])
                }),
            ]).jsonText
        }
    }

    func handle(_ request: Request, single kind: String?) async -> Response {
        switch await messages(of: request, single: kind) {
        case .failure(let problem):
            metrics.rejected(problem.code)
            return problem.response
        case .success(let intake):
            return await commit(intake) ?? APIResponse.json(.ok, intake.successJSON)
        }
    }

    /// Processes a request's accepted events and keeps its refused messages:
    /// nil once committed, else the refusal (`429`, `503`, `500`), counted.
    func commit(_ intake: Intake) async -> Response? {
        do {
            let outcomes = try await gateway.ingest(intake.events)
            metrics.ingested(intake.events, outcomes)
            metrics.skewCorrected(intake.skewCorrected)
            keepRejected(intake)
            return nil
        } catch {
            return Self.failure(error, metrics)
        }
    }

    static func failure(_ error: any Error, _ metrics: ServerMetrics) -> Response {
        switch error {
        case IngestError.saturated:
            metrics.rejected("saturated")
            var response = APIProblem(.tooManyRequests, "saturated", "the engine is saturated; retry after a second").response
            response.headers[.retryAfter] = "1"
            return response
        case IngestError.stopping:
            var response = APIProblem(.serviceUnavailable, "stopping", "the server is shutting down").response
            response.headers[.retryAfter] = "5"
            return response
        default:
            metrics.rejected("internal")
            return APIProblem(.internalServerError, "internal", "the events could not be committed: \(error)").response
        }
    }

    /// The body, un-gzipped when `Content-Encoding: gzip`, refused over `limit`.
    static func body(of request: Request, limit: Int) async throws -> [UInt8] {
        var buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit + 1)
        } catch {
            throw APIProblem(.badRequest, limit == batchLimit ? "batch_too_large" : "message_too_large",
                             "the body is over \(limit / 1024) KB")
        }
        if let encoding = request.headers[.contentEncoding]?.lowercased(), encoding != "identity" {
            guard encoding == "gzip" else {
                throw APIProblem(.badRequest, "unsupported_encoding", "Content-Encoding \(encoding) is not supported (use gzip)")
            }
            do {
                buffer = try buffer.decompress(with: .gzip(), maxSize: limit + 1)
            } catch {
                throw APIProblem(.badRequest, "invalid_gzip", "the gzip body could not be decompressed (or is over \(limit / 1024) KB)")
            }
        }
        if buffer.readableBytes > limit {
            throw APIProblem(.badRequest, limit == batchLimit ? "batch_too_large" : "message_too_large",
                             "the body is over \(limit / 1024) KB")
        }
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    /// The write key of a Basic `Authorization` header: its user name
    /// (password ignored, a missing colon tolerated); nil when there is none.
    static func basicUser(_ header: String) -> String? {
        guard header.lowercased().hasPrefix("basic ") else { return nil }
        let encoded = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else { return nil }
        let user = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
        return user.isEmpty ? nil : user
    }
}

/// Authorization headers seen with an accepted write key, so that a
/// client's every request does not decode and hash its key again (at most
/// `limit`; forgotten all at once beyond). Refused headers are not kept.
final class AcceptedHeaders: @unchecked Sendable {
    private let lock = NSLock()
    private var headers: [String: WriteKeyKind] = [:]
    private let limit = 256

    /// The kind of key an accepted header carries; nil when not accepted yet.
    func kind(_ header: String) -> WriteKeyKind? { lock.withLock { headers[header] } }

    func insert(_ header: String, kind: WriteKeyKind) {
        lock.withLock {
            if headers.count >= limit { headers.removeAll() }
            headers[header] = kind
        }
    }
}

/// A refused request: its status and Segment-style `{"code", "message"}` body.
struct APIProblem: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    var response: Response {
        APIResponse.json(status, JSONValue.object(["code": .string(code), "message": .string(message)]).jsonText)
    }
}

/// JSON responses.
enum APIResponse {
    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
