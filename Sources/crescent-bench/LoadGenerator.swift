import CLoadGenerator
import Foundation

/// The lean C load generator (`CLoadGenerator`) from Swift: whole HTTP/1.1
/// requests sent over keep-alive connections from one thread of its own,
/// so that the load takes little of the two cores it shares with the server
/// (AsyncHTTPClient took about 320 µs of CPU a request).
enum LoadGenerator {
    /// A failure of the load generator (a connection refused or broken).
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    /// One whole HTTP/1.1 `POST` of a JSON body.
    static func request(_ path: String, port: Int, auth: String, body: String) -> [CChar] {
        let text = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: \(auth)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        return Array(text.utf8).map { CChar(bitPattern: $0) }
    }

    /// Opens one connection per warm-up and sends it there; once all are
    /// answered, sends `requests` at `rate` a second (open loop), or with
    /// a `rate` of 0 as fast as the connections are answered (closed loop,
    /// one request in flight on each). What became of each request, and the
    /// CPU the generator used after the warm-ups.
    static func run(port: Int, rate: Double, warmups: [[CChar]], requests: [[CChar]]) async throws
        -> (results: [crescent_load_result], cpuSeconds: Double) {
        try await withCheckedThrowingContinuation { continuation in
            // Its own thread: the generator blocks in ppoll for the whole run.
            Thread.detachNewThread {
                continuation.resume(with: Result { try send(port: port, rate: rate, warmups: warmups, requests: requests) })
            }
        }
    }

    private static func send(port: Int, rate: Double, warmups: [[CChar]], requests: [[CChar]]) throws
        -> (results: [crescent_load_result], cpuSeconds: Double) {
        var results = [crescent_load_result](repeating: crescent_load_result(), count: requests.count)
        var cpuSeconds = 0.0
        var error = [CChar](repeating: 0, count: 256)
        let status = withPointers(warmups) { warmups, warmupLengths in
            withPointers(requests) { requests, lengths in
                crescent_load_fixed_rate(Int32(port), Int32(warmups.count), rate, warmups, warmupLengths,
                                         requests, lengths, Int32(requests.count), &results, &cpuSeconds, &error, error.count)
            }
        }
        guard status == 0 else {
            throw LoadError(description: "the load generator stopped: " + String(decoding: error.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self))
        }
        return (results, cpuSeconds)
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
