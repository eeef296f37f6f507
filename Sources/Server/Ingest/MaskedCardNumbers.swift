import Engine
import Foundation
import Synchronization

/// Card numbers the ingest masked (``CardNumbers``): counted in `/metrics`
/// (`crescent_card_numbers_masked_total`) and written to the log the first
/// time each field carries one, naming the field and the message, so the
/// shop can fix the sender. The number itself is never logged.
final class MaskedCardNumbers: Sendable {
    private let seenFields = Mutex<Set<String>>([])
    /// How many fields get a log line; past them, card numbers are only counted.
    static let loggedFields = 100
    private let log: @Sendable (String) -> Void

    init(log: @escaping @Sendable (String) -> Void) {
        self.log = log
    }

    /// Counts and reports the card numbers masked in `events`, which `source` (a path) sent.
    func report(_ events: [Event], from source: String, metrics: ServerMetrics) {
        var count = 0
        for event in events where !event.maskedCardNumbers.isEmpty {
            count += event.maskedCardNumbers.count
            // At most `loggedFields` fields are remembered: a sender inventing field names cannot grow the set or flood the log.
            let fresh = seenFields.withLock { seen in
                event.maskedCardNumbers.filter { seen.count < Self.loggedFields && seen.insert($0).inserted }
            }
            for field in fresh {
                log("warning: a card number in \(field) of message \(event.messageId) (\(source)) was masked before it was stored; "
                    + "the sender should not send card numbers (next ones in this field are only counted: crescent_card_numbers_masked_total)")
            }
        }
        metrics.cardNumbersMasked(count)
    }
}
