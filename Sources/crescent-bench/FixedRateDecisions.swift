import CLoadGenerator
import Foundation

/// `/v1/decide` at a fixed rate from the lean C load generator
/// (`CLoadGenerator`): one thread, keep-alive connections opened and used
/// once before the clock starts, as a checkout service keeps its own. The
/// benchmark's AsyncHTTPClient checkout took about 320 µs of CPU a request
/// on the two cores the server needs too.
enum FixedRateDecisions {
    /// A failure of the load generator (a connection refused or broken).
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    /// The body of one decision: an `Order Completed`.
    static func body(userId: String, messageId: String, total: Int) -> String {
        #"{"userId":"\#(userId)","event":"Order Completed","messageId":"\#(messageId)","#
            + #""properties":{"order_id":"o-\#(messageId)","total":\#(total),"card_fingerprint":"fp\#(total % 97)"}}"#
    }

    /// One whole HTTP/1.1 request to `/v1/decide`.
    static func request(port: Int, auth: String, body: String) -> [CChar] {
        let text = "POST /v1/decide HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: \(auth)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        return Array(text.utf8).map { CChar(bitPattern: $0) }
    }

    /// Sends `total` decisions at `rate` a second over `connections`
    /// connections; each one's due time, latency from it, and Server-Timing.
    static func run(port: Int, auth: String, rate: Int, total: Int, connections: Int = 32) async throws
        -> (decisions: [ServeBenchmark.TimedDecision], cpuSeconds: Double) {
        let warmups = (0..<connections).map { i in
            request(port: port, auth: auth, body: body(userId: "warm-\(i)", messageId: "warm-\(i)", total: 20))
        }
        let requests = (0..<total).map { i in
            request(port: port, auth: auth, body: body(userId: "bench-\(i % 500)", messageId: "decide-\(i)", total: 20 + i % 300))
        }
        return try await withCheckedThrowingContinuation { continuation in
            // Its own thread: the generator blocks in ppoll for the whole run.
            Thread.detachNewThread {
                continuation.resume(with: Result { try send(port: port, rate: rate, warmups: warmups, requests: requests) })
            }
        }
    }

    private static func send(port: Int, rate: Int, warmups: [[CChar]], requests: [[CChar]]) throws
        -> (decisions: [ServeBenchmark.TimedDecision], cpuSeconds: Double) {
        var results = [crescent_load_result](repeating: crescent_load_result(), count: requests.count)
        var cpuSeconds = 0.0
        var error = [CChar](repeating: 0, count: 256)
        let status = withPointers(warmups) { warmups, warmupLengths in
            withPointers(requests) { requests, lengths in
                crescent_load_fixed_rate(Int32(port), Int32(warmups.count), Double(rate), warmups, warmupLengths,
                                         requests, lengths, Int32(requests.count), &results, &cpuSeconds, &error, error.count)
            }
        }
        guard status == 0 else {
            throw LoadError(description: "the load generator stopped: " + String(decoding: error.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self))
        }
        let failed = results.filter { $0.status != 200 }.count
        guard failed == 0 else { throw LoadError(description: "\(failed) decisions got no 200 answer") }
        let decisions = results.map { result in
            ServeBenchmark.TimedDecision(start: result.scheduled_s, latency: result.latency_ms,
                                         server: result.server_ms >= 0 ? result.server_ms : nil)
        }
        return (decisions, cpuSeconds)
    }

    /// Calls `body` with C pointers to each buffer and their lengths.
    private static func withPointers<T>(_ buffers: [[CChar]],
                                        _ body: ([UnsafePointer<CChar>?], [Int]) -> T) -> T {
        let copies = buffers.map { buffer -> UnsafeMutablePointer<CChar> in
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, buffer.count))
            copy.initialize(from: buffer, count: buffer.count)
            return copy
        }
        defer { copies.forEach { $0.deallocate() } }
        return body(copies.map { UnsafePointer($0) }, buffers.map(\.count))
    }
}
