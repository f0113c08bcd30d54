import Foundation
import StewardPluginKit

/// The configuration of one call, from the call's `parameters` (set in the template's model
/// state) with environment fallbacks for the endpoint and the model.
///
/// Unknown parameters are ignored on purpose: a role may be rebound from another adapter
/// (a customer overlay swapping `banking-intent@2.0.0` for `openai-chat@1.0.0`) while the
/// state still carries that adapter's parameters (`top_k`).
struct Settings {
    /// `{base_url}/chat/completions`.
    let endpoint: URL
    let model: String
    /// The name of the environment variable holding the key, and the key (nil: no key is sent).
    let apiKeyVariable: String?
    let apiKey: String?
    let timeoutMilliseconds: Int
    let maxRetries: Int
    let temperature: Double
    let maxTokens: Int?
    /// classify: the labels the model must choose from (nil: any label).
    let labels: [String]?
    /// extract: the fields the answer must hold (nil: any object).
    let fields: [String]?
    /// First backoff between retries; doubles each retry (jitter added).
    let retryBackoffMilliseconds: Int
    /// The longest single wait, also for a server's `Retry-After`.
    let maxRetryWaitMilliseconds: Int

    static let baseURLVariable = "STEWARD_OPENAI_BASE_URL"
    static let modelVariable = "STEWARD_OPENAI_MODEL"

    static func resolve(_ parameters: [String: JSONValue], environment: [String: String]) throws(StepFailure) -> Settings {
        let baseText: String
        if let value = parameters["base_url"] {
            guard let text = value.stringValue, !text.isEmpty else { throw .permanent("'base_url' must be a non-empty string such as \"http://127.0.0.1:8080/v1\"") }
            baseText = text
        } else if let text = environment[baseURLVariable], !text.isEmpty {
            baseText = text
        } else {
            throw .permanent("no endpoint configured: set parameters.base_url in the model state (e.g. \"http://127.0.0.1:8080/v1\") or the environment variable \(baseURLVariable)")
        }
        var trimmed = baseText
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let base = URLComponents(string: trimmed), let scheme = base.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = base.host, !host.isEmpty, base.query == nil, base.fragment == nil,
            let endpoint = URL(string: trimmed + "/chat/completions")
        else {
            throw .permanent("base_url '\(baseText)' is not an http(s) URL without query, such as \"http://127.0.0.1:8080/v1\"")
        }

        let model: String
        if let value = parameters["model"] {
            guard let text = value.stringValue, !text.isEmpty else { throw .permanent("'model' must be a non-empty string") }
            model = text
        } else if let text = environment[modelVariable], !text.isEmpty {
            model = text
        } else {
            throw .permanent("no model configured: set parameters.model in the model state or the environment variable \(modelVariable)")
        }

        var apiKeyVariable: String?
        var apiKey: String?
        if let value = parameters["api_key_env"] {
            // Never echo the value: someone may have pasted the key itself here.
            guard let name = value.stringValue, isVariableName(name) else {
                throw .permanent("'api_key_env' must be the NAME of an environment variable that holds the key (letters, digits, _), never the key itself")
            }
            guard let key = environment[name], !key.isEmpty else {
                throw .permanent("the environment variable \(name) named by api_key_env is not set or empty")
            }
            apiKeyVariable = name
            apiKey = key
        }

        let labels = try stringList(parameters["labels"], "labels")
        if let labels, labels.isEmpty { throw .permanent("'labels' must list at least one label") }
        return Settings(
            endpoint: endpoint, model: model, apiKeyVariable: apiKeyVariable, apiKey: apiKey,
            timeoutMilliseconds: try integer(parameters["timeout_ms"], "timeout_ms", default: 30_000, in: 1...600_000),
            maxRetries: try integer(parameters["max_retries"], "max_retries", default: 2, in: 0...10),
            temperature: try number(parameters["temperature"], "temperature", default: 0, in: 0...2),
            maxTokens: parameters["max_tokens"] == nil ? nil : try integer(parameters["max_tokens"], "max_tokens", default: 0, in: 1...1_000_000),
            labels: labels, fields: try stringList(parameters["fields"], "fields"),
            retryBackoffMilliseconds: try integer(parameters["retry_backoff_ms"], "retry_backoff_ms", default: 500, in: 0...60_000),
            maxRetryWaitMilliseconds: try integer(parameters["max_retry_wait_ms"], "max_retry_wait_ms", default: 20_000, in: 0...300_000))
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    static func integer(_ value: JSONValue?, _ name: String, default fallback: Int, in range: ClosedRange<Int>) throws(StepFailure) -> Int {
        guard let value else { return fallback }
        guard let number = value.doubleValue, number.rounded() == number, let integer = Int(exactly: number), range.contains(integer) else {
            throw .permanent("'\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return integer
    }

    static func number(_ value: JSONValue?, _ name: String, default fallback: Double, in range: ClosedRange<Double>) throws(StepFailure) -> Double {
        guard let value else { return fallback }
        guard let number = value.doubleValue, range.contains(number) else {
            throw .permanent("'\(name)' must be a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    static func stringList(_ value: JSONValue?, _ name: String) throws(StepFailure) -> [String]? {
        guard let value else { return nil }
        guard let items = value.arrayValue else { throw .permanent("'\(name)' must be a list of strings") }
        var strings: [String] = []
        for item in items {
            guard let text = item.stringValue, !text.isEmpty else { throw .permanent("'\(name)' must be a list of non-empty strings") }
            strings.append(text)
        }
        return strings
    }
}
