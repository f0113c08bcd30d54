import BankingIntentModel
import Foundation
import StewardPluginKit
import Synchronization

/// Where the weights are and which rule chose the folder (named in error messages).
struct ModelLocation {
    let directory: String
    let source: String

    /// `model_dir` from the call's config or parameters, else `$STEWARD_MODEL_DIR`, else
    /// `Plugins/banking-intent/models` under the current directory. Relative paths are taken
    /// from the current directory.
    static func resolve(_ options: JSONValue) throws(StepFailure) -> ModelLocation {
        let chosen: (String, String)
        if let value = options["model_dir"] {
            guard let text = value.stringValue, !text.isEmpty else { throw .invalidInput("'model_dir' must be a non-empty string") }
            chosen = (text, "the model_dir setting")
        } else if let text = ProcessInfo.processInfo.environment["STEWARD_MODEL_DIR"], !text.isEmpty {
            chosen = (text, "$STEWARD_MODEL_DIR")
        } else {
            chosen = ("Plugins/banking-intent/models", "the default, relative to the current directory")
        }
        let absolute = chosen.0.hasPrefix("/")
            ? chosen.0 : FileManager.default.currentDirectoryPath + "/" + chosen.0
        return ModelLocation(directory: absolute, source: chosen.1)
    }
}

enum Classifier {
    static let adapterID = "banking-intent"
    static let versions = ["1.0.0", "2.0.0", "3.0.0"]

    /// Loaded models by file path. Loading happens once per file, under the lock; a failed
    /// load is not remembered, so weights that appear later are picked up.
    private static let models = Mutex<[String: IntentModel]>([:])

    static func model(version: String, at location: ModelLocation) throws(StepFailure) -> IntentModel {
        let path = location.directory + "/" + ModelFile.fileName(version: version)
        let result: Result<IntentModel, StepFailure> = models.withLock { cache in
            if let model = cache[path] { return .success(model) }
            guard FileManager.default.fileExists(atPath: path) else {
                return .failure(.permanent(
                    "\(adapterID)@\(version): no model weights at \(path) (folder from \(location.source)); train them with `swift build -c release --product banking-intent-train && .build/release/banking-intent-train` in a Steward checkout, or set model_dir or STEWARD_MODEL_DIR to a folder holding \(ModelFile.fileName(version: version))"))
            }
            do throws(BankingIntentError) {
                let model = try ModelFile.read(path: path)
                guard model.metadata.id == adapterID, model.metadata.version == version else {
                    return .failure(.permanent("\(path) holds \(model.metadata.id)@\(model.metadata.version), expected \(adapterID)@\(version)"))
                }
                cache[path] = model
                return .success(model)
            } catch {
                return .failure(.permanent("\(adapterID)@\(version): cannot load the model weights: \(error.description)"))
            }
        }
        return try result.get()
    }

    /// Top-k from the options: an integer in 1...77, default 5. Booleans are not numbers.
    static func topK(_ options: JSONValue) throws(StepFailure) -> Int {
        guard let value = options["top_k"] else { return 5 }
        guard let k = value.integerValue, (1...77).contains(k) else {
            throw .invalidInput("'top_k' must be an integer from 1 to 77")
        }
        return Int(k)
    }

    static func text(_ input: [String: JSONValue], fallback: String) throws(StepFailure) -> String {
        let text: String
        switch input["text"] {
        case .string(let value)?: text = value
        case nil: text = fallback
        default: throw .invalidInput("input field 'text' must be a string")
        }
        guard text.contains(where: { $0.isLetter || $0.isNumber }) else {
            throw .invalidInput("input field 'text' must hold a customer message with at least one word")
        }
        return text
    }

    /// `{"label", "alternatives": [{"label", "confidence"}...]}`, plus `extra` members, plus
    /// `out_of_scope_probability` from a model with an out-of-scope class (version 3).
    static func output(_ prediction: IntentPrediction, extra: [String: JSONValue] = [:]) -> JSONValue {
        var members = extra
        if let probability = prediction.outOfScopeProbability { members["out_of_scope_probability"] = number(probability) }
        members["label"] = .string(prediction.label)
        members["alternatives"] = .array(prediction.alternatives.map { alternative in
            ["label": .string(alternative.label), "confidence": number(alternative.confidence)]
        })
        return .object(members)
    }

    /// A finite number, else null (JSON has no infinities).
    static func number(_ value: Double) -> JSONValue { value.isFinite ? .double(value) : .null }

    // MARK: - The adapters

    static func adapter(_ call: ModelCall, version: String) throws(StepFailure) -> ModelAnswer {
        guard let input = call.input.objectValue else {
            throw .invalidInput("the input must be a JSON object like {\"text\": \"...\"}")
        }
        let text = try text(input, fallback: call.prompt)
        let k = try topK(call.parameters)
        let model = try model(version: version, at: ModelLocation.resolve(call.parameters))
        let prediction = model.predict(text, top: k)
        return ModelAnswer(
            output: output(prediction), confidence: prediction.confidence,
            usage: ModelUsage(inputTokens: UInt64(prediction.wordCount), outputTokens: 0))
    }

    // MARK: - The step

    /// banking.classify: input {text, version?}, config {model_dir?, version?, top_k?}.
    /// Output: the adapter's output plus "confidence" and "model" ("banking-intent@2.0.0").
    /// The default version stays 2.0.0 so templates written against the step keep their answers.
    static func step(_ call: StepCall) throws(StepFailure) -> JSONValue {
        guard let input = call.input.objectValue else {
            throw .invalidInput("the input must be a JSON object like {\"text\": \"...\", \"version\": \"2.0.0\"}")
        }
        let version: String
        switch input["version"] ?? call.config["version"] ?? "2.0.0" {
        case .string(let value) where versions.contains(value): version = value
        case .string(let value) where versions.contains(value + ".0.0"): version = value + ".0.0"
        default: throw .invalidInput("'version' must be one of \(versions.joined(separator: ", "))")
        }
        let text = try text(input, fallback: "")
        let model = try model(version: version, at: ModelLocation.resolve(call.config))
        let prediction = model.predict(text, top: try topK(call.config))
        return output(prediction, extra: ["confidence": number(prediction.confidence), "model": .string("\(adapterID)@\(version)")])
    }
}
