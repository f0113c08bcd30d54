import BankingIntentModel
import Foundation
import StewardABI
import Synchronization

/// A failure mapped to an ABI status and a message for people.
struct CallError: Error {
    let status: stw_status
    let message: String

    static func invalid(_ message: String) -> CallError { CallError(status: stw_status(STW_ERR_INVALID_INPUT), message: message) }
    static func permanent(_ message: String) -> CallError { CallError(status: stw_status(STW_ERR_PERMANENT), message: message) }
}

/// Where the weights are and which rule chose the folder (named in error messages).
struct ModelLocation {
    let directory: String
    let source: String

    /// `model_dir` from the call's config or parameters, else `$STEWARD_MODEL_DIR`, else
    /// `Plugins/banking-intent/models` under the current directory. Relative paths are taken
    /// from the current directory.
    static func resolve(_ options: [String: Any]) throws(CallError) -> ModelLocation {
        let chosen: (String, String)
        if let value = options["model_dir"] {
            guard let text = value as? String, !text.isEmpty else { throw .invalid("'model_dir' must be a non-empty string") }
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
    static let versions = ["1.0.0", "2.0.0"]

    /// Loaded models by file path. Loading happens once per file, under the lock; a failed
    /// load is not remembered, so weights that appear later are picked up.
    private static let models = Mutex<[String: IntentModel]>([:])

    static func model(version: String, at location: ModelLocation) throws(CallError) -> IntentModel {
        let path = location.directory + "/" + ModelFile.fileName(version: version)
        let result: Result<IntentModel, CallError> = models.withLock { cache in
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

    /// Top-k from the options: an integer in 1...77, default 5.
    static func topK(_ options: [String: Any]) throws(CallError) -> Int {
        guard let value = options["top_k"] else { return 5 }
        // JSON true/false arrive as NSNumber too, of the boolean class; refuse them.
        guard let number = value as? NSNumber, type(of: number) != type(of: NSNumber(value: true)),
            let k = Int(exactly: number.doubleValue), (1...77).contains(k)
        else {
            throw .invalid("'top_k' must be an integer from 1 to 77")
        }
        return k
    }

    static func text(_ input: [String: Any], fallback: String) throws(CallError) -> String {
        let text: String
        switch input["text"] {
        case let value as String: text = value
        case nil: text = fallback
        default: throw .invalid("input field 'text' must be a string")
        }
        guard text.contains(where: { $0.isLetter || $0.isNumber }) else {
            throw .invalid("input field 'text' must hold a customer message with at least one word")
        }
        return text
    }

    /// `{"label", "alternatives": [{"label", "confidence"}...]}`, plus `extra` members.
    static func outputJSON(_ prediction: IntentPrediction, extra: [(String, String)] = []) -> String {
        var json = "{\"label\":" + JSONText.string(prediction.label) + ",\"alternatives\":["
        for (index, alternative) in prediction.alternatives.enumerated() {
            if index > 0 { json += "," }
            json += "{\"label\":" + JSONText.string(alternative.label) + ",\"confidence\":" + JSONText.number(alternative.confidence) + "}"
        }
        json += "]"
        for (key, value) in extra { json += "," + JSONText.string(key) + ":" + value }
        return json + "}"
    }

    // MARK: - The adapters

    static func adapter(
        _ request: UnsafePointer<stw_model_request>?, _ response: UnsafeMutablePointer<stw_model_response>?, version: String
    ) -> stw_status {
        let start = ContinuousClock.now
        guard let request, let response, let host = request.pointee.host else { return stw_status(STW_ERR_INTERNAL) }
        do throws(CallError) {
            let call = request.pointee
            guard call.task == STW_TASK_CLASSIFY else {
                throw CallError.invalid("\(adapterID)@\(version) serves only the classify task, not task \(call.task)")
            }
            guard let input = JSONText.object(call.input, call.input_length) else {
                throw CallError.invalid("the input must be a JSON object like {\"text\": \"...\"}")
            }
            let parameters = call.parameters_length == 0 ? [:] : JSONText.object(call.parameters, call.parameters_length)
            guard let parameters else { throw CallError.invalid("the parameters must be a JSON object") }
            let prompt = call.prompt.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: call.prompt_length), as: UTF8.self) } ?? ""
            let text = try text(input, fallback: prompt)
            let k = try topK(parameters)
            let model = try model(version: version, at: ModelLocation.resolve(parameters))
            let prediction = model.predict(text, top: k)
            let output = Array(outputJSON(prediction).utf8)
            guard let block = copy(output, host) else { throw CallError(status: stw_status(STW_ERR_INTERNAL), message: "out of memory") }
            response.pointee.output = block
            response.pointee.output_length = output.count
            response.pointee.confidence = prediction.confidence
            response.pointee.input_tokens = UInt64(prediction.wordCount)
            response.pointee.output_tokens = 0
            response.pointee.latency_microseconds = microseconds(since: start)
            return stw_status(STW_OK)
        } catch {
            response.pointee.error_message = copy(Array(error.message.utf8), host)
            response.pointee.error_message_length = response.pointee.error_message == nil ? 0 : error.message.utf8.count
            response.pointee.latency_microseconds = microseconds(since: start)
            return error.status
        }
    }

    // MARK: - The step

    /// banking.classify: input {text, version?}, config {model_dir?, version?, top_k?}.
    /// Output: the adapter's output plus "confidence" and "model" ("banking-intent@2.0.0").
    static func step(_ call: UnsafePointer<stw_step_call>?, _ result: UnsafeMutablePointer<stw_step_result>?) -> stw_status {
        guard let call, let result, let host = call.pointee.host else { return stw_status(STW_ERR_INTERNAL) }
        do throws(CallError) {
            guard let input = JSONText.object(call.pointee.input, call.pointee.input_length) else {
                throw CallError.invalid("the input must be a JSON object like {\"text\": \"...\", \"version\": \"2.0.0\"}")
            }
            let config = call.pointee.config_length == 0 ? [:] : JSONText.object(call.pointee.config, call.pointee.config_length)
            guard let config else { throw CallError.invalid("the config must be a JSON object") }
            let version: String
            switch input["version"] ?? config["version"] ?? "2.0.0" {
            case let value as String where versions.contains(value): version = value
            case let value as String where versions.contains(value + ".0.0"): version = value + ".0.0"
            default: throw CallError.invalid("'version' must be one of \(versions.joined(separator: ", "))")
            }
            let text = try text(input, fallback: "")
            let model = try model(version: version, at: ModelLocation.resolve(config))
            let prediction = model.predict(text, top: try topK(config))
            let json = outputJSON(prediction, extra: [
                ("confidence", JSONText.number(prediction.confidence)),
                ("model", JSONText.string("\(adapterID)@\(version)")),
            ])
            return json.withCString { pointer in stw_step_output(host, result, pointer, json.utf8.count) }
        } catch {
            return stw_step_error(host, result, error.status, error.message)
        }
    }

    static func copy(_ bytes: [UInt8], _ host: UnsafePointer<stw_host>) -> UnsafeMutablePointer<CChar>? {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in stw_host_copy(host, chars.baseAddress, chars.count) }
        }
    }

    static func microseconds(since start: ContinuousClock.Instant) -> UInt64 {
        let elapsed = ContinuousClock.now - start
        return UInt64(max(0, elapsed.components.seconds)) * 1_000_000 + UInt64(max(0, elapsed.components.attoseconds)) / 1_000_000_000_000
    }
}

/// JSON in and out: Foundation to read the small inputs, hand-written output (Foundation's
/// JSONSerialization writer is slow on Linux).
enum JSONText {
    static func object(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> [String: Any]? {
        guard let pointer else { return nil }
        let data = Data(bytes: pointer, count: length)
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A finite number as JSON (Swift's shortest round-trip form is valid JSON).
    static func number(_ value: Double) -> String {
        value.isFinite ? "\(value)" : "null"
    }
}
