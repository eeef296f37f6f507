import Engine
import Foundation
import Hummingbird
import NIOCore

/// Segment's Tracking Pixel API: `GET /v1/pixel/{type}` in an `<img>` of an
/// e-mail or an ad, where no script runs and nothing can be posted. The
/// message comes as `?data=` (base64 or plain JSON) or as flat parameters
/// (`userId=...&event=Email Opened&properties.subject=...&writeKey=...`);
/// RudderStack's `/pixel/v1/track` and `/pixel/v1/page` take the latter.
/// Every request is answered `200` with a transparent 1×1 GIF, as Segment
/// does: an image cannot show an error. What was refused is counted and
/// kept for `GET /v1/rejected` like any other refused message.
extension TrackingAPI {
    static let pixelKinds = ["track", "page", "identify", "screen", "group", "alias"]

    /// The 43-byte transparent GIF every pixel request gets.
    static let transparentGIF: [UInt8] = [
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xFF, 0xFF, 0xFF, 0x21, 0xF9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B,
    ]

    func registerPixels(on router: Router<BasicRequestContext>) {
        for kind in Self.pixelKinds {
            router.get(RouterPath("/v1/pixel/\(kind)")) { request, _ in await self.pixel(request, kind: kind) }
        }
        // RudderStack's pixel paths, with flat parameters.
        for kind in ["track", "page"] {
            router.get(RouterPath("/pixel/v1/\(kind)")) { request, _ in await self.pixel(request, kind: kind) }
        }
    }

    func pixel(_ request: Request, kind: String) async -> Response {
        let gif = Response(status: .ok, headers: [.contentType: "image/gif", .cacheControl: "no-store, max-age=0"],
                           body: ResponseBody(byteBuffer: ByteBuffer(bytes: Self.transparentGIF)))
        let message = Self.pixelMessage(request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        switch await messages(of: request, single: kind, body: Array(message.jsonText.utf8)) {
        case .failure(let problem):
            metrics.rejected(problem.code)
        case .success(let intake):
            _ = await commit(intake) // a refusal is counted; the image is the answer all the same
        }
        return gif
    }

    /// The message a pixel's query carries: `data` as base64 (standard or
    /// URL-safe, padding optional) or plain JSON; else the parameters
    /// themselves, a dotted name nesting (`properties.subject`).
    static func pixelMessage(_ query: [(name: String, value: String)]) -> JSONValue {
        if let data = query.first(where: { $0.name == "data" })?.value {
            var base64 = data.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            for bytes in [Data(base64Encoded: base64), Data(data.utf8)] {
                if let bytes, let value = try? JSONValue.parse(bytes), case .object = value { return value }
            }
            return .object([:])
        }
        var message: [String: JSONValue] = [:]
        for (name, value) in query {
            let path = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !path.contains(where: \.isEmpty) else { continue }
            set(.string(value), at: path[...], in: &message)
        }
        return .object(message)
    }

    private static func set(_ value: JSONValue, at path: ArraySlice<String>, in object: inout [String: JSONValue]) {
        guard let key = path.first else { return }
        if path.count == 1 {
            object[key] = value
            return
        }
        var inner = object[key]?.object ?? [:]
        set(value, at: path.dropFirst(), in: &inner)
        object[key] = .object(inner)
    }
}
