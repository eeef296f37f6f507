import Engine
import EventGenerator
import Foundation

/// What normalizing costs per message, and the card-number masking's share
/// of it (`BENCH_ONLY=normalize`): the generated messages are parsed once,
/// then normalized, and masked alone, best of three rounds each.
enum NormalizeBenchmark {
    static func run(events: Int) throws {
        let file = try BenchFiles.events(events, announce: true).file
        let text = try String(contentsOf: file, encoding: .utf8)
        let messages = try text.split(separator: "\n").map { try JSONValue.parse(bytes: Array($0.utf8)) }
        func best(_ body: () throws -> Int) rethrows -> (seconds: Double, count: Int) {
            var fastest = Double.infinity, count = 0
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                count = try body()
                fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return (fastest, count)
        }
        let normalized = best {
            var masked = 0
            for message in messages { masked += ((try? Normalizer.normalize(message, now: 0))?.maskedCardNumbers.count ?? 0) }
            return masked
        }
        let maskedOnly = best { messages.reduce(0) { $0 + (CardNumbers.masked($1) == nil ? 0 : 1) } }
        print("Normalizing \(messages.count) generated messages (parsed beforehand), best of 3:")
        print(String(format: "  normalize            %6.2f µs/message  (%d card numbers masked)",
                     normalized.seconds / Double(messages.count) * 1e6, normalized.count))
        print(String(format: "  of which, masking    %6.2f µs/message  (every string and number scanned for card numbers)",
                     maskedOnly.seconds / Double(messages.count) * 1e6))
    }
}
