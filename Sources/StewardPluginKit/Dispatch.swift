import StewardABI

/// What every trampoline does: copy the host's borrowed call struct, decode it, run the
/// declared closure, and write the answer or the failure into the host's result struct.
/// Nothing here throws or traps on what the host or the closure hands it.
enum Dispatch {
    static func step(_ slot: Int, _ call: UnsafePointer<stw_step_call>?, _ result: UnsafeMutablePointer<stw_step_result>?) -> stw_status {
        guard let call, let result, let steps = Registration.current.load()?.plugin.steps, slot < steps.count else {
            return stw_status(STW_ERR_INTERNAL)
        }
        let raw = Decode.copy(call)
        guard let host = raw.host else { return stw_status(STW_ERR_INTERNAL) }
        do throws(StepFailure) {
            let output = try HostMemory.copy(try steps[slot].body(try StepCall(raw, host: host)).jsonBytes, host)
            result.pointee.output = output.pointer
            result.pointee.output_length = output.count
            return stw_status(STW_OK)
        } catch {
            let message = try? HostMemory.copy(Array(error.message.utf8), host)
            result.pointee.error_message = message?.pointer
            result.pointee.error_message_length = message?.count ?? 0
            return error.kind.status
        }
    }

    static func adapter(
        _ slot: Int, _ request: UnsafePointer<stw_model_request>?, _ response: UnsafeMutablePointer<stw_model_response>?
    ) -> stw_status {
        let start = ContinuousClock.now
        guard let request, let response, let adapters = Registration.current.load()?.plugin.adapters, slot < adapters.count else {
            return stw_status(STW_ERR_INTERNAL)
        }
        let raw = Decode.copy(request)
        guard let host = raw.host else { return stw_status(STW_ERR_INTERNAL) }
        let adapter = adapters[slot]
        do throws(StepFailure) {
            let answer = try adapter.body(try ModelCall(raw, host: host, for: adapter))
            let output = try HostMemory.copy(answer.output.jsonBytes, host)
            response.pointee.output = output.pointer
            response.pointee.output_length = output.count
            response.pointee.confidence = answer.confidence ?? -1
            response.pointee.input_tokens = answer.usage.inputTokens
            response.pointee.output_tokens = answer.usage.outputTokens
            response.pointee.latency_microseconds = microseconds(since: start)
            return stw_status(STW_OK)
        } catch {
            let message = try? HostMemory.copy(Array(error.message.utf8), host)
            response.pointee.error_message = message?.pointer
            response.pointee.error_message_length = message?.count ?? 0
            response.pointee.latency_microseconds = microseconds(since: start)
            return error.kind.status
        }
    }

    static func microseconds(since start: ContinuousClock.Instant) -> UInt64 {
        let elapsed = ContinuousClock.now - start
        return UInt64(max(0, elapsed.components.seconds)) * 1_000_000 + UInt64(max(0, elapsed.components.attoseconds)) / 1_000_000_000_000
    }
}

/// Blocks handed to the host: `[host-allocated]`, so the host frees them once stored.
enum HostMemory {
    /// A copy of `bytes` in a block from `host->alloc`.
    static func copy(_ bytes: [UInt8], _ host: UnsafePointer<stw_host>) throws(StepFailure) -> (pointer: UnsafeMutablePointer<CChar>, count: Int) {
        guard host.pointee.alloc != nil else { throw .internal("the host table has no alloc function") }
        let block = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in stw_host_copy(host, chars.baseAddress, chars.count) }
        }
        guard let block else { throw .internal("out of memory for \(bytes.count) bytes of output") }
        return (block, bytes.count)
    }
}

/// Reading the host's borrowed structs.
enum Decode {
    /// A copy of the struct at `pointer`, zero past its writer's `struct_size`: a field an older
    /// host's struct lacks (such as 1.1's `call_key` from a 1.0 host) reads as NULL or 0, and no
    /// byte past the host's struct is ever read.
    static func copy<T>(_ pointer: UnsafePointer<T>) -> T {
        let size = Int(UnsafeRawPointer(pointer).load(as: stw_struct_header.self).struct_size)
        return withUnsafeTemporaryAllocation(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment) { buffer in
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            buffer.baseAddress!.copyMemory(from: pointer, byteCount: min(max(size, 0), MemoryLayout<T>.size))
            return buffer.load(as: T.self)
        }
    }

    /// `length` bytes of UTF-8 text (invalid sequences replaced), or nil for a NULL pointer.
    static func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String? {
        pointer.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) }
    }

    /// The JSON document in `length` bytes; `empty` when there are none; nil when they are not
    /// one (the parser validates UTF-8 and keeps booleans, integers and doubles apart).
    static func document(_ pointer: UnsafePointer<CChar>?, _ length: Int, empty: JSONValue) -> JSONValue? {
        guard let pointer, length > 0 else { return empty }
        return try? JSONValue.parse(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    /// A JSON object payload (config, parameters): `{}` when empty.
    static func object(_ pointer: UnsafePointer<CChar>?, _ length: Int, refusal: String) throws(StepFailure) -> JSONValue {
        guard let value = document(pointer, length, empty: .emptyObject), value.objectValue != nil else {
            throw .invalidInput(refusal)
        }
        return value
    }

    /// The input payload: any JSON document, `null` when empty.
    static func input(_ pointer: UnsafePointer<CChar>?, _ length: Int) throws(StepFailure) -> JSONValue {
        guard let value = document(pointer, length, empty: .null) else { throw .invalidInput("the input is not a JSON document") }
        return value
    }
}

extension StepCall {
    init(_ call: stw_step_call, host: UnsafePointer<stw_host>) throws(StepFailure) {
        self.init(
            input: try Decode.input(call.input, call.input_length),
            config: try Decode.object(call.config, call.config_length, refusal: "the config is not a JSON object"),
            idempotencyKey: Decode.text(call.idempotency_key, call.idempotency_key_length) ?? "",
            callKey: Decode.text(call.call_key, call.call_key_length), attempt: Int(call.attempt),
            log: PluginLog(host: HostReference(pointer: host)), cancellation: Cancellation(deadline: call.deadline_ns, flag: call.cancel_flag))
    }
}

extension ModelCall {
    /// Refuses a task the adapter does not serve before decoding anything else.
    init(_ request: stw_model_request, host: UnsafePointer<stw_host>, for adapter: Adapter) throws(StepFailure) {
        let served = adapter.tasks.map(\.description).joined(separator: ", ")
        guard let task = ModelTask(rawValue: request.task) else {
            throw .invalidInput("unknown task \(request.task); \(adapter.key) serves \(served)")
        }
        guard adapter.tasks.contains(task) else {
            throw .invalidInput("\(adapter.key) does not serve the \(task) task; it serves \(served)")
        }
        self.init(
            task: task, prompt: Decode.text(request.prompt, request.prompt_length) ?? "",
            input: try Decode.input(request.input, request.input_length),
            parameters: try Decode.object(request.parameters, request.parameters_length, refusal: "the parameters are not a JSON object"),
            idempotencyKey: Decode.text(request.idempotency_key, request.idempotency_key_length) ?? "",
            callKey: Decode.text(request.call_key, request.call_key_length), attempt: Int(request.attempt),
            log: PluginLog(host: HostReference(pointer: host)),
            cancellation: Cancellation(deadline: request.deadline_ns, flag: request.cancel_flag))
    }
}
