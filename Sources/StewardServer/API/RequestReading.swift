import Hummingbird
import StewardJSON

/// The largest request body accepted (1 MiB); larger ones get 413 before they are read.
let maxBodyBytes = 1 << 20

extension Request {
    /// The bearer token of an `Authorization: Bearer <token>` header, if any.
    var bearerToken: String? {
        guard let value = headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// The media type of the body, lower-cased, without parameters (`application/json`).
    var mediaType: String? {
        headers[.contentType].map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased() }
    }

    /// Reads at most `limit` bytes of body: 413 past the limit (announced or actual), 415
    /// unless the media type is one of `accepting`.
    func readBody(accepting mediaTypes: Set<String>, limit: Int = maxBodyBytes) async throws -> [UInt8] {
        guard let type = mediaType, mediaTypes.contains(type) else {
            throw APIError(
                .unsupportedMediaType, code: "unsupported_media_type",
                "the body must be \(mediaTypes.sorted().joined(separator: " or ")); Content-Type was \(headers[.contentType].map { "'\($0)'" } ?? "missing")")
        }
        if let length = headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw Self.tooLarge(limit)
        }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw Self.tooLarge(limit)
        }
    }

    static func tooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "body_too_large", "the request body is larger than \(limit) bytes")
    }

    /// Reads the body as a JSON object: 415 unless `application/json`, 400 for bad JSON,
    /// naming in `field` the member at fault when it is inside the object (`input.amount` for
    /// a number no double holds, which `JSONValue.parse` refuses).
    func jsonObject() async throws -> [String: JSONValue] {
        let bytes = try await readBody(accepting: ["application/json"])
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw APIError(.badRequest, code: "malformed_json", "the body is not valid JSON: \(error)", field: error.pathDescription)
        }
        guard case .object(let object) = value else {
            throw APIError(.badRequest, code: "malformed_json", "the body must be a JSON object, found \(value.typeName)")
        }
        return object
    }
}

/// Typed access to the fields of a JSON request body, each failure naming the field.
struct Fields {
    let object: [String: JSONValue]

    /// A required string.
    func string(_ name: String) throws -> String {
        guard let value = object[name], !value.isNull else { throw APIError.badField(name, "field '\(name)' is required") }
        guard let text = value.stringValue else { throw APIError.badField(name, "field '\(name)' must be a string, found \(value.typeName)") }
        return text
    }

    /// An optional string: absent is nil; `null` is refused like any other non-string, as the
    /// API document says (`"version": null` is not "the newest version").
    func optionalString(_ name: String) throws -> String? {
        guard let value = object[name] else { return nil }
        guard let text = value.stringValue else {
            throw APIError.badField(name, "field '\(name)' must be a string or left out, found \(value.typeName)")
        }
        return text
    }

    /// An optional boolean: absent is nil; anything but `true` or `false` is refused.
    func optionalBool(_ name: String) throws -> Bool? {
        guard let value = object[name] else { return nil }
        guard let flag = value.boolValue else {
            throw APIError.badField(name, "field '\(name)' must be true, false or left out, found \(value.typeName)")
        }
        return flag
    }

    /// A required object.
    func object(_ name: String) throws -> JSONValue {
        guard let value = object[name], !value.isNull else { throw APIError.badField(name, "field '\(name)' is required") }
        guard value.objectValue != nil else { throw APIError.badField(name, "field '\(name)' must be an object, found \(value.typeName)") }
        return value
    }

    /// Refuses fields not in `known` (a misspelt `idempotency_key` must not pass silently).
    func rejectUnknown(_ known: Set<String>) throws {
        if let extra = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError.badField(extra, "unknown field '\(extra)'; expected \(known.sorted().joined(separator: ", "))")
        }
    }
}

/// Header names HTTPTypes has no constant for. (`HTTPFields.Element` is `HTTPField`, reached
/// through Hummingbird's re-export without depending on swift-http-types directly.)
enum HeaderName {
    typealias Name = HTTPFields.Element.Name
    /// `Idempotency-Key`.
    static let idempotencyKey = Name("Idempotency-Key")!
    /// `X-Content-Type-Options`.
    static let contentTypeOptions = Name("X-Content-Type-Options")!
    /// `Referrer-Policy`.
    static let referrerPolicy = Name("Referrer-Policy")!
}
