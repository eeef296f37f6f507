import Engine
import Foundation
import Hummingbird

/// `POST /v1/decide`: the checkout's synchronous fraud decision.
extension TrackingAPI {
    /// `POST /v1/decide`: one checkout or order event through the same pipeline,
    /// answered with the fraud decision after commit.
    func decide(_ request: Request) async -> Response {
        let received = ContinuousClock.now
        switch await messages(of: request, single: "track") {
        case .failure(let problem):
            metrics.rejected(problem.code)
            return problem.response
        case .success(let intake):
            guard intake.keyKind == .server else {
                metrics.rejected("browser_write_key")
                return APIProblem(.forbidden, "browser_write_key",
                                  "/v1/decide is for the shop's servers (a browser write key is public): call it with a server write key").response
            }
            let events = intake.events
            let started = ContinuousClock.now
            do {
                let (outcomes, evaluated, committed) = try await gateway.ingestTimed(events, urgent: true)
                var outcome = outcomes[0]
                if outcome.duplicate, let row = try gateway.engine.store.decision(messageId: outcome.messageId) {
                    // A retried checkout gets the decision its first attempt got, not a fresh "allow".
                    outcome.decision = FraudDecision(stored: row)
                }
                metrics.ingested(events, [outcome])
                metrics.skewCorrected(intake.skewCorrected)
                metrics.decided(outcome.decision?.verdict.rawValue ?? "allow", ContinuousClock.now - started,
                                evaluated: evaluated, committed: committed)
                var response = APIResponse.json(.ok, Self.decisionJSON(outcome).jsonText)
                // `Server-Timing` (W3C Server Timing): where the decision's time went in the server.
                response.headers[.init("Server-Timing")!] = Self.serverTiming(evaluated: evaluated, committed: committed,
                                                                    total: ContinuousClock.now - received)
                return response
            } catch {
                return Self.failure(error, metrics)
            }
        }
    }

    /// The `Server-Timing` header of a decision (milliseconds): its wait for
    /// and run on the shard, its group commit, and the whole answer from the
    /// request's arrival (parsing included), so a client can tell time spent
    /// in the server from time on the way.
    static func serverTiming(evaluated: Duration, committed: Duration, total: Duration) -> String {
        // Milliseconds with three decimals, written by hand: `String(format:)` took 2% of a request thread.
        func ms(_ d: Duration) -> String {
            let micros = max(0, d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000)
            let fraction = String(micros % 1000)
            return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        }
        return "evaluate;dur=\(ms(evaluated)), commit;dur=\(ms(committed)), total;dur=\(ms(total))"
    }

    static func decisionJSON(_ outcome: EventOutcome) -> JSONValue {
        let decision = outcome.decision
        let rules: [JSONValue] = (decision?.rules ?? []).map { result in
            var fields: [String: JSONValue] = ["rule": .string(result.rule), "outcome": .string(result.outcome.rawValue)]
            fields["score"] = result.score.map(JSONValue.double) ?? .double(0)
            if let reason = result.reason { fields["reason"] = .string(reason) }
            return .object(fields)
        }
        return .object([
            "message_id": .string(outcome.messageId),
            "duplicate": .bool(outcome.duplicate),
            "evaluated": .bool(decision != nil),
            "decision": .string(decision?.verdict.rawValue ?? "allow"),
            "score": .double(decision?.score ?? 0),
            "reasons": .array((decision?.reasons ?? []).map(JSONValue.string)),
            "rules": .array(rules),
        ])
    }

}
