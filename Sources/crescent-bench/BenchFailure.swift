import Foundation

/// How `crescent-bench` ends when a benchmark cannot go on: one line on
/// standard error naming the benchmark and the reason, and exit status 1,
/// rather than a Swift runtime trap and its backtrace.
enum BenchFailure {
    /// Runs `body`, the benchmark called `name`; a thrown error ends the run (``stop(_:_:)``).
    static func guarding<T>(_ name: String, _ body: () async throws -> T) async -> T {
        do {
            return try await body()
        } catch {
            stop(name, "\(error)")
        }
    }

    /// Reports that benchmark `name` failed and why, then exits with status 1.
    static func stop(_ name: String, _ reason: String) -> Never {
        fflush(nil) // what was measured before is printed above the message
        FileHandle.standardError.write(Data("crescent-bench: the \(name) benchmark failed: \(reason)\n".utf8))
        exit(1)
    }
}

/// A benchmark's own reason to stop, printed as it is.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
