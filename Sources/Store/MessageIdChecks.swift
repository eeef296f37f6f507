import Foundation
import GRDB

/// The duplicate check's reads: whether the log already holds a message id,
/// one at a time or for a whole batch at once.
extension CrescentStore {
    /// Whether a message with this id is already in the log.
    public func hasEvent(messageId: String) throws -> Bool {
        messageIdLookups.add(1, ordering: .relaxed)
        return try pointRead { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM events WHERE message_id = ?)"),
                              arguments: [messageId]) ?? false
        }
    }

    /// Which of `messageIds` are already in the log, in a read per 500 ids
    /// (their `IN` lists padded like the customer snapshots', so the
    /// statements come from the cache).
    public func storedMessageIds(among messageIds: [String]) throws -> Set<String> {
        try pointRead { db in
            var stored = Set<String>()
            for start in stride(from: 0, to: messageIds.count, by: 500) {
                let chunk = Self.padded(Array(messageIds[start..<min(messageIds.count, start + 500)]))
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let found = try String.fetchCursor(db.cachedStatement(sql: "SELECT message_id FROM events WHERE message_id IN (\(marks))"),
                                                   arguments: StatementArguments(chunk))
                while let id = try found.next() { stored.insert(id) }
            }
            return stored
        }
    }
}
