import StewardABI

/// The host table a call came with. The ABI makes it `[static]` (valid for the process) and
/// its functions `[thread-safe]`.
// @unchecked Sendable: the pointee is the host's immutable [static] table, and every function
// in it may be called from any thread, so sharing the pointer across threads is safe.
struct HostReference: @unchecked Sendable {
    let pointer: UnsafePointer<stw_host>
}

/// Writes log lines through the host's logger (`stw_host.log`). Safe to use from any thread and
/// after the call returned: the host table lives for the process.
public struct PluginLog: Sendable {
    /// `STW_LOG_*`.
    public enum Level: Int32, Sendable {
        case debug = 0, info = 1, warning = 2, error = 3
    }

    let host: HostReference?

    /// Writes `message` at `level`. Does nothing when the host gave no log function.
    public func callAsFunction(_ level: Level, _ message: String) {
        guard let table = host?.pointer, let write = table.pointee.log else { return }
        var text = message
        text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { write(table.pointee.context, level.rawValue, $0.baseAddress, $0.count) }
        }
    }

    /// Writes a debug line.
    public func debug(_ message: String) { self(.debug, message) }
    /// Writes an info line.
    public func info(_ message: String) { self(.info, message) }
    /// Writes a warning.
    public func warning(_ message: String) { self(.warning, message) }
    /// Writes an error line.
    public func error(_ message: String) { self(.error, message) }
}

/// One call of a step, decoded: the SDK has copied everything out of the host's borrowed
/// `stw_step_call`, so the value may be kept (it holds no pointer into the call).
public struct StepCall: Sendable {
    /// The step's input document (`null` when the host sent no bytes).
    public let input: JSONValue
    /// The step's configuration from the template and customer overlay: always an object
    /// (`{}` when none).
    public let config: JSONValue
    /// `"<instance id>/<state>/<attempt>"`: changes with every attempt. The same key arriving
    /// twice means the same attempt is being re-run.
    public let idempotencyKey: String
    /// `"<instance id>/<state>/<n>"` (ABI 1.1): the same for every attempt of one logical call,
    /// so a side-effecting step can dedupe across transient retries. Nil when the host's struct
    /// has no such field (a 1.0 host) or leaves it NULL; fall back to `idempotencyKey`.
    public let callKey: String?
    /// 1 for the first attempt, 2 for the first retry, ...
    public let attempt: Int
    /// The host's logger.
    public let log: PluginLog
    /// When the host stops waiting, and whether it already has (ABI 1.2).
    public let cancellation: Cancellation
}

/// The host's deadline and cancel flag for one call (ABI 1.2 `deadline_ns`, `cancel_flag`):
/// a long step checks `isCancelled` between units of work and stops early (throwing
/// `.transient`) once the host has given up on it. From an older host, or for a call without a
/// timeout, there is no deadline and `isCancelled` stays false.
///
/// Thread rules: read it only while the step's closure runs (the flag is the host's, borrowed
/// for the call); from any thread the closure uses.
public struct Cancellation: Sendable {
    /// CLOCK_MONOTONIC nanoseconds after which the host no longer waits; nil when none.
    public let deadlineNanoseconds: UInt64?
    /// The flag's address (0: none); kept as a number so the value stays Sendable.
    let flagAddress: UInt

    /// Whether the host has given up on the call (its deadline passed or it is stopping).
    public var isCancelled: Bool {
        guard let flag = UnsafePointer<UInt32>(bitPattern: flagAddress) else { return false }
        return stw_flag_set(flag) != 0
    }

    init(deadline: UInt64, flag: UnsafePointer<UInt32>?) {
        deadlineNanoseconds = deadline == 0 ? nil : deadline
        flagAddress = UInt(bitPattern: flag)
    }
}

/// One model call, decoded (see `StepCall`; the same rules apply).
public struct ModelCall: Sendable {
    /// What the call asks for; always one of the adapter's declared `tasks`.
    public let task: ModelTask
    /// The rendered prompt (may be empty).
    public let prompt: String
    /// The structured input (`null` when the host sent no bytes).
    public let input: JSONValue
    /// Call parameters (temperature, labels, ...): always an object (`{}` when none).
    public let parameters: JSONValue
    /// As `StepCall.idempotencyKey`.
    public let idempotencyKey: String
    /// As `StepCall.callKey`.
    public let callKey: String?
    /// As `StepCall.attempt`.
    public let attempt: Int
    /// The host's logger.
    public let log: PluginLog
    /// As `StepCall.cancellation`.
    public let cancellation: Cancellation
}

/// What a model call used: tokens in and out, 0 when unknown. The SDK measures the latency.
public struct ModelUsage: Sendable, Equatable {
    /// Tokens read (or words, for a model without tokens).
    public var inputTokens: UInt64
    /// Tokens written.
    public var outputTokens: UInt64

    /// A usage record.
    public init(inputTokens: UInt64 = 0, outputTokens: UInt64 = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }
}

/// A model call's answer.
public struct ModelAnswer: Sendable, Equatable {
    /// The output document, in the task's shape.
    public var output: JSONValue
    /// Confidence in [0, 1], or nil when the model reports none. The host refuses any other
    /// value as invalid output.
    public var confidence: Double?
    /// Tokens used.
    public var usage: ModelUsage

    /// An answer.
    public init(output: JSONValue, confidence: Double? = nil, usage: ModelUsage = ModelUsage()) {
        self.output = output
        self.confidence = confidence
        self.usage = usage
    }
}
