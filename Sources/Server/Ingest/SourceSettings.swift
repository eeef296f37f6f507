import Engine
import Foundation
import Hummingbird

/// `GET /v1/projects/{writeKey}/settings`: the source settings analytics.js
/// (Segment's browser SDK) reads at load from its CDN, served here so that
/// `AnalyticsBrowser.load({ writeKey, cdnURL: "https://<this server>" })`
/// needs no Segment account: they send every event to this server
/// (`Segment.io`'s `apiHost`) and turn off the SDK's own metrics, which would
/// go to Segment. An unknown write key is `404`, so the SDK reports it.
extension TrackingAPI {
    func sourceSettings(_ request: Request, writeKey: String) -> Response {
        guard configuration.acceptsWriteKey(writeKey) else {
            return APIProblem(.notFound, "invalid_write_key", "the write key is not valid").response
        }
        let (scheme, host) = Self.publicAddress(configuration.publicURL, request)
        let settings: JSONValue = [
            "integrations": ["Segment.io": [
                "apiKey": .string(writeKey), "apiHost": .string(host + "/v1"), "protocol": .string(scheme), "retryQueue": true,
            ]],
            "metrics": ["sampleRate": 0],
            "plan": [:], "edgeFunction": [:], "analyticsNextEnabled": true,
            "middlewareSettings": [:], "enabledMiddleware": [:], "legacyVideoPluginsEnabled": false, "remotePlugins": [],
        ]
        var response = APIResponse.json(.ok, settings.jsonText)
        response.headers[.cacheControl] = "public, max-age=300"
        return response
    }

    /// The scheme and host (with port) browsers reach the server at: the
    /// configured public address, else the request's `Host` and `X-Forwarded-Proto`.
    static func publicAddress(_ configured: URL?, _ request: Request) -> (scheme: String, host: String) {
        if let configured, let scheme = configured.scheme, let host = configured.host {
            let port = configured.port.map { ":\($0)" } ?? ""
            return (scheme, host + port + configured.path)
        }
        let forwarded = request.headers[.init("X-Forwarded-Proto")!]?.split(separator: ",").first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let scheme = forwarded == "https" ? "https" : "http"
        return (scheme, request.head.authority ?? "127.0.0.1")
    }
}
