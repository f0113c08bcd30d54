import StewardJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The loaded plugins, their steps by `plugin.step` name and their model adapters by
/// `id@version`. Built once at start-up and immutable afterwards, so the hot path (finding and
/// calling a step or an adapter) takes no lock.
public struct PluginRegistry: Sendable {
    /// The plugins, in load order.
    public private(set) var plugins: [LoadedPlugin] = []
    private var stepsByName: [String: PluginStep] = [:]
    private var adaptersByKey: [String: PluginAdapter] = [:]

    /// An empty registry.
    public init() {}

    /// Loads every library in `paths`; throws the first failure.
    public init(loading paths: [String]) throws(PluginLoadError) {
        for path in paths {
            try register(PluginLoader.load(path: path))
        }
    }

    /// Adds a loaded plugin, refusing duplicate plugin names, step names or adapter `id@version`s.
    public mutating func register(_ plugin: LoadedPlugin) throws(PluginLoadError) {
        if let existing = plugins.first(where: { $0.name == plugin.name }) {
            throw PluginLoadError(path: plugin.path, reason: .duplicatePlugin(name: plugin.name, firstLoadedFrom: existing.path))
        }
        for step in plugin.steps {
            if let existing = stepsByName[step.fullName] {
                throw PluginLoadError(path: plugin.path, reason: .duplicateStep(step: step.fullName, firstLoadedFrom: existing.pluginPath))
            }
        }
        for adapter in plugin.modelAdapters {
            if let existing = adaptersByKey[adapter.key] {
                throw PluginLoadError(path: plugin.path, reason: .duplicateAdapter(adapter: adapter.key, firstLoadedFrom: existing.pluginPath))
            }
        }
        plugins.append(plugin)
        for step in plugin.steps { stepsByName[step.fullName] = step }
        for adapter in plugin.modelAdapters { adaptersByKey[adapter.key] = adapter }
    }

    /// Calls every plugin's `deinit` (ABI 1.2), in reverse load order, at orderly shutdown.
    /// The caller must make sure no call of any of them is running (`BlockingCallPool.drain`).
    /// - Returns: the names of the plugins whose deinit ran.
    @discardableResult
    public func deinitializeAll() -> [String] {
        plugins.reversed().filter { $0.deinitialize() }.map(\.name)
    }

    /// The adapter with this id and version.
    public func adapter(id: String, version: String) -> PluginAdapter? { adaptersByKey["\(id)@\(version)"] }

    /// The adapter with this `id@version`.
    public func adapter(key: String) -> PluginAdapter? { adaptersByKey[key] }

    /// Every adapter as `id@version`.
    public var adapterKeys: Set<String> { Set(adaptersByKey.keys) }

    /// Calls a model adapter: checks it serves `task`, serialises the input and parameters,
    /// and checks the output (UTF-8 JSON, at most `maxOutputBytes`) and the confidence (in
    /// [0, 1], negative = not reported).
    /// `callKey` is the key shared by every attempt of this logical call (ABI 1.1 `call_key`);
    /// when nil, the adapter gets `idempotencyKey` without its trailing `/<attempt>`.
    public func callAdapter(
        id: String, version: String, task: ModelTask, input: JSONValue, parameters: JSONValue = .emptyObject,
        prompt: String = "", idempotencyKey: String, attempt: Int, callKey: String? = nil, maxOutputBytes: Int = OutputLimit.defaultBytes
    ) throws(StepCallError) -> AdapterResponse {
        guard let adapter = adaptersByKey["\(id)@\(version)"] else {
            let versions = adaptersByKey.values.filter { $0.info.id == id }.map(\.info.version).sorted()
            throw StepCallError(
                adapter: "\(id)@\(version)", kind: .unknownAdapter,
                message: versions.isEmpty ? "no loaded plugin provides this adapter" : "no loaded plugin provides this version (loaded: \(versions.joined(separator: ", ")))")
        }
        return try adapter.call(
            task: task, input: input, parameters: parameters, prompt: prompt, idempotencyKey: idempotencyKey, attempt: attempt,
            callKey: callKey, maxOutputBytes: maxOutputBytes)
    }

    /// The step with this full name.
    public func step(_ name: String) -> PluginStep? { stepsByName[name] }

    /// Every full step name.
    public var stepNames: Set<String> { Set(stepsByName.keys) }

    /// Calls a step with JSON values: serialises the input, checks (at most `maxOutputBytes`,
    /// see `OutputLimit`) and parses the output.
    /// `callKey` is the key shared by every attempt of this logical call (ABI 1.1 `call_key`);
    /// when nil, the step gets `idempotencyKey` without its trailing `/<attempt>`.
    public func call(
        _ name: String, input: JSONValue, config: JSONValue, idempotencyKey: String, attempt: Int, callKey: String? = nil,
        maxOutputBytes: Int = OutputLimit.defaultBytes
    ) throws(StepCallError) -> JSONValue {
        guard let step = stepsByName[name] else {
            throw StepCallError(step: name, kind: .unknownStep, message: "no loaded plugin provides this step")
        }
        let inputBytes = input.jsonBytes
        let configBytes = config.jsonBytes
        // withUnsafeBytes rethrows untyped errors, so the typed error travels in a Result.
        return try inputBytes.withUnsafeBytes { inputBuffer in
            configBytes.withUnsafeBytes { configBuffer in
                Result { () throws(StepCallError) -> JSONValue in
                    try step.callJSON(
                        input: inputBuffer, config: configBuffer, idempotencyKey: idempotencyKey, attempt: attempt, callKey: callKey,
                        maxOutputBytes: maxOutputBytes)
                }
            }
        }.get()
    }

    /// Finds plugin libraries (`*.so`, `*.dylib`) directly inside `directory`, sorted by name.
    public static func libraries(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasSuffix(".so") || name.hasSuffix(".dylib") {
                found.append(directory.hasSuffix("/") ? directory + name : directory + "/" + name)
            }
        }
        return found.sorted()
    }
}
