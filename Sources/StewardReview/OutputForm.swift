import Foundation
import StewardJSON

/// The edit form of a checkpoint's output, generated from its output contract.
///
/// The contract (`OutputContract` in StewardCore) is the shape of the output under review: an
/// edit keeps the original's type and, for an object, every field with its type. So the form
/// has one field per member of the original: a text area for a string, a select for a string
/// whose choices the output names (a `label` beside `alternatives` of labels), a number input
/// for a number, a yes/no select for a boolean, and a JSON text area for a list, an object or
/// a null. `parse` turns the posted fields back into the output, or into one message per field
/// that is wrong, so the page can show each beside its field and keep what the reviewer typed.
public struct OutputForm: Sendable, Equatable {
    /// How a field is edited.
    public enum Control: Sendable, Equatable {
        /// A text area, `rows` high.
        case text(rows: Int)
        /// One of `options` (the current value first).
        case choice(options: [String])
        /// A number; `integer` only whole numbers.
        case number(integer: Bool)
        /// Yes or no.
        case boolean
        /// JSON text (lists, objects, nulls).
        case json(rows: Int)
    }

    /// One field of the form.
    public struct Field: Sendable, Equatable {
        /// The output member's name; nil for an output that is not an object (one field edits it all).
        public var key: String?
        /// The label people read ("Body", "Confidence").
        public var label: String
        /// How it is edited.
        public var control: Control
        /// The value as the control shows it.
        public var value: String
        /// The form field's name: `field.<key>`, or `field` for a whole-output field.
        public var name: String { key.map { "field.\($0)" } ?? "field" }
    }

    /// The fields, in the original's key order (sorted by name, as JSON objects have no order).
    public var fields: [Field]

    /// The form for editing `original` (the output under review).
    public init(original: JSONValue) {
        if case .object(let members) = original {
            let labels = Self.alternativeLabels(members)
            fields = members.sorted { Self.order($0.key, $1.key) }.map { key, value in
                Self.field(key: key, value: value, choices: key == "label" ? labels : [])
            }
        } else {
            fields = [Self.field(key: nil, value: original, choices: [])]
        }
    }

    /// The output the posted `values` (form field name to text) describe, or the message for
    /// each field that cannot be read (keyed by the field's `name`). A field missing from the
    /// post keeps its original value; a text that was not empty may not be emptied.
    public static func parse(_ values: [String: String], original: JSONValue) -> Result<JSONValue, FieldErrors> {
        var errors: [String: String] = [:]
        func read(_ field: Field, original: JSONValue) -> JSONValue? {
            guard let text = values[field.name] else { return original }
            switch field.control {
            case .text, .choice:
                let normalised = text.replacingOccurrences(of: "\r\n", with: "\n")
                if normalised.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                    !(original.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                {
                    errors[field.name] = "\(field.label) cannot be empty."
                    return nil
                }
                return .string(normalised)
            case .number(let integer):
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                if integer {
                    guard let number = Int64(trimmed) else {
                        errors[field.name] = "\(field.label) must be a whole number, like \(original.integerValue ?? 3); found '\(trimmed)'."
                        return nil
                    }
                    return .integer(number)
                }
                guard let number = Double(trimmed), number.isFinite else {
                    errors[field.name] = "\(field.label) must be a number, like \(Self.numberText(original)); found '\(trimmed)'."
                    return nil
                }
                return .double(number)
            case .boolean:
                switch text {
                case "true": return .bool(true)
                case "false": return .bool(false)
                default:
                    errors[field.name] = "\(field.label) must be yes or no."
                    return nil
                }
            case .json:
                do {
                    return try JSONValue.parse(text)
                } catch {
                    errors[field.name] = "\(field.label) is not valid JSON: \(error)"
                    return nil
                }
            }
        }
        let form = OutputForm(original: original)
        var output: JSONValue
        if case .object(var members) = original {
            for field in form.fields {
                guard let key = field.key else { continue }
                if let value = read(field, original: members[key] ?? .null) { members[key] = value }
            }
            output = .object(members)
        } else {
            output = form.fields.first.flatMap { read($0, original: original) } ?? original
        }
        guard errors.isEmpty else { return .failure(FieldErrors(messages: errors)) }
        return .success(output)
    }

    /// The messages of a form that could not be read, by field name.
    public struct FieldErrors: Error, Sendable, Equatable, CustomStringConvertible {
        /// Field name (`field.body`) to message.
        public var messages: [String: String]
        /// Every message, sorted by field.
        public var description: String { messages.sorted { $0.key < $1.key }.map(\.value).joined(separator: " ") }
    }

    // MARK: Building fields

    static func field(key: String?, value: JSONValue, choices: [String]) -> Field {
        let label = key.map(Self.label) ?? "Output"
        switch value {
        case .string(let text):
            if !choices.isEmpty {
                return Field(key: key, label: label, control: .choice(options: [text] + choices.filter { $0 != text }), value: text)
            }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            let rows = min(16, max(key == "subject" || key == "title" ? 1 : 3, lines + text.count / 70))
            return Field(key: key, label: label, control: .text(rows: rows), value: text)
        case .integer(let number):
            return Field(key: key, label: label, control: .number(integer: true), value: String(number))
        case .double:
            return Field(key: key, label: label, control: .number(integer: false), value: numberText(value))
        case .bool(let flag):
            return Field(key: key, label: label, control: .boolean, value: flag ? "true" : "false")
        default:
            let text = value.prettyJSONString
            return Field(key: key, label: label, control: .json(rows: min(12, max(3, text.split(separator: "\n").count))), value: text)
        }
    }

    /// The labels an output offers as alternatives to its `label`: `alternatives` (or
    /// `top_k`, `candidates`) as strings or objects with a `label`.
    static func alternativeLabels(_ members: [String: JSONValue]) -> [String] {
        guard members["label"]?.stringValue != nil else { return [] }
        for key in ["alternatives", "top_k", "candidates"] {
            guard let items = members[key]?.arrayValue else { continue }
            let labels = items.compactMap { $0.stringValue ?? $0["label"]?.stringValue }
            if !labels.isEmpty { return labels }
        }
        return []
    }

    /// "subject" -> "Subject", "first_line" -> "First line".
    public static func label(_ key: String) -> String {
        let words = key.replacingOccurrences(of: "_", with: " ")
        return words.prefix(1).uppercased() + words.dropFirst()
    }

    /// Subject and label-like fields first, then the rest by name.
    public static func order(_ a: String, _ b: String) -> Bool {
        let first = ["subject", "title", "label", "body", "text"]
        switch (first.firstIndex(of: a), first.firstIndex(of: b)) {
        case (let x?, let y?): return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a < b
        }
    }

    static func numberText(_ value: JSONValue) -> String {
        guard let number = value.doubleValue else { return "0.5" }
        if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }
}
