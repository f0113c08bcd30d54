import Foundation
import StewardPluginKit

/// What the endpoint answered, mapped to the uniform output of the task.
enum Answer {
    /// Reads an OpenAI chat completion: `choices[0].message.content` parsed as JSON, and
    /// `usage`. An answer that is not one, or whose content is not the JSON the task needs, is
    /// a permanent failure: the same request would get the same garbage. The confidence is the
    /// model's own when it gave one in [0, 1], else not reported.
    static func read(_ body: Data, task: ModelTask, settings: Settings) throws(StepFailure) -> ModelAnswer {
        guard let completion = try? JSONValue.parse(body), completion.objectValue != nil else {
            throw .permanent("the endpoint's answer is not JSON, so not a chat completion: \(Excerpt.of(body, hiding: settings.apiKey))")
        }
        guard let choice = completion["choices"]?.arrayValue?.first, let message = choice["message"] else {
            throw .permanent("the endpoint's answer has no choices[0].message, so it is not a chat completion: \(Excerpt.of(body, hiding: settings.apiKey))")
        }
        let finish = choice["finish_reason"]?.stringValue
        guard let content = message["content"]?.stringValue else {
            if let refusal = message["refusal"]?.stringValue {
                throw .permanent("the model refused: \(Excerpt.of(Data(refusal.utf8), hiding: settings.apiKey))")
            }
            throw .permanent("the model returned no content (finish_reason \(finish ?? "absent"))")
        }
        guard let document = try? JSONValue.parse(content) else {
            let cut = finish == "length" ? " (cut off at max_tokens: finish_reason length)" : ""
            throw .permanent("the model returned content that is not JSON\(cut): \(Excerpt.of(Data(content.utf8), hiding: settings.apiKey))")
        }
        var (output, confidence) = try map(document, task: task, settings: settings)
        if confidence.map({ !(0...1).contains($0) }) ?? false { confidence = nil }
        return ModelAnswer(
            output: output, confidence: confidence,
            usage: ModelUsage(
                inputTokens: count(completion["usage"]?["prompt_tokens"]), outputTokens: count(completion["usage"]?["completion_tokens"])))
    }

    /// The task's output shape, and the model's confidence taken out of it.
    static func map(_ document: JSONValue, task: ModelTask, settings: Settings) throws(StepFailure) -> (JSONValue, Double?) {
        let garbage = "the model's JSON answer for the \(task) task"
        switch task {
        case .classify:
            guard var members = document.objectValue else { throw .permanent("\(garbage) is not an object: \(excerpt(document))") }
            guard let raw = members["label"]?.stringValue, !raw.isEmpty else {
                throw .permanent("\(garbage) has no string 'label': \(excerpt(document))")
            }
            guard let label = canonical(raw, settings.labels) else {
                throw .permanent("\(garbage) picked label '\(raw)', which is not one of the labels: \(settings.labels!.joined(separator: ", "))")
            }
            let confidence = members.removeValue(forKey: "confidence")?.doubleValue
            var output: [String: JSONValue] = ["label": .string(label)]
            let alternatives = (members["alternatives"]?.arrayValue ?? []).compactMap { item -> JSONValue? in
                let name = item.stringValue ?? item["label"]?.stringValue
                guard let name, let known = canonical(name, settings.labels) else { return nil }
                var alternative: [String: JSONValue] = ["label": .string(known)]
                if let value = item["confidence"]?.doubleValue, (0...1).contains(value) { alternative["confidence"] = .double(value) }
                return .object(alternative)
            }
            if !alternatives.isEmpty { output["alternatives"] = .array(alternatives) }
            return (.object(output), confidence)
        case .extract:
            guard var members = document.objectValue else { throw .permanent("\(garbage) is not an object: \(excerpt(document))") }
            let missing = (settings.fields ?? []).filter { members[$0] == nil }
            guard missing.isEmpty else {
                throw .permanent("\(garbage) lacks the required field(s) \(missing.joined(separator: ", ")): \(excerpt(document))")
            }
            let confidence = members.removeValue(forKey: "confidence")?.doubleValue
            guard !members.isEmpty else { throw .permanent("\(garbage) is an empty object") }
            return (.object(members), confidence)
        case .generate:
            switch document {
            case .string(let text): return (["text": .string(text)], nil)
            case .object(var members):
                let confidence = members.removeValue(forKey: "confidence")?.doubleValue
                if let text = members["text"], text.stringValue == nil {
                    throw .permanent("\(garbage) has a 'text' that is not a string: \(excerpt(document))")
                }
                guard !members.isEmpty else { throw .permanent("\(garbage) is an empty object, with no 'text'") }
                return (.object(members), confidence)
            default:
                throw .permanent("\(garbage) is neither an object nor a string: \(excerpt(document))")
            }
        case .score:
            guard var members = document.objectValue else { throw .permanent("\(garbage) is not an object: \(excerpt(document))") }
            guard let score = members["score"]?.doubleValue else {
                throw .permanent("\(garbage) has no numeric 'score': \(excerpt(document))")
            }
            let confidence = members.removeValue(forKey: "confidence")?.doubleValue
            guard score.isFinite else { throw .permanent("\(garbage) has a 'score' that is not finite") }
            return (["score": members["score"]!], confidence)
        }
    }

    /// The label as listed (exact, else the one listed label equal ignoring case); any label
    /// when no list was given.
    static func canonical(_ label: String, _ labels: [String]?) -> String? {
        guard let labels else { return label }
        if labels.contains(label) { return label }
        let folded = labels.filter { $0.caseInsensitiveCompare(label) == .orderedSame }
        return folded.count == 1 ? folded[0] : nil
    }

    static func count(_ value: JSONValue?) -> UInt64 {
        guard let number = value?.doubleValue, number >= 0, number.rounded() == number else { return 0 }
        return UInt64(exactly: number) ?? 0
    }

    static func excerpt(_ document: JSONValue) -> String { Excerpt.of(Data(document.jsonBytes), hiding: nil) }
}

/// The start of a text the endpoint sent, for error messages: one line, at most 200
/// characters, the key removed.
enum Excerpt {
    static func of(_ data: Data, hiding secret: String?) -> String {
        var text = Secrets.redact(String(decoding: data, as: UTF8.self), secret)
        text = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        if text.isEmpty { return "(empty)" }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
