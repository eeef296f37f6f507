import Foundation

/// One normalized event: a Segment message (identify, track, page, screen,
/// group, alias) in the single shape the pipeline and the rules see.
public struct Event: Sendable, Equatable {
    /// The Segment message types.
    public enum Kind: String, Sendable, CaseIterable {
        case identify, track, page, screen, group, alias
    }

    public var messageId: String
    public var kind: Kind
    /// The event name: a track's `event`; `Page Viewed`, `Screen Viewed`,
    /// `Identify`, `Group` or `Alias` for the other types; internal events
    /// such as `Segment Entered` carry their own.
    public var name: String
    public var userId: String?
    public var anonymousId: String?
    /// For `alias`: the id being merged into `userId`.
    public var previousId: String?
    public var groupId: String?
    public var properties: [String: JSONValue]
    public var traits: [String: JSONValue]
    public var context: [String: JSONValue]
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    /// The sender's own time, kept when the server corrected it (a clock
    /// running ahead: ``Timestamps/skewCorrected(_:sentAt:receivedAt:tolerance:)``).
    public var originalTimestamp: Int64?
    /// True for events the engine makes itself (segment changes).
    public var isInternal: Bool
    /// The text stored as the event's payload: a replayed line exactly as
    /// read, or the server's ``json`` text made on the request's thread
    /// (when nil, ``json`` is written when the event is recorded).
    public var raw: String?
    /// Where the sender's message held card numbers, masked by the
    /// normalizer (``CardNumbers``): `properties.card_number`. The message as
    /// sent must then not be stored: only the masked event.
    public var maskedCardNumbers: [String] = []

    public init(messageId: String, kind: Kind, name: String, userId: String? = nil, anonymousId: String? = nil,
                previousId: String? = nil, groupId: String? = nil, properties: [String: JSONValue] = [:],
                traits: [String: JSONValue] = [:], context: [String: JSONValue] = [:], timestamp: Int64,
                isInternal: Bool = false) {
        self.messageId = messageId
        self.kind = kind
        self.name = name
        self.userId = userId
        self.anonymousId = anonymousId
        self.previousId = previousId
        self.groupId = groupId
        self.properties = properties
        self.traits = traits
        self.context = context
        self.timestamp = timestamp
        self.isInternal = isInternal
    }

    /// The event as JSON for the log.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "messageId": .string(messageId), "type": .string(kind.rawValue), "event": .string(name),
            "timestamp": .int(timestamp),
        ]
        if let originalTimestamp { object["originalTimestamp"] = .int(originalTimestamp) }
        if let userId { object["userId"] = .string(userId) }
        if let anonymousId { object["anonymousId"] = .string(anonymousId) }
        if let previousId { object["previousId"] = .string(previousId) }
        if let groupId { object["groupId"] = .string(groupId) }
        if !properties.isEmpty { object["properties"] = .object(properties) }
        if !traits.isEmpty { object["traits"] = .object(traits) }
        if !context.isEmpty { object["context"] = .object(context) }
        return .object(object)
    }

    /// A property as text.
    public func property(_ key: String) -> String? { properties[key]?.stringValue }
    /// A property as a number (numbers sent as strings included).
    public func number(_ key: String) -> Double? { properties[key]?.doubleValue }
}

/// Why a message was rejected; names the field at fault.
public struct NormalizationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String
    public var description: String { "field '\(field)': \(message)" }
}
