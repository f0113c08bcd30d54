import Foundation
import StewardPluginKit

/// The adapter `openai-chat@1.0.0`: one model call as a POST to `{base_url}/chat/completions`
/// in JSON output mode, with retries on rate limits, server errors and broken connections.
///
/// Thread-safe for real: every call keeps its state on its own stack; the only shared objects
/// are the URLSession (thread-safe) and the immutable descriptor.
enum ChatAdapter {
    static let id = "openai-chat"
    static let version = "1.0.0"

    /// One call: the settings from the parameters, the request, the answer mapped to the task.
    static func call(_ call: ModelCall) throws(StepFailure) -> ModelAnswer {
        let settings = try Settings.resolve(call.parameters.objectValue ?? [:], environment: ProcessInfo.processInfo.environment)
        let body = try Conversation.body(task: call.task, prompt: call.prompt, input: call.input, settings: settings)
        let reply = try send(Data(body.utf8), settings: settings, log: call.log)
        return try Answer.read(reply, task: call.task, settings: settings)
    }

    /// Posts the request, retrying 429, 408, 5xx and connection failures up to `max_retries`
    /// times with exponential backoff and jitter (or the server's `Retry-After`, capped by
    /// `max_retry_wait_ms`). After that, or on a timeout, the failure is transient and the
    /// engine's retry policy takes over.
    static func send(_ body: Data, settings: Settings, log: PluginLog) throws(StepFailure) -> Data {
        var headers = ["Content-Type": "application/json", "Accept": "application/json", "User-Agent": "steward-\(id)/\(version)"]
        if let key = settings.apiKey { headers["Authorization"] = "Bearer " + key }
        let endpoint = describe(settings.endpoint)
        var attempt = 1
        while true {
            let retryable: (reason: String, retryAfter: Int?)
            switch HTTP.post(settings.endpoint, headers: headers, body: body, timeoutMilliseconds: settings.timeoutMilliseconds) {
            case .timedOut:
                throw .transient("no answer from \(endpoint) within timeout_ms (\(settings.timeoutMilliseconds) ms)")
            case .refused(let why):
                throw .permanent("cannot call \(endpoint): \(why)")
            case .unreachable(let why):
                retryable = ("cannot reach \(endpoint): \(Secrets.redact(why, settings.apiKey))", nil)
            case .reply(let reply):
                switch reply.status {
                case 200..<300:
                    return reply.body
                case 429:
                    retryable = ("\(endpoint) is rate limiting (HTTP 429): \(serverMessage(reply.body, settings))", reply.retryAfterMilliseconds)
                case 408, 500...599:
                    retryable = ("\(endpoint) failed (HTTP \(reply.status)): \(serverMessage(reply.body, settings))", reply.retryAfterMilliseconds)
                case 401, 403:
                    // The server's text is left out: some servers echo the key they refused.
                    if let variable = settings.apiKeyVariable {
                        throw .permanent("\(endpoint) refused the API key from the environment variable \(variable) (HTTP \(reply.status)); check that the key is valid and allowed to use model '\(settings.model)'")
                    }
                    throw .permanent("\(endpoint) asks for an API key (HTTP \(reply.status)); set parameters.api_key_env to the name of an environment variable holding it")
                default:
                    throw .permanent("\(endpoint) refused the request (HTTP \(reply.status)): \(serverMessage(reply.body, settings))")
                }
            }
            guard attempt <= settings.maxRetries else {
                throw .transient("\(retryable.reason); gave up after \(attempt) attempt(s) (max_retries \(settings.maxRetries))")
            }
            let wait = delay(retry: attempt, retryAfter: retryable.retryAfter, settings: settings)
            log.warning("\(id)@\(version): \(retryable.reason); retry \(attempt) of \(settings.maxRetries) in \(wait) ms")
            if wait > 0 { Thread.sleep(forTimeInterval: Double(wait) / 1000) }
            attempt += 1
        }
    }

    /// The wait before retry `retry` (1-based): the server's `Retry-After` when it sent one,
    /// else `retry_backoff_ms * 2^(retry-1)` plus up to half that again at random; never more
    /// than `max_retry_wait_ms`.
    static func delay(retry: Int, retryAfter: Int?, settings: Settings) -> Int {
        if let retryAfter { return min(retryAfter, settings.maxRetryWaitMilliseconds) }
        let base = settings.retryBackoffMilliseconds << min(retry - 1, 16)
        let jitter = base > 1 ? Int.random(in: 0...(base / 2)) : 0
        return min(base + jitter, settings.maxRetryWaitMilliseconds)
    }

    /// The error text an endpoint sent (`error.message` of an OpenAI error body, else the
    /// start of the body), without the key.
    static func serverMessage(_ body: Data, _ settings: Settings) -> String {
        if let document = try? JSONValue.parse(body),
            let message = document["error"]?["message"]?.stringValue ?? document["error"]?.stringValue ?? document["message"]?.stringValue
        {
            return Excerpt.of(Data(message.utf8), hiding: settings.apiKey)
        }
        return Excerpt.of(body, hiding: settings.apiKey)
    }

    /// The endpoint for messages: scheme, host, port and path (never user info).
    static func describe(_ url: URL) -> String {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "the endpoint" }
        components.user = nil
        components.password = nil
        return components.string ?? "the endpoint"
    }
}
