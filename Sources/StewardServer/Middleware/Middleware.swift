import Hummingbird
import Logging

/// Logs one line per request: method, path (no query string), status and duration. Never
/// headers or bodies, so bearer tokens, cookies and CSRF tokens stay out of the log.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = StewardRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var status = 500
        defer {
            let elapsed = ContinuousClock.now - started
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            logger.info(
                "request",
                metadata: [
                    "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(status)",
                    "ms": "\((milliseconds * 10).rounded() / 10)",
                ])
        }
        let response = try await next(request, context)
        status = response.status.code
        return response
    }
}

/// Turns every failure into the right answer: the JSON error document on the API, an HTML
/// page under `/review` and `/console`; 405 with `Allow` when the path exists for other methods (and for
/// `TRACE` on any path); 500 for
/// anything unexpected (logged, with no detail to the client).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = StewardRequestContext
    let server: StewardServer
    let routes: RouteIndex

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = translate(error, request: request)
            if request.uri.path.hasPrefix("/review") || request.uri.path.hasPrefix("/console") {
                return server.problemPage(apiError, request: request)
            }
            return try apiError.response(from: request, context: context)
        }
    }

    func translate(_ error: any Error, request: Request) -> APIError {
        if let error = error as? APIError { return error }
        if let error = error as? any HTTPResponseError {
            switch error.status {
            case .notFound:
                let methods = routes.methods(matching: request.uri.path)
                // TRACE is never served (it would echo requests, cookies included): 405 on every
                // path, with the path's own methods (none, for a path without routes).
                if !methods.isEmpty || request.method == .trace {
                    let allow = methods.map(\.rawValue).sorted().joined(separator: ", ")
                    return APIError(
                        .methodNotAllowed, code: "method_not_allowed", "\(request.method.rawValue) is not allowed on \(request.uri.path); allowed: \(allow)",
                        headers: [.allow: allow])
                }
                return .notFound("no route for \(request.method.rawValue) \(request.uri.path)")
            case .contentTooLarge:
                return Request.tooLarge(maxBodyBytes)
            default:
                return APIError(error.status, code: "http_\(error.status.code)", error.status.reasonPhrase)
            }
        }
        server.logger.error(
            "request failed unexpectedly", metadata: ["method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "error": "\(error)"])
        return APIError(.internalServerError, code: "internal", "the server failed to handle the request; the error is in its log")
    }
}
