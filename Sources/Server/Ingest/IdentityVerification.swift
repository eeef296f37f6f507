import Crypto
import Engine
import Foundation

/// Identity verification for browser write keys: with the shop's identity
/// secret set, a message sent with a browser key that names a `userId`
/// carries `context.user_hash`, the hex HMAC-SHA256 of that user id under
/// the secret, which only the shop's server can compute (it puts it in the
/// page of the user it logged in). A message without it, or with a wrong
/// one, is refused, so a stranger holding the page's public key cannot
/// speak for a customer: unsubscribe them, fill their history, or push
/// their counters. Anonymous messages need none. The hash is a credential:
/// it is taken out of the message before anything stores it.
struct IdentityVerification: Sendable {
    /// The shop's identity secret.
    let secret: Data

    init(secret: String) { self.secret = Data(secret.utf8) }

    /// The hash the shop's server gives the page of `userId`: hex HMAC-SHA256 under the secret.
    func userHash(_ userId: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(userId.utf8), using: SymmetricKey(data: secret))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Checks a browser key's message; returns it without its hash.
    func verified(_ message: JSONValue) throws(UnverifiedUserId) -> JSONValue {
        guard case .object(var fields) = message else { return message }
        var context = fields["context"]?.object ?? [:]
        let hash = context.removeValue(forKey: "user_hash")?.stringValue
        if fields["context"] != nil { fields["context"] = .object(context) }
        let userId = fields["userId"]?.stringValue ?? fields["user_id"]?.stringValue
        if let userId, !userId.isEmpty {
            guard let hash, ServerConfiguration.constantTimeEqual(Data(hash.lowercased().utf8), Data(userHash(userId).utf8)) else {
                throw UnverifiedUserId(userId: userId, given: hash != nil)
            }
        }
        return .object(fields)
    }
}

/// A browser key's message that names a user without the shop's proof.
struct UnverifiedUserId: Error, CustomStringConvertible {
    var userId: String
    /// Whether a hash came, and was wrong.
    var given: Bool
    var description: String {
        "field 'context.user_hash': \(given ? "is not" : "is required as") the HMAC-SHA256 of the user id '\(userId.prefix(64))' "
            + "under the shop's identity secret (identity verification is on for browser write keys)"
    }
}
