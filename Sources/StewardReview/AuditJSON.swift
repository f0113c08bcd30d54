import Foundation
import StewardEngine
import StewardJSON

/// The JSON shapes of audits that the CLI and the HTTP API print (documented in
/// `Docs/openapi.yaml`, schema `AuditItem`).
public enum AuditJSON {
    /// An audit item as `view` lets its viewer see it; `time` renders a millisecond timestamp
    /// (ISO-8601 text in the API).
    public static func item(_ view: AuditView, time: (Int64) -> JSONValue) -> JSONValue {
        let item = view.item
        var object: [String: JSONValue] = [
            "id": .integer(item.id), "instance": .string(item.instanceID), "template": .string(item.template),
            "version": .string(item.templateVersion), "checkpoint": .string(item.checkpoint), "visit": .integer(Int64(item.visit)),
            "credential": .string(item.credential), "status": .string(item.status),
            "needed_reviews": .integer(Int64(item.neededReviews)), "reviews_given": .integer(Int64(view.reviewsGiven)),
            "second_review": .bool(view.isSecondReview), "can_review": .bool(view.canReview), "rate": .double(item.rate),
            "created_at": time(item.createdAt), "bindings": .object(item.bindings.mapValues { .string($0) }),
            "items": .array(item.items.map { ["path": .string($0.path), "value": $0.value] }), "input": item.input,
            "verdicts": .array(item.verdicts.map { verdict in
                [
                    "reviewer": .string(verdict.reviewer), "credential": .string(verdict.credential), "at": time(verdict.at),
                    "items": .array(verdict.judgements.map(\.jsonValue)),
                ]
            }),
        ]
        if let customer = item.customer { object["customer"] = .string(customer) }
        return .object(object)
    }

    /// `value` as JSON through its `Encodable` conformance (keys as its coding keys; an
    /// absent optional is left out).
    public static func encode(_ value: some Encodable) throws -> JSONValue {
        try JSONValue.parse(Array(JSONEncoder().encode(value)))
    }

    /// One judgement of a verdict written as `PATH=correct` or `PATH=wrong:VALUE` (VALUE as
    /// JSON when it parses, else as a string; `PATH=wrong` alone leaves the value out, which
    /// the desk refuses with its reason). Nil when the text has neither form.
    public static func judgement(_ text: String) -> AuditJudgement? {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let path = String(text[..<equals])
        let verdict = text[text.index(after: equals)...]
        guard !path.isEmpty else { return nil }
        if verdict == "correct" { return AuditJudgement(path: path, correct: true) }
        if verdict == "wrong" { return AuditJudgement(path: path, correct: false) }
        guard verdict.hasPrefix("wrong:") else { return nil }
        return AuditJudgement(path: path, correct: false, correction: value(String(verdict.dropFirst("wrong:".count))))
    }

    /// A correct value as a person types it: JSON when it parses (`"P1"`, `3`, `{"a": 1}`),
    /// else the text itself as a string (`P1`).
    public static func value(_ text: String) -> JSONValue {
        (try? JSONValue.parse(text)) ?? .string(text)
    }
}
