import Foundation
import StewardABI

/// The adapter `openai-chat@1.0.0`: one model call as a POST to `{base_url}/chat/completions`
/// in JSON output mode, with retries on rate limits, server errors and broken connections.
///
/// Thread-safe for real: every call keeps its state on its own stack; the only shared objects
/// are the URLSession (thread-safe) and the immutable descriptor.
enum ChatAdapter {
    static let id = "openai-chat"
    static let version = "1.0.0"

    static func invoke(_ request: UnsafePointer<stw_model_request>?, _ response: UnsafeMutablePointer<stw_model_response>?) -> stw_status {
        let start = ContinuousClock.now
        guard let request, let response, let host = request.pointee.host else { return stw_status(STW_ERR_INTERNAL) }
        do throws(AdapterFailure) {
            let answer = try call(request.pointee, host: host)
            let output = Array(answer.output.text.utf8)
            guard let block = copy(output, host) else { throw .internal("out of memory for a \(output.count)-byte output") }
            response.pointee.output = block
            response.pointee.output_length = output.count
            response.pointee.confidence = answer.confidence
            response.pointee.input_tokens = answer.promptTokens
            response.pointee.output_tokens = answer.completionTokens
            response.pointee.latency_microseconds = microseconds(since: start)
            return stw_status(STW_OK)
        } catch {
            let message = Array(error.message.utf8)
            response.pointee.error_message = copy(message, host)
            response.pointee.error_message_length = response.pointee.error_message == nil ? 0 : message.count
            response.pointee.latency_microseconds = microseconds(since: start)
            return error.status
        }
    }

    static func call(_ call: stw_model_request, host: UnsafePointer<stw_host>) throws(AdapterFailure) -> Answer {
        guard let task = TaskKind(rawValue: call.task) else {
            throw .invalidInput("unknown task \(call.task); \(id) serves classify, extract, generate and score")
        }
        let input: JSON
        if call.input_length == 0 {
            input = .null
        } else {
            guard let parsed = JSON.parse(call.input, call.input_length) else { throw .invalidInput("the input is not a JSON document") }
            input = parsed
        }
        var parameters: [String: JSON] = [:]
        if call.parameters_length > 0 {
            guard let parsed = JSON.parse(call.parameters, call.parameters_length)?.objectValue else {
                throw .invalidInput("the parameters are not a JSON object")
            }
            parameters = parsed
        }
        let prompt = call.prompt.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: call.prompt_length), as: UTF8.self) } ?? ""
        let settings = try Settings.resolve(parameters, environment: ProcessInfo.processInfo.environment)
        let body = try Conversation.body(task: task, prompt: prompt, input: input, settings: settings)
        let reply = try send(Data(body.utf8), settings: settings, host: host)
        return try Answer.read(reply, task: task, settings: settings)
    }

    /// Posts the request, retrying 429, 408, 5xx and connection failures up to `max_retries`
    /// times with exponential backoff and jitter (or the server's `Retry-After`, capped by
    /// `max_retry_wait_ms`). After that, or on a timeout, the failure is transient and the
    /// engine's retry policy takes over.
    static func send(_ body: Data, settings: Settings, host: UnsafePointer<stw_host>) throws(AdapterFailure) -> Data {
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
            log(host, STW_LOG_WARNING, "\(id)@\(version): \(retryable.reason); retry \(attempt) of \(settings.maxRetries) in \(wait) ms")
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
        if let document = JSON.parse(body),
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

    static func log(_ host: UnsafePointer<stw_host>, _ level: Int32, _ message: String) {
        guard let write = host.pointee.log else { return }
        var text = message
        text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { write(host.pointee.context, level, $0.baseAddress, $0.count) }
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
