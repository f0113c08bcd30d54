import StewardABI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One step or adapter call as the conformance battery sees it (`steward plugins validate`):
/// the raw status and bytes, how long it took, and what it did with the host table's memory.
/// Nothing is interpreted: the battery judges.
public struct ObservedCall: Sendable {
    /// The status the plugin returned.
    public var status: Int32
    /// The output bytes on `STW_OK` (nil when the plugin left `output` NULL or the host
    /// refused to read it).
    public var output: [UInt8]?
    /// The error message bytes (nil when the plugin set none).
    public var errorMessage: [UInt8]?
    /// Why the host refused to read the output (over the limit, a length past the block).
    public var refusal: String?
    /// For adapters: the confidence the plugin reported (-1: none).
    public var confidence: Double = -1
    /// Wall time of the call.
    public var nanoseconds: UInt64
    /// Blocks the plugin obtained from `alloc` during the call.
    public var allocations: Int
    /// Blocks it gave back with `free`.
    public var frees: Int
    /// Blocks from `alloc` neither handed over in the result nor freed: leaked.
    public var leaked: Int
    /// `free` calls on blocks the call had not allocated, or had freed already (not passed on).
    public var foreignFrees: Int
    /// Whether a block stored in the result was one the plugin had freed (the host would free it twice).
    public var handedFreed: Bool
    /// Whether a pointer stored in the result did not come from `alloc` at all.
    public var handedForeign: Bool

    /// The status's name (`STW_OK`, `STW_ERR_INVALID_INPUT`, ...).
    public var statusName: String { ObservedCall.name(of: status) }

    /// A status's name in the header.
    public static func name(of status: Int32) -> String {
        switch status {
        case STW_OK: return "STW_OK"
        case STW_ERR_INVALID_INPUT: return "STW_ERR_INVALID_INPUT"
        case STW_ERR_TRANSIENT: return "STW_ERR_TRANSIENT"
        case STW_ERR_PERMANENT: return "STW_ERR_PERMANENT"
        case STW_ERR_INTERNAL: return "STW_ERR_INTERNAL"
        case STW_ERR_INCOMPATIBLE: return "STW_ERR_INCOMPATIBLE"
        default: return "unknown status \(status)"
        }
    }

    /// Settles the result blocks against the ledger: each stored block is handed over (and
    /// freed here) when live, flagged when the plugin had freed it or never allocated it; what
    /// stays live is leaked (and freed here so the battery does not grow).
    static func settle(
        status: Int32, output: UnsafeMutablePointer<CChar>?, outputLength: Int, message: UnsafeMutablePointer<CChar>?, messageLength: Int,
        refusal: String?, ledger: OutputLimit.MemoryLedger, nanoseconds: UInt64
    ) -> ObservedCall {
        var handedFreed = false
        var handedForeign = false
        func take(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int, read: Bool) -> [UInt8]? {
            guard let pointer else { return nil }
            let address = UInt(bitPattern: pointer)
            guard ledger.live.remove(address) != nil else {
                if ledger.freed.contains(address) { handedFreed = true } else { handedForeign = true }
                return nil
            }
            defer { free(pointer) }
            guard read else { return nil }
            return Array(UnsafeRawBufferPointer(start: pointer, count: min(length, OutputLimit.allocatedSize(pointer))))
        }
        let outputBytes = take(output, outputLength, read: status == STW_OK && refusal == nil)
        let messageBytes = take(message, messageLength, read: true)
        let leaked = ledger.live.count
        for address in ledger.live { free(UnsafeMutableRawPointer(bitPattern: address)) }
        return ObservedCall(
            status: status, output: outputBytes, errorMessage: messageBytes, refusal: refusal, nanoseconds: nanoseconds,
            allocations: ledger.allocations, frees: ledger.frees, leaked: leaked, foreignFrees: ledger.foreignFrees, handedFreed: handedFreed,
            handedForeign: handedForeign)
    }
}

extension PluginStep {
    /// Calls the step once with raw bytes (any bytes: the battery sends malformed JSON too),
    /// under an output limit, recording the host-table memory it used. Honours the step's
    /// thread-safety flag like every call.
    public func observe(input: [UInt8], config: [UInt8], idempotencyKey: String, attempt: Int = 1, maxOutputBytes: Int = OutputLimit.defaultBytes)
        -> ObservedCall
    {
        var result = stw_step_result()
        result.header = stw_struct_header(
            struct_size: UInt32(MemoryLayout<stw_step_result>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
            abi_minor: UInt16(STW_ABI_VERSION_MINOR))
        let ledger = OutputLimit.MemoryLedger()
        let started = MonotonicNanoseconds.now()
        let (status, refusal): (stw_status, String?) = OutputLimit.withBudget(limit: maxOutputBytes, ledger: ledger) { budget in
            let status: stw_status = input.withUnsafeBytes { inputBuffer in
                config.withUnsafeBytes { configBuffer in
                    invoke(input: inputBuffer, config: configBuffer, idempotencyKey: idempotencyKey, attempt: attempt, callKey: nil, result: &result)
                }
            }
            return (status, OutputLimit.refusal(block: status == STW_OK ? result.output : nil, length: result.output_length, budget: budget))
        }
        let elapsed = MonotonicNanoseconds.now() - started
        return ObservedCall.settle(
            status: status, output: result.output, outputLength: result.output_length, message: result.error_message,
            messageLength: result.error_message_length, refusal: refusal, ledger: ledger, nanoseconds: elapsed)
    }
}

extension PluginAdapter {
    /// Calls the adapter once with raw input and parameter bytes, recording memory as
    /// `PluginStep.observe` does (the task is sent even when the adapter does not declare it).
    public func observe(
        task: ModelTask, input: [UInt8], parameters: [UInt8], prompt: String, idempotencyKey: String, maxOutputBytes: Int = OutputLimit.defaultBytes
    ) -> ObservedCall {
        var response = stw_model_response()
        response.header = stw_struct_header(
            struct_size: UInt32(MemoryLayout<stw_model_response>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
            abi_minor: UInt16(STW_ABI_VERSION_MINOR))
        response.confidence = -1
        let ledger = OutputLimit.MemoryLedger()
        let started = MonotonicNanoseconds.now()
        let (status, refusal): (stw_status, String?) = OutputLimit.withBudget(limit: maxOutputBytes, ledger: ledger) { budget in
            let status = invoke(
                task: task, input: input, parameters: parameters, prompt: Array(prompt.utf8CString), idempotencyKey: idempotencyKey, attempt: 1,
                callKey: nil, response: &response)
            return (status, OutputLimit.refusal(block: status == STW_OK ? response.output : nil, length: response.output_length, budget: budget))
        }
        let elapsed = MonotonicNanoseconds.now() - started
        var observed = ObservedCall.settle(
            status: status, output: response.output, outputLength: response.output_length, message: response.error_message,
            messageLength: response.error_message_length, refusal: refusal, ledger: ledger, nanoseconds: elapsed)
        observed.confidence = response.confidence
        return observed
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
enum MonotonicNanoseconds {
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
