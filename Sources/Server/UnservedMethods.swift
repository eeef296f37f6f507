import Hummingbird

/// Answers a request that matched no route: `405 Method Not Allowed` with an
/// `Allow` header when its path is served with other methods (a `GET` on
/// `/v1/track`), else `404`, both with the API's `{"code", "message"}` body.
///
/// Added to the router after every route, so it wraps only the router's
/// not-found responder (Hummingbird applies a middleware to the routes added
/// after it and to that responder): a matched route never passes here. The
/// methods of each path come from the router's own route list.
struct UnservedMethods<Context: RequestContext>: RouterMiddleware {
    /// Each served path, as its components, with the methods it is served with.
    private let paths: [(components: [RouterPath.Element], methods: [HTTPRequest.Method])]

    init(routes: [Router<Context>.RouteDescription]) {
        var paths: [(components: [RouterPath.Element], methods: [HTTPRequest.Method])] = []
        for route in routes {
            let components = Array(route.path)
            // The router answers `HEAD` wherever it answers `GET` (`autoGenerateHeadEndpoints`).
            let methods: [HTTPRequest.Method] = route.method == .get ? [.get, .head] : [route.method]
            if let index = paths.firstIndex(where: { $0.components == components }) {
                paths[index].methods.append(contentsOf: methods)
            } else {
                paths.append((components, methods))
            }
        }
        self.paths = paths
    }

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let allowed = methods(serving: request.uri.path)
        guard !allowed.isEmpty else {
            return APIProblem(.notFound, "not_found", "no such path: \(request.uri.path)").response
        }
        var response = APIProblem(.methodNotAllowed, "method_not_allowed",
                                  "\(request.method) is not served on \(request.uri.path); it takes \(allowed.map(\.rawValue).joined(separator: ", "))").response
        response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        return response
    }

    /// The methods of every route whose path matches `path`, in the router's order.
    func methods(serving path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var methods: [HTTPRequest.Method] = []
        for served in paths where served.components.count == segments.count {
            guard zip(served.components, segments).allSatisfy({ element, segment in element ~= segment }) else { continue }
            for method in served.methods where !methods.contains(method) { methods.append(method) }
        }
        return methods
    }
}
