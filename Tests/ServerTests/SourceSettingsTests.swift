import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Testing

@Suite("analytics.js source settings")
struct SourceSettingsTests {
    func segmentIO(_ response: TestResponse) -> [String: Any] {
        ((response.json["integrations"] as? [String: Any])?["Segment.io"] as? [String: Any]) ?? [:]
    }

    @Test("analytics.js with this server as its cdnURL is told to send here, without Segment's metrics; an unknown key is 404")
    func settings() async throws {
        let (server, _) = try makeServer()
        try await Application(router: server.router()).test(.router) { client in
            let page: HTTPFields = [.origin: "https://shop.example", .init("X-Forwarded-Proto")!: "https"]
            let response = try await client.execute(uri: "/v1/projects/wk/settings", method: .get, headers: page)
            #expect(response.status == .ok)
            #expect(response.headers[.accessControlAllowOrigin] == "*", "the page's script reads it")
            let segment = segmentIO(response)
            #expect(segment["apiKey"] as? String == "wk")
            #expect((segment["apiHost"] as? String)?.hasSuffix("/v1") == true, "\(segment)")
            #expect(segment["protocol"] as? String == "https", "behind a TLS proxy")
            #expect((response.json["metrics"] as? [String: Any])?["sampleRate"] as? Int == 0)
            #expect((response.json["integrations"] as? [String: Any])?.count == 1, "no destination loads in the page")

            let unknown = try await client.execute(uri: "/v1/projects/nope/settings", method: .get, headers: page)
            #expect(unknown.status == .notFound)
            #expect(unknown.json["code"] as? String == "invalid_write_key")
        }
    }

    @Test("the configured public address wins over the request's")
    func publicURL() async throws {
        let (server, _) = try makeServer { try $0.apply(environment: ["CRESCENT_PUBLIC_URL": "https://events.shop.example:8443/crescent"]) }
        try await Application(router: server.router()).test(.router) { client in
            let response = try await client.execute(uri: "/v1/projects/wk/settings", method: .get)
            #expect(segmentIO(response)["apiHost"] as? String == "events.shop.example:8443/crescent/v1")
            #expect(segmentIO(response)["protocol"] as? String == "https")
        }
    }
}
