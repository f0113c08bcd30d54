import StewardABI
import StewardJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The plugin's state pointer from `init`, handed back on every call.
// @unchecked Sendable: the host never dereferences it; the plugin owns it and declares per
// step or adapter whether concurrent calls are safe, which `PluginStep` and `PluginAdapter`
// honour with a lock.
struct PluginState: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer?
}

/// A plugin library that passed every load-time check.
public struct LoadedPlugin: Sendable {
    /// Plugin name; its steps are `name.step`.
    public let name: String
    /// Plugin version.
    public let version: String
    /// One line for people.
    public let description: String?
    /// The ABI version the plugin was built against.
    public let abiMajor: Int
    /// The ABI minor the plugin was built against.
    public let abiMinor: Int
    /// Where it was loaded from.
    public let path: String
    /// Its steps.
    public let steps: [PluginStep]
    /// Its model adapters, as declared.
    public let adapters: [AdapterInfo]
    /// Its model adapters, callable (same order as `adapters`).
    public let modelAdapters: [PluginAdapter]
    /// The library file's identity (its SHA-256).
    public let binary: BinaryIdentity
    /// The host processes serving the plugin when it runs isolated (`isolation: process`);
    /// nil when it is loaded into this process.
    public let isolated: IsolatedPlugin?
    /// Whether the plugin declared a `deinit` (ABI 1.2).
    public var hasDeinit: Bool { isolated?.hello.hasDeinit ?? (deinitFunction != nil) }
    /// Whether the plugin declared `get_extension` or `get_extension_with_state`.
    public var hasExtensionLookup: Bool { extensionFunction != nil || statefulExtensionFunction != nil }
    /// Whether the plugin declared `get_extension_with_state` (ABI 1.2).
    public var hasStatefulExtensionLookup: Bool { statefulExtensionFunction != nil }

    /// The path the loader resolved and caches the plugin under.
    let resolvedPath: String
    /// The state `init` set.
    let state: PluginState
    let deinitFunction: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    let extensionFunction: (@convention(c) (UnsafePointer<CChar>?) -> UnsafeRawPointer?)?
    let statefulExtensionFunction: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> UnsafeRawPointer?)?

    /// The plugin's capability `id`: `get_extension_with_state` when it has one (ABI 1.2),
    /// else `get_extension`; nil when it declares neither or the plugin answers NULL.
    /// Thread rules: any thread (the ABI makes both lookups thread-safe).
    /// An isolated plugin has none here: an extension is a pointer into the plugin's process.
    public func extensionPointer(id: String) -> UnsafeRawPointer? {
        guard isolated == nil else { return nil }
        return id.withCString { text in
            if let statefulExtensionFunction { return statefulExtensionFunction(state.pointer, text) }
            return extensionFunction?(text)
        }
    }

    /// Calls the plugin's `deinit` (ABI 1.2) with its state, once per load: the loader forgets
    /// the plugin, so loading the library again in this process starts a new lifecycle (entry
    /// and `init` again). The caller must make sure no call of the plugin is running or will
    /// be made through this value.
    /// - Returns: false when the plugin has no deinit or it already ran for this load.
    @discardableResult
    /// An isolated plugin's hosts run the deinit themselves and exit (see `IsolatedPlugin.stop`).
    public func deinitialize() -> Bool {
        if let isolated { return isolated.stop() && hasDeinit }
        guard PluginLoader.forget(self) else { return false }
        guard let deinitFunction else { return false }
        deinitFunction(state.pointer)
        return true
    }

    /// A plugin served by host processes, described by the first host's hello.
    init(isolated host: IsolatedPlugin, path: String) {
        let hello = host.hello
        isolated = host
        resolvedPath = path
        state = PluginState(pointer: nil)
        deinitFunction = nil
        extensionFunction = nil
        statefulExtensionFunction = nil
        name = hello.name
        version = hello.version
        description = hello.description
        abiMajor = hello.abiMajor
        abiMinor = hello.abiMinor
        self.path = path
        binary = host.binary
        steps = hello.steps.enumerated().map { index, step in
            PluginStep(
                fullName: "\(hello.name).\(step.name)", version: step.version, description: step.description, flags: step.flags,
                target: .isolated(host, index: UInt16(index)), pluginPath: path, binary: host.binary)
        }
        adapters = hello.adapters
        modelAdapters = hello.adapters.enumerated().map { index, info in
            PluginAdapter(info: info, target: .isolated(host, index: UInt16(index)), pluginPath: path, binary: host.binary)
        }
    }

    init(descriptor: stw_plugin, path: String, resolvedPath: String) throws(PluginLoadError) {
        isolated = nil
        self.resolvedPath = resolvedPath
        deinitFunction = descriptor.`deinit`
        extensionFunction = descriptor.get_extension
        statefulExtensionFunction = descriptor.get_extension_with_state
        name = try PluginLoader.identifier(descriptor.name, field: "stw_plugin.name", path: path)
        guard let version = PluginLoader.text(descriptor.version), !version.isEmpty else {
            throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "stw_plugin.version", reason: "is NULL or empty"))
        }
        self.version = version
        description = PluginLoader.text(descriptor.description)
        abiMajor = Int(descriptor.header.abi_major)
        abiMinor = Int(descriptor.header.abi_minor)
        self.path = path
        let binary = BinaryIdentity(path: path)
        self.binary = binary
        guard descriptor.step_count <= 4096 else {
            throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "stw_plugin.step_count", reason: "more than 4096 entries"))
        }
        guard descriptor.adapter_count <= 4096 else {
            throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "stw_plugin.adapter_count", reason: "more than 4096 entries"))
        }
        if descriptor.step_count > 0, descriptor.steps == nil {
            throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "stw_plugin.steps", reason: "is NULL but step_count is \(descriptor.step_count)"))
        }
        if descriptor.adapter_count > 0, descriptor.adapters == nil {
            throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "stw_plugin.adapters", reason: "is NULL but adapter_count is \(descriptor.adapter_count)"))
        }
        // Check every step and adapter before running any plugin code (init).
        var rawSteps: [(step: stw_step, fullName: String, version: String)] = []
        var indexByName: [String: Int] = [:]
        for index in 0..<descriptor.step_count {
            guard let pointer = descriptor.steps[index] else {
                throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "stw_plugin.steps[\(index)]", reason: "is NULL"))
            }
            let step: stw_step = try PluginLoader.readStruct(pointer, name: "stw_step", minimum: PluginLoader.MinimumSize.step, path: path)
            let stepName = try PluginLoader.identifier(step.name, field: "stw_plugin.steps[\(index)].name", path: path)
            guard step.invoke != nil else {
                throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "step '\(stepName)'.invoke", reason: "is NULL"))
            }
            // The header requires a version (only description may be NULL), as for the plugin and adapters.
            guard let stepVersion = PluginLoader.text(step.version), !stepVersion.isEmpty else {
                throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "stw_plugin.steps[\(index)].version", reason: "is NULL or empty"))
            }
            // A name used twice inside one library is a descriptor defect, not a clash between libraries.
            if let first = indexByName[stepName] {
                throw PluginLoadError(path: path, reason: .invalidDescriptor(
                    field: "stw_plugin.steps[\(index)].name", reason: "'\(stepName)' is already the name of stw_plugin.steps[\(first)]"))
            }
            indexByName[stepName] = Int(index)
            rawSteps.append((step, "\(name).\(stepName)", stepVersion))
        }
        var adapters: [AdapterInfo] = []
        var rawAdapters: [(AdapterInfo, stw_adapter_fn)] = []
        var seenAdapters: Set<String> = []
        for index in 0..<descriptor.adapter_count {
            guard let pointer = descriptor.adapters[index] else {
                throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "stw_plugin.adapters[\(index)]", reason: "is NULL"))
            }
            let adapter: stw_adapter = try PluginLoader.readStruct(pointer, name: "stw_adapter", minimum: PluginLoader.MinimumSize.adapter, path: path)
            let id = try PluginLoader.identifier(adapter.id, field: "stw_plugin.adapters[\(index)].id", path: path)
            guard let adapterVersion = PluginLoader.text(adapter.version), adapter.invoke != nil else {
                throw PluginLoadError(path: path, reason: .invalidDescriptor(field: "adapter '\(id)'", reason: "version or invoke is NULL"))
            }
            guard seenAdapters.insert("\(id)@\(adapterVersion)").inserted else {
                throw PluginLoadError(path: path, reason: .duplicateAdapter(adapter: "\(id)@\(adapterVersion)", firstLoadedFrom: path))
            }
            let info = AdapterInfo(
                id: id, version: adapterVersion, description: PluginLoader.text(adapter.description),
                threadSafe: adapter.flags & STW_STEP_THREAD_SAFE != 0, taskMask: adapter.task_mask,
                nonBlocking: adapter.flags & STW_STEP_NONBLOCKING != 0)
            adapters.append(info)
            // invoke was checked non-NULL above.
            rawAdapters.append((info, adapter.invoke!))
        }
        self.adapters = adapters
        var state: UnsafeMutableRawPointer?
        if let initialise = descriptor.`init` {
            let status = initialise(HostTable.pointer, &state)
            guard status == STW_OK else { throw PluginLoadError(path: path, reason: .initFailed(status: status)) }
        }
        let pluginState = PluginState(pointer: state)
        self.state = pluginState
        steps = rawSteps.map { step, fullName, version in
            PluginStep(
                fullName: fullName, version: version, description: PluginLoader.text(step.description),
                flags: step.flags, target: .local(step.invoke, pluginState), pluginPath: path, binary: binary)
        }
        modelAdapters = rawAdapters.map { info, function in
            PluginAdapter(info: info, target: .local(function, pluginState), pluginPath: path, binary: binary)
        }
    }
}

/// A model adapter as a plugin declares it.
public struct AdapterInfo: Sendable, Hashable {
    /// Adapter id.
    public let id: String
    /// Adapter version.
    public let version: String
    /// One line for people.
    public let description: String?
    /// Whether calls may run concurrently.
    public let threadSafe: Bool
    /// OR of `STW_TASK_BIT(kind)` for the tasks it serves.
    public let taskMask: UInt32
    /// Whether it declared `STW_STEP_NONBLOCKING` (it only computes, within a millisecond).
    public var nonBlocking: Bool = false
}

/// One callable step of a loaded plugin.
public final class PluginStep: Sendable {
    /// `plugin.step`.
    public let fullName: String
    /// The step's contract version.
    public let version: String
    /// One line for people.
    public let description: String?
    /// Whether the plugin declared the step thread-safe.
    public let isThreadSafe: Bool
    /// Whether the plugin declared the step free of side effects.
    public let isPure: Bool
    /// The library it lives in.
    public let pluginPath: String
    /// That library's identity (its SHA-256).
    public let binary: BinaryIdentity
    /// The step's flags as declared (`STW_STEP_*`).
    public let flags: UInt32
    /// Whether it runs in a host process (`isolation: process`).
    public var isIsolated: Bool {
        if case .isolated = target { return true }
        return false
    }

    /// Whether the engine may call it on the asking thread rather than a plugin thread: it is
    /// declared `STW_STEP_NONBLOCKING` and `STW_STEP_THREAD_SAFE` (so no lock can make the
    /// caller wait) and runs in this process (an isolated call waits on a socket).
    public var runsInline: Bool { flags & STW_STEP_NONBLOCKING != 0 && isThreadSafe && !isIsolated }

    /// Where calls go: the function in this process, or the plugin's host processes.
    enum Target: Sendable {
        case local(stw_step_fn, PluginState)
        case isolated(IsolatedPlugin, index: UInt16)
    }

    let target: Target
    /// Serialises calls of a step that is not thread-safe.
    let serial = Mutex<Void>(())

    init(
        fullName: String, version: String, description: String?, flags: UInt32, target: Target, pluginPath: String,
        binary: BinaryIdentity
    ) {
        self.flags = flags
        self.binary = binary
        self.fullName = fullName
        self.version = version
        self.description = description
        self.isThreadSafe = flags & STW_STEP_THREAD_SAFE != 0
        self.isPure = flags & STW_STEP_PURE != 0
        self.target = target
        self.pluginPath = pluginPath
    }

    /// Calls the step with a UTF-8 JSON input and config, returning the raw output bytes
    /// after checking they are UTF-8 (not yet parsed as JSON).
    ///
    /// `callKey` is passed as `stw_step_call.call_key` (ABI 1.1): the same for every attempt of
    /// one logical call. When nil, it is `idempotencyKey` without its trailing `/<attempt>`.
    /// `maxOutputBytes` bounds the output (see `OutputLimit`): the host refuses to allocate or
    /// read more, and the call fails as `invalidOutput` naming the size and the limit.
    public func callRaw(
        input: UnsafeRawBufferPointer, config: UnsafeRawBufferPointer, idempotencyKey: String, attempt: Int, callKey: String? = nil,
        maxOutputBytes: Int = OutputLimit.defaultBytes
    ) throws(StepCallError) -> [UInt8] {
        try call(
            input: input, config: config, idempotencyKey: idempotencyKey, attempt: attempt, callKey: callKey,
            maxOutputBytes: maxOutputBytes
        ) { Array($0) }
    }

    /// Calls the step and parses its output as JSON straight from the plugin's buffer (no copy).
    /// `callKey` and `maxOutputBytes` as for `callRaw`.
    public func callJSON(
        input: UnsafeRawBufferPointer, config: UnsafeRawBufferPointer, idempotencyKey: String, attempt: Int, callKey: String? = nil,
        maxOutputBytes: Int = OutputLimit.defaultBytes
    ) throws(StepCallError) -> JSONValue {
        try call(
            input: input, config: config, idempotencyKey: idempotencyKey, attempt: attempt, callKey: callKey,
            maxOutputBytes: maxOutputBytes
        ) {
            (bytes) throws(StepCallError) -> JSONValue in
            do {
                return try JSONValue.parse(bytes)
            } catch {
                throw StepCallError(step: fullName, kind: .invalidOutput, message: "output is not valid JSON: \(error)")
            }
        }
    }

    /// Builds the call (borrowed pointers, NUL-terminated keys) and calls the function,
    /// serialised unless the step is thread-safe. The caller owns `result` and its blocks.
    /// Only for a step in this process (`target` is `.local`).
    func invoke(
        input: UnsafeRawBufferPointer, config: UnsafeRawBufferPointer, idempotencyKey: String, attempt: Int, callKey: String?,
        result: inout stw_step_result
    ) -> stw_status {
        guard case .local(let function, let state) = target else { return STW_ERR_INTERNAL }
        return CallKeys.with(idempotencyKey: idempotencyKey, callKey: callKey, attempt: attempt) { key, callKey in
            var call = stw_step_call()
            call.header = stw_struct_header(
                struct_size: UInt32(MemoryLayout<stw_step_call>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
                abi_minor: UInt16(STW_ABI_VERSION_MINOR))
            call.host = HostTable.pointer
            call.plugin_state = state.pointer
            call.idempotency_key = key.pointer
            call.idempotency_key_length = key.length
            call.attempt = UInt32(clamping: attempt)
            call.input = input.baseAddress?.assumingMemoryBound(to: CChar.self)
            call.input_length = input.count
            call.config = config.baseAddress?.assumingMemoryBound(to: CChar.self)
            call.config_length = config.count
            call.call_key = callKey.pointer
            call.call_key_length = callKey.length
            let context = PluginCallContext.current
            call.deadline_ns = context.deadlineNanoseconds
            call.cancel_flag = context.cancelFlag
            if isThreadSafe {
                return function(&call, &result)
            }
            return serial.withLock { _ in function(&call, &result) }
        }
    }

    /// Calls the step; `read` sees the checked (UTF-8) output before the host frees it.
    func call<T>(
        input: UnsafeRawBufferPointer, config: UnsafeRawBufferPointer, idempotencyKey: String, attempt: Int, callKey: String?,
        maxOutputBytes: Int, read: (UnsafeRawBufferPointer) throws(StepCallError) -> T
    ) throws(StepCallError) -> T {
        if case .isolated(let host, let index) = target {
            let output = try host.callStep(
                index: index, name: fullName, input: input, config: config, idempotencyKey: idempotencyKey, attempt: attempt, callKey: callKey,
                maxOutputBytes: maxOutputBytes)
            return try output.withUnsafeBytes { bytes in Result { () throws(StepCallError) -> T in try read(bytes) } }.get()
        }
        var result = stw_step_result()
        result.header = stw_struct_header(
            struct_size: UInt32(MemoryLayout<stw_step_result>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
            abi_minor: UInt16(STW_ABI_VERSION_MINOR))
        let (status, refusal): (stw_status, String?) = OutputLimit.withBudget(limit: maxOutputBytes) { budget in
            let status = invoke(input: input, config: config, idempotencyKey: idempotencyKey, attempt: attempt, callKey: callKey, result: &result)
            return (status, OutputLimit.refusal(block: status == STW_OK ? result.output : nil, length: result.output_length, budget: budget))
        }
        defer {
            free(result.output)
            free(result.error_message)
        }
        if let refusal {
            throw StepCallError(step: fullName, kind: .invalidOutput, message: refusal)
        }
        guard status == STW_OK else {
            throw StepCallError.failure(
                status: status, message: result.error_message, length: result.error_message_length, callee: "step"
            ) { StepCallError(step: fullName, kind: $0, message: $1) }
        }
        guard let output = result.output else {
            throw StepCallError(step: fullName, kind: .invalidOutput, message: "returned STW_OK with a NULL output")
        }
        let bytes = UnsafeRawBufferPointer(start: output, count: result.output_length)
        guard UTF8Validation.isValid(bytes) else {
            throw StepCallError(step: fullName, kind: .invalidOutput, message: "output is not valid UTF-8")
        }
        return try read(bytes)
    }
}
