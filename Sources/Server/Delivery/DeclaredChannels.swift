import Engine
import Foundation

/// Webhook channels declared in rules or plugins:
///
///     channel "crm" { url = "https://crm.example/hooks", secret_env = "CRM_WEBHOOK_SECRET", max_attempts = 8 }
///
/// The secret is read from the named environment variable, never written in a
/// rule file. A channel in the server's configuration wins over a declared
/// one of the same name.
enum DeclaredChannels {
    /// The declared channels, and a problem for each that cannot be used.
    static func resolve(_ declarations: [RuleDeclaration], environment: [String: String]) -> (channels: [String: WebhookChannel], problems: [String]) {
        var channels: [String: WebhookChannel] = [:]
        var problems: [String] = []
        for d in declarations where d.kind == .channel {
            let place = "\(d.file):\(d.line): channel \"\(d.name)\""
            guard let url = d.string("url"), let scheme = URL(string: url)?.scheme, ["http", "https"].contains(scheme) else {
                problems.append("\(place): url must be an http(s) address")
                continue
            }
            guard let variable = d.string("secret_env"), let secret = environment[variable], !secret.isEmpty else {
                problems.append("\(place): the environment variable \(d.string("secret_env") ?? "?") holding its secret is not set; not delivered")
                continue
            }
            channels[d.name] = WebhookChannel(url: url, secret: secret, maxAttempts: d.number("max_attempts").flatMap { Int64(finite: $0) }.map { Int(clamping: $0) } ?? 8)
        }
        return (channels, problems)
    }
}
