import GRDB

/// A message the ingest API refused: kept so that whoever runs the server
/// can see what a client sent and why it was not accepted.
public struct RejectedMessage: Sendable, Equatable {
    /// Row id, increasing; 0 before the message is stored.
    public var id: Int64
    /// When it arrived (milliseconds since the epoch).
    public var receivedAt: Int64
    /// Where it came from: the endpoint, and the item for a batch (`/v1/batch[3]`).
    public var source: String
    /// The error code the client was given (`invalid_message`).
    public var code: String
    /// Why: the field and what is wrong with it.
    public var reason: String
    /// The message as received (JSON), without its write key; only its
    /// first ``payloadKept`` bytes when longer.
    public var payload: String
    /// The ids the message named, if any: a customer's export and erasure include the message.
    public var userId: String?
    public var anonymousId: String?

    /// How much of a refused message is kept (bytes).
    public static let payloadKept = 4096

    public init(id: Int64 = 0, receivedAt: Int64, source: String, code: String, reason: String, payload: String,
                userId: String? = nil, anonymousId: String? = nil) {
        self.id = id
        self.receivedAt = receivedAt
        self.source = source
        self.code = code
        self.reason = reason
        self.payload = Self.prefix(of: payload, bytes: Self.payloadKept)
        self.userId = userId
        self.anonymousId = anonymousId
    }
}

extension RejectedMessage {
    /// At most `limit` bytes of `text`, cut between characters.
    static func prefix(of text: String, bytes limit: Int) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > limit else { return text }
        var end = limit
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 } // not inside a character's bytes
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}

/// The refused messages' table: written in small batches, trimmed to the
/// latest ``rejectedMessagesKept``, read newest first.
extension CrescentStore {
    /// How many refused messages are kept; older ones are dropped as new ones come.
    public static let rejectedMessagesKept: Int64 = 10_000

    /// Stores refused messages and drops those beyond the latest `keep`.
    public func recordRejected(_ messages: [RejectedMessage], keep: Int64 = rejectedMessagesKept) throws {
        guard !messages.isEmpty else { return }
        try writer.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO rejected_messages (received_at, source, code, reason, payload, user_id, anonymous_id)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            for m in messages {
                try insert.execute(arguments: [m.receivedAt, m.source, m.code, m.reason, m.payload, m.userId, m.anonymousId])
            }
            try db.execute(sql: "DELETE FROM rejected_messages WHERE id <= ?", arguments: [db.lastInsertedRowID - keep])
        }
    }

    /// Refused messages, newest first, `limit` with an id below `before` (paging).
    public func rejectedMessages(before: Int64 = .max, limit: Int = 100) throws -> [RejectedMessage] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM rejected_messages WHERE id < ? ORDER BY id DESC LIMIT ?
                """, arguments: [before, limit]).map {
                RejectedMessage(id: $0["id"], receivedAt: $0["received_at"], source: $0["source"], code: $0["code"],
                                reason: $0["reason"], payload: $0["payload"], userId: $0["user_id"], anonymousId: $0["anonymous_id"])
            }
        }
    }
}
