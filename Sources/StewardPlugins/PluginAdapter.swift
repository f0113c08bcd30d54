import StewardABI
import StewardJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an adapter reports it used for one call (zero when it does not know).
public struct AdapterUsage: Sendable, Equatable {
    /// Tokens read (the banking adapter counts words).
    public var inputTokens: UInt64
    /// Tokens written.
    public var outputTokens: UInt64
    /// The adapter's own latency, as it measured it.
    public var latencyMicroseconds: UInt64

    /// Creates a usage record.
    public init(inputTokens: UInt64, outputTokens: UInt64, latencyMicroseconds: UInt64) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.latencyMicroseconds = latencyMicroseconds
    }
}

/// A model adapter's checked answer.
public struct AdapterResponse: Sendable, Equatable {
    /// The output document, parsed.
    public var output: JSONValue
    /// Confidence in [0, 1], or nil when the adapter did not report one (a negative value).
    public var confidence: Double?
    /// What the call used.
    public var usage: AdapterUsage

    /// Creates a response.
    public init(output: JSONValue, confidence: Double?, usage: AdapterUsage) {
        self.output = output
        self.confidence = confidence
        self.usage = usage
    }
}

/// One callable model adapter of a loaded plugin: `PluginStep`'s twin for `stw_adapter`.
///
/// Calls are serialised unless the plugin declared the adapter thread-safe. The output and
/// error message the adapter allocates through the host table are freed here; the output must
/// be UTF-8 JSON and the confidence a number in [0, 1] or negative ("not reported").
public final class PluginAdapter: Sendable {
    /// The adapter as declared.
    public let info: AdapterInfo
    /// The library it lives in.
    public let pluginPath: String
    /// `id@version`, the name templates bind a role to.
    public var key: String { "\(info.id)@\(info.version)" }
    /// The library's identity (its SHA-256).
    public let binary: BinaryIdentity

    /// Where calls go: the function in this process, or the plugin's host processes.
    enum Target: Sendable {
        case local(stw_adapter_fn, PluginState)
        case isolated(IsolatedPlugin, index: UInt16)
    }

    let target: Target
    /// Serialises calls of an adapter that is not thread-safe.
    let serial = Mutex<Void>(())

    /// Whether it runs in a host process (`isolation: process`).
    public var isIsolated: Bool {
        if case .isolated = target { return true }
        return false
    }

    /// Whether the engine may call it on the asking thread (see `PluginStep.runsInline`).
    public var runsInline: Bool { info.nonBlocking && info.threadSafe && !isIsolated }

    init(info: AdapterInfo, target: Target, pluginPath: String, binary: BinaryIdentity) {
        self.binary = binary
        self.info = info
        self.target = target
        self.pluginPath = pluginPath
    }

    /// Whether the adapter declared it serves `task`.
    public func serves(_ task: ModelTask) -> Bool { info.taskMask & task.bit != 0 }

    /// Calls the adapter and checks its answer. `callKey` is passed as
    /// `stw_model_request.call_key` (ABI 1.1); when nil, it is `idempotencyKey` without its
    /// trailing `/<attempt>`. `maxOutputBytes` bounds the output as for `PluginStep.callRaw`.
    public func call(
        task: ModelTask, input: JSONValue, parameters: JSONValue = .emptyObject, prompt: String = "",
        idempotencyKey: String, attempt: Int, callKey: String? = nil, maxOutputBytes: Int = OutputLimit.defaultBytes
    ) throws(StepCallError) -> AdapterResponse {
        guard serves(task) else {
            let served = ModelTask.allCases.filter(serves).map(\.description).joined(separator: ", ")
            throw StepCallError(adapter: key, kind: .invalidInput, message: "does not serve the \(task) task (it serves: \(served.isEmpty ? "nothing" : served))")
        }
        let key = self.key
        return try callRaw(
            task: task, input: input.jsonBytes, parameters: parameters.jsonBytes, prompt: prompt, idempotencyKey: idempotencyKey, attempt: attempt,
            callKey: callKey, maxOutputBytes: maxOutputBytes
        ) { (raw) throws(StepCallError) -> AdapterResponse in try Self.checked(raw, adapter: key) }
    }

    /// An adapter's answer before its output is parsed: checked UTF-8 bytes (valid only while
    /// the `read` it is handed to runs), the confidence as reported (negative: not reported),
    /// and the usage.
    struct RawResponse {
        var output: UnsafeRawBufferPointer
        var confidence: Double
        var usage: AdapterUsage
    }

    /// Calls the adapter with serialised input and parameters (in this process, or in its
    /// host), checking the status, the output limit and UTF-8; `read` sees the answer before
    /// its output is freed and checks the rest.
    func callRaw<T>(
        task: ModelTask, input: [UInt8], parameters: [UInt8], prompt: String, idempotencyKey: String, attempt: Int, callKey: String?,
        maxOutputBytes: Int, read: (RawResponse) throws(StepCallError) -> T
    ) throws(StepCallError) -> T {
        if case .isolated(let host, let index) = target {
            return try host.callAdapter(
                index: index, key: key, task: task, input: input, parameters: parameters, prompt: prompt, idempotencyKey: idempotencyKey,
                attempt: attempt, callKey: callKey, maxOutputBytes: maxOutputBytes, read: read)
        }
        var response = stw_model_response()
        response.header = stw_struct_header(
            struct_size: UInt32(MemoryLayout<stw_model_response>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
            abi_minor: UInt16(STW_ABI_VERSION_MINOR))
        // Zeroed as the header promises, except confidence: it starts at -1 ("not reported")
        // so an adapter that never writes it is not read as reporting certainty 0.
        response.confidence = -1
        let (status, refusal): (stw_status, String?) = OutputLimit.withBudget(limit: maxOutputBytes) { budget in
            let status = invoke(
                task: task, input: input, parameters: parameters, prompt: Array(prompt.utf8CString),
                idempotencyKey: idempotencyKey, attempt: attempt, callKey: callKey, response: &response)
            return (status, OutputLimit.refusal(block: status == STW_OK ? response.output : nil, length: response.output_length, budget: budget))
        }
        defer {
            free(response.output)
            free(response.error_message)
        }
        if let refusal {
            throw StepCallError(adapter: key, kind: .invalidOutput, message: refusal)
        }
        guard status == STW_OK else {
            throw StepCallError.failure(
                status: status, message: response.error_message, length: response.error_message_length, callee: "model adapter"
            ) { StepCallError(adapter: key, kind: $0, message: $1) }
        }
        guard let outputPointer = response.output else {
            throw StepCallError(adapter: key, kind: .invalidOutput, message: "returned STW_OK with a NULL output")
        }
        let bytes = UnsafeRawBufferPointer(start: outputPointer, count: response.output_length)
        guard UTF8Validation.isValid(bytes) else {
            throw StepCallError(adapter: key, kind: .invalidOutput, message: "output is not valid UTF-8")
        }
        return try read(RawResponse(
            output: bytes, confidence: response.confidence,
            usage: AdapterUsage(inputTokens: response.input_tokens, outputTokens: response.output_tokens, latencyMicroseconds: response.latency_microseconds)))
    }

    /// Parses a raw answer's output and checks its confidence.
    static func checked(_ raw: RawResponse, adapter key: String) throws(StepCallError) -> AdapterResponse {
        let output: JSONValue
        do {
            output = try JSONValue.parse(raw.output)
        } catch {
            throw StepCallError(adapter: key, kind: .invalidOutput, message: "output is not valid JSON: \(error)")
        }
        let confidence = raw.confidence
        guard !confidence.isNaN, confidence <= 1 else {
            throw StepCallError(adapter: key, kind: .invalidOutput, message: "confidence \(confidence) is outside [0, 1] (negative means not reported)")
        }
        return AdapterResponse(output: output, confidence: confidence < 0 ? nil : confidence, usage: raw.usage)
    }

    /// Builds the request (borrowed pointers, NUL-terminated keys) and calls the function.
    func invoke(
        task: ModelTask, input: [UInt8], parameters: [UInt8], prompt: [CChar], idempotencyKey: String, attempt: Int,
        callKey: String?, response: inout stw_model_response
    ) -> stw_status {
        guard case .local(let function, let state) = target else { return STW_ERR_INTERNAL }
        return CallKeys.with(idempotencyKey: idempotencyKey, callKey: callKey, attempt: attempt) { key, callKey in
            input.withUnsafeBufferPointer { inputBuffer in
                parameters.withUnsafeBufferPointer { parametersBuffer in
                    prompt.withUnsafeBufferPointer { promptBuffer in
                        var request = stw_model_request()
                        request.header = stw_struct_header(
                            struct_size: UInt32(MemoryLayout<stw_model_request>.size),
                            abi_major: UInt16(STW_ABI_VERSION_MAJOR), abi_minor: UInt16(STW_ABI_VERSION_MINOR))
                        request.host = HostTable.pointer
                        request.plugin_state = state.pointer
                        request.idempotency_key = key.pointer
                        request.idempotency_key_length = key.length
                        request.attempt = UInt32(clamping: attempt)
                        request.task = task.rawValue
                        // NUL-terminated as a courtesy, so an empty prompt is "" rather than NULL.
                        request.prompt = promptBuffer.baseAddress
                        request.prompt_length = promptBuffer.count - 1
                        request.parameters = UnsafeRawPointer(parametersBuffer.baseAddress)?.assumingMemoryBound(to: CChar.self)
                        request.parameters_length = parametersBuffer.count
                        request.input = UnsafeRawPointer(inputBuffer.baseAddress)?.assumingMemoryBound(to: CChar.self)
                        request.input_length = inputBuffer.count
                        request.call_key = callKey.pointer
                        request.call_key_length = callKey.length
                        let context = PluginCallContext.current
                        request.deadline_ns = context.deadlineNanoseconds
                        request.cancel_flag = context.cancelFlag
                        if info.threadSafe {
                            return function(&request, &response)
                        }
                        return serial.withLock { _ in function(&request, &response) }
                    }
                }
            }
        }
    }
}
