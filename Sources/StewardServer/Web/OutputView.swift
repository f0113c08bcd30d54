import Foundation
import StewardJSON
import StewardReview

/// An output under review as people read it: each member of an object as a labelled part —
/// text with its line breaks, a number, a list — and a classification (`label` with a
/// `confidence` and `alternatives`) as the label, its confidence as a percentage and the
/// alternatives with theirs. Anything else (nested objects) shows as indented JSON.
enum OutputView {
    /// The parts of `value` for the `task` page's `reviewed` section.
    static func render(_ value: JSONValue) -> [[String: Any]] {
        guard case .object(let members) = value else { return [part(label: "Output", value: value)] }
        var parts: [[String: Any]] = []
        if let label = members["label"]?.stringValue {
            var part: [String: Any] = ["label": "Label", "isText": true, "text": label, "emphasis": true]
            if let confidence = members["confidence"]?.doubleValue { part["note"] = "confidence \(percent(confidence))" }
            parts.append(part)
        }
        for (key, member) in members.sorted(by: { OutputForm.order($0.key, $1.key) }) where key != "label" {
            if key == "confidence", members["label"] != nil { continue }
            if ["alternatives", "top_k", "candidates"].contains(key), let items = member.arrayValue {
                parts.append([
                    "label": "Alternatives", "isList": true,
                    "items": items.map { item -> [String: Any] in
                        let name = item.stringValue ?? item["label"]?.stringValue ?? item.jsonString
                        return ["text": item["confidence"]?.doubleValue.map { "\(name) (\(percent($0)))" } ?? name]
                    },
                ])
                continue
            }
            parts.append(part(label: OutputForm.label(key), value: member))
        }
        return parts
    }

    static func part(label: String, value: JSONValue) -> [String: Any] {
        switch value {
        case .string(let text): return ["label": label, "isText": true, "text": text]
        case .integer, .double, .bool: return ["label": label, "isText": true, "text": value.jsonString]
        case .null: return ["label": label, "isText": true, "text": "none"]
        case .array(let items) where items.allSatisfy({ $0.stringValue != nil }):
            return ["label": label, "isList": true, "items": items.map { ["text": $0.stringValue ?? ""] }]
        default: return ["label": label, "isJSON": true, "json": value.prettyJSONString]
        }
    }

    /// 0.8234 -> "82%".
    static func percent(_ fraction: Double) -> String { "\(Int((fraction * 100).rounded()))%" }
}
