import Foundation

/// `/v1/decide` at a fixed rate from the lean C load generator
/// (``LoadGenerator``): keep-alive connections opened and used once before
/// the clock starts, as a checkout service keeps its own.
enum FixedRateDecisions {
    /// The body of one decision: an `Order Completed`.
    static func body(userId: String, messageId: String, total: Int) -> String {
        #"{"userId":"\#(userId)","event":"Order Completed","messageId":"\#(messageId)","#
            + #""properties":{"order_id":"o-\#(messageId)","total":\#(total),"card_fingerprint":"fp\#(total % 97)"}}"#
    }

    /// Sends `total` decisions at `rate` a second over `connections`
    /// connections; each one's due time, latency from it, and Server-Timing.
    static func run(port: Int, auth: String, rate: Int, total: Int, connections: Int = 32) async throws
        -> (decisions: [ServeBenchmark.TimedDecision], cpuSeconds: Double) {
        let warmups = (0..<connections).map { i in
            LoadGenerator.request("/v1/decide", port: port, auth: auth,
                                  body: body(userId: "warm-\(i)", messageId: "warm-\(i)", total: 20))
        }
        let requests = (0..<total).map { i in
            LoadGenerator.request("/v1/decide", port: port, auth: auth,
                                  body: body(userId: "bench-\(i % 500)", messageId: "decide-\(i)", total: 20 + i % 300))
        }
        let (results, cpuSeconds) = try await LoadGenerator.run(port: port, rate: Double(rate), warmups: warmups, requests: requests)
        let failed = results.filter { $0.status != 200 }.count
        guard failed == 0 else { throw LoadGenerator.LoadError(description: "\(failed) decisions got no 200 answer") }
        let decisions = results.map { result in
            ServeBenchmark.TimedDecision(start: result.scheduled_s, latency: result.latency_ms,
                                         server: result.server_ms >= 0 ? result.server_ms : nil)
        }
        return (decisions, cpuSeconds)
    }
}
