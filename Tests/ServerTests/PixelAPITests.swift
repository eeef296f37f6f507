import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Server
import Store
import Testing

@Suite("Tracking pixel API")
struct PixelAPITests {
    /// `?data=` as an e-mail template would write it: URL-safe base64 without padding.
    static func data(_ json: String) -> String {
        Data(json.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test("an e-mail open as base64, as plain JSON or as flat parameters becomes an event; the answer is always the GIF")
    func opens() async throws {
        let (server, _) = try makeServer()
        let store = server.gateway.engine.store
        try await Application(router: server.router()).test(.router) { client in
            let encoded = Self.data(#"{"writeKey":"wk","userId":"ana","event":"Email Opened","messageId":"px-1","properties":{"subject":"Spring ✿ sale?"}}"#)
            let open = try await client.execute(uri: "/v1/pixel/track?data=\(encoded)", method: .get)
            #expect(open.status == .ok)
            #expect(open.headers[.contentType] == "image/gif")
            #expect(open.headers[.cacheControl]?.contains("no-store") == true, "every open reaches the server")
            #expect(Array(open.body.readableBytesView) == TrackingAPITestsGIF.bytes)
            let first = try #require(try store.event(messageId: "px-1"))
            #expect(first.name == "Email Opened")
            #expect(first.payload.contains("Spring ✿ sale?"))
            #expect(!first.payload.contains("writeKey"), "the key is not stored with the event")

            let plain = #"{"writeKey":"wk","anonymousId":"anon-px","name":"Landing","messageId":"px-2"}"#
                .addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            #expect(try await client.execute(uri: "/v1/pixel/page?data=\(plain)", method: .get).status == .ok)
            #expect(try store.event(messageId: "px-2")?.type == "page")

            let flat = "/v1/pixel/track?userId=bo&event=Email%20Opened&properties.subject=Spring&properties.campaign.name=march&messageId=px-3&writeKey=wk"
            #expect(try await client.execute(uri: flat, method: .get).status == .ok)
            let nested = try #require(try store.event(messageId: "px-3"))
            #expect(nested.payload.contains(#""properties":{"campaign":{"name":"march"},"subject":"Spring"}"#), "\(nested.payload)")

            // RudderStack's pixel path, flat parameters.
            let rudder = "/pixel/v1/page?anonymousId=anon-rs&name=Offer&context.page.url=https%3A%2F%2Fshop.example%2Foffer&messageId=px-4&writeKey=wk"
            #expect(try await client.execute(uri: rudder, method: .get).headers[.contentType] == "image/gif")
            #expect(try store.event(messageId: "px-4")?.payload.contains(#""url":"https://shop.example/offer""#) == true)

            // Refused all the same with the image: a wrong key, no id. The refused message is kept.
            let events = try store.count("events")
            let wrongKey = try await client.execute(uri: "/v1/pixel/track?data=\(Self.data(#"{"writeKey":"nope","userId":"x","event":"E"}"#))", method: .get)
            #expect(wrongKey.status == .ok)
            #expect(wrongKey.headers[.contentType] == "image/gif")
            let noId = try await client.execute(uri: "/v1/pixel/track?data=\(Self.data(#"{"writeKey":"wk","event":"Email Opened"}"#))", method: .get)
            #expect(noId.status == .ok)
            let garbage = try await client.execute(uri: "/v1/pixel/identify?data=%%%not-base64", method: .get)
            #expect(garbage.status == .ok)
            #expect(try store.count("events") == events)
            let rejected = try await client.execute(uri: "/v1/rejected", method: .get, headers: [.authorization: "Bearer admin"])
            let sources = (rejected.json["entries"] as? [[String: Any]] ?? []).compactMap { $0["source"] as? String }
            #expect(sources.contains("/v1/pixel/track"), "\(rejected.text)")
        }
    }
}

/// The transparent 1×1 GIF (GIF89a), byte for byte.
enum TrackingAPITestsGIF {
    static let bytes: [UInt8] = Array("GIF89a".utf8) + [0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                                          0x21, 0xF9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00,
                                                          0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B]
}
