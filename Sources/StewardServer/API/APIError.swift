import Hummingbird
import StewardJSON
import StewardReview
import StewardCore
import StewardEngine

/// A refused API request: an HTTP status, a stable machine-readable `code`, a message for
/// people and, for a bad field, the field's name. Rendered as
/// `{"error": {"code": "...", "message": "...", "field": "..."}}`.
public struct APIError: Error, Sendable, HTTPResponseError, CustomStringConvertible {
    /// The HTTP status.
    public let status: HTTPResponse.Status
    /// A stable code, e.g. `malformed_json`, `forbidden`, `already_decided`.
    public let code: String
    /// A readable explanation.
    public let message: String
    /// The request field at fault, when there is one (`input`, `limit`, `decision`, ...).
    public let field: String?
    /// Extra headers (`WWW-Authenticate`, `Allow`).
    public let headers: HTTPFields

    /// Creates an error.
    public init(_ status: HTTPResponse.Status, code: String, _ message: String, field: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
    }

    /// "<status> <code>: <message>".
    public var description: String { "\(status.code) \(code): \(message)" }

    /// The JSON error document.
    public var jsonValue: JSONValue {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let field { error["field"] = .string(field) }
        return ["error": .object(error)]
    }

    /// The response, with the JSON document as its body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(jsonValue, status: status)
        for field in headers { response.headers.append(field) }
        return response
    }

    // MARK: The common refusals

    /// 401: no usable bearer token (`WWW-Authenticate: Bearer` tells the client what to send).
    static func unauthenticated(_ message: String) -> APIError {
        APIError(.unauthorized, code: "unauthenticated", message, headers: [.wwwAuthenticate: "Bearer realm=\"steward\""])
    }

    /// 403: the caller is known but may not do this.
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, code: "forbidden", message) }

    /// 404.
    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }

    /// 400 naming the field that is missing or of the wrong type.
    static func badField(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_field", message, field: field)
    }

    /// The status a review refusal maps onto.
    static func review(_ error: ReviewError) -> APIError {
        switch error.kind {
        case .unauthenticated: return .unauthenticated(error.message)
        case .forbidden: return .forbidden(error.message)
        case .notFound: return .notFound(error.message)
        case .conflict: return APIError(.conflict, code: "conflict", error.message)
        case .claimed: return APIError(.conflict, code: "claimed", error.message)
        case .invalid: return APIError(.unprocessableContent, code: "invalid_decision", error.message)
        }
    }

    /// The status an engine refusal maps onto.
    static func engine(_ error: EngineError) -> APIError {
        if error.isNotFound { return .notFound(error.description) }
        if error.isConflict { return APIError(.conflict, code: "conflict", error.description) }
        return APIError(.unprocessableContent, code: "invalid", error.description)
    }
}

/// Building JSON responses from `JSONValue` (hand-written serialisation, no Foundation encoder).
enum JSONResponse {
    /// A response with `value` as its JSON body.
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var bytes = value.jsonBytes
        bytes.append(UInt8(ascii: "\n"))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
