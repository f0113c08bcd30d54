import Foundation
import StewardJSON
import Yams

/// Checks a JSON value against a schema written in a documented file (`Docs/openapi.yaml`,
/// `Docs/cli-json.yaml`): the subset of JSON Schema those files use — `type` (one or a list),
/// `enum`, `pattern`, `required`, `properties`, `additionalProperties: false`, `items`, `allOf`, and
/// `$ref: '#/...'` into the same document. A hand-written subset because no Swift package here
/// validates JSON Schema, and the documents use nothing beyond these keywords.
public enum SchemaCheck {
    /// A schema document written in YAML, as JSON (easier to walk than Yams' `Any`).
    /// - Throws: Yams' error for YAML that does not parse; `SchemaDocumentError` for a value
    ///   JSON cannot hold.
    public static func document(yaml text: String) throws -> JSONValue {
        try json(Yams.load(yaml: text) as Any)
    }

    static func json(_ value: Any) throws -> JSONValue {
        switch value {
        case let dictionary as [String: Any]: return .object(try dictionary.mapValues(json))
        case let dictionary as [AnyHashable: Any]:
            return .object(Dictionary(uniqueKeysWithValues: try dictionary.map { ("\($0.key)", try json($0.value)) }))
        case let array as [Any]: return .array(try array.map(json))
        case let bool as Bool: return .bool(bool)
        case let int as Int: return .integer(Int64(int))
        case let double as Double: return .double(double)
        case let string as String: return .string(string)
        case is NSNull: return .null
        default:
            if Mirror(reflecting: value).displayStyle == .optional { return .null }
            throw SchemaDocumentError(description: "unexpected YAML value \(value)")
        }
    }

    /// Follows `$ref: '#/a/b'` within `document`, as often as it takes.
    public static func resolve(_ value: JSONValue, in document: JSONValue) -> JSONValue {
        guard let reference = value["$ref"]?.stringValue, reference.hasPrefix("#/") else { return value }
        let target = document.value(at: reference.dropFirst(2).split(separator: "/")) ?? .null
        return resolve(target, in: document)
    }

    /// The ways `value` breaks `schema`, each as "LOCATION: what is wrong" (empty: it conforms).
    /// - Parameters: `document` is the file `$ref`s point into; `location` names the value in
    ///   the messages (nested values get `.field` and `[index]` appended).
    public static func problems(_ value: JSONValue, against schemaValue: JSONValue, in document: JSONValue, at location: String) -> [String] {
        let schema = resolve(schemaValue, in: document)
        var problems: [String] = []
        for part in schema["allOf"]?.arrayValue ?? [] {
            problems += self.problems(value, against: part, in: document, at: location)
        }
        var types: [String] = []
        if let type = schema["type"]?.stringValue { types = [type] }
        if let list = schema["type"]?.arrayValue { types = list.compactMap(\.stringValue) }
        if !types.isEmpty, !types.contains(where: { matches(value, type: $0) }) {
            return problems + ["\(location): expected \(types.joined(separator: " or ")), found \(value.typeName)"]
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            problems.append("\(location): \(value.jsonString) is not one of \(allowed.map(\.jsonString))")
        }
        if let pattern = schema["pattern"]?.stringValue, let text = value.stringValue {
            if let regex = try? Regex(pattern) {
                if (try? regex.firstMatch(in: text)) == nil {
                    problems.append("\(location): '\(text)' does not match \(pattern)")
                }
            } else {
                problems.append("\(location): the schema's pattern \(pattern) is not a regular expression")
            }
        }
        if case .object(let object) = value {
            for required in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[required] == nil {
                problems.append("\(location): missing required field '\(required)'")
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            for (name, property) in properties {
                if let member = object[name] { problems += self.problems(member, against: property, in: document, at: "\(location).\(name)") }
            }
            if schema["additionalProperties"] == false {
                for name in object.keys.sorted() where properties[name] == nil {
                    problems.append("\(location): field '\(name)' is not documented")
                }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() {
                problems += self.problems(item, against: itemSchema, in: document, at: "\(location)[\(index)]")
            }
        }
        return problems
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch type {
        case "object": return value.objectValue != nil
        case "array": return value.arrayValue != nil
        case "string": return value.stringValue != nil
        case "integer": if case .integer = value { return true } else { return false }
        case "number": return value.doubleValue != nil
        case "boolean": return value.boolValue != nil
        case "null": return value.isNull
        default: return true
        }
    }
}

/// A schema document holding a value JSON cannot.
public struct SchemaDocumentError: Error, Sendable, CustomStringConvertible {
    /// What was found.
    public let description: String
}
