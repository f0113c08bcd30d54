import StewardABI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads plugin libraries through the C ABI and checks them before any of their code runs.
///
/// Libraries are opened with `RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE` and never closed:
/// unloading Swift code crashes the Swift runtime later. A library loaded twice in one
/// process is opened and initialised once.
public enum PluginLoader {
    /// The ABI version this host speaks.
    public static let hostABI = (major: Int(STW_ABI_VERSION_MAJOR), minor: Int(STW_ABI_VERSION_MINOR))

    /// Bytes each struct must have at least: the end of its last ABI 1.0 field.
    /// When a minor appends fields, these stay as they are.
    enum MinimumSize {
        static let plugin = MemoryLayout<stw_plugin>.offset(of: \stw_plugin.get_extension)! + MemoryLayout<UnsafeRawPointer?>.size
        static let step = MemoryLayout<stw_step>.offset(of: \stw_step.invoke)! + MemoryLayout<UnsafeRawPointer?>.size
        static let adapter = MemoryLayout<stw_adapter>.offset(of: \stw_adapter.invoke)! + MemoryLayout<UnsafeRawPointer?>.size
    }

    /// Libraries already loaded in this process, by resolved path.
    private static let loaded = Mutex<[String: LoadedPlugin]>([:])

    /// Loads the plugin at `path`, or throws a `PluginLoadError` naming what is wrong.
    public static func load(path: String) throws(PluginLoadError) -> LoadedPlugin {
        guard access(path, F_OK) == 0 else { throw PluginLoadError(path: path, reason: .fileNotFound) }
        let resolved = realpath(path, nil).map { pointer -> String in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? path
        let result: Result<LoadedPlugin, PluginLoadError> = loaded.withLock { cache in
            if let plugin = cache[resolved] { return .success(plugin) }
            let opened = Result { () throws(PluginLoadError) -> LoadedPlugin in try open(path: path, resolved: resolved) }
            if case .success(let plugin) = opened { cache[resolved] = plugin }
            return opened
        }
        return try result.get()
    }

    /// Loads the plugin at `path` as `settings` say: into this process, or (mode `.process`)
    /// into host processes started from `environment.hostExecutable`, which load it with this
    /// same loader and report it back. Either way a plugin that does not load throws the same
    /// `PluginLoadError`; an isolated one may also fail with `.hostFailed`.
    public static func load(path: String, isolation settings: IsolationSettings, environment: IsolationEnvironment?) throws(PluginLoadError) -> LoadedPlugin {
        guard settings.mode == .process else { return try load(path: path) }
        guard let environment else {
            throw PluginLoadError(path: path, reason: .hostFailed(message: "steward-plugin-host was not found (set STEWARD_PLUGIN_HOST, or install it beside steward)"))
        }
        let host = try IsolatedPlugin(path: path, settings: settings, environment: environment)
        return LoadedPlugin(isolated: host, path: path)
    }

    /// Drops `plugin` from the cache (the first step of its `deinit`).
    /// - Returns: false when it was not the cached load (already forgotten).
    static func forget(_ plugin: LoadedPlugin) -> Bool {
        loaded.withLock { cache in
            // Each load makes its own identity object, so it tells this load from a later one.
            guard let cached = cache[plugin.resolvedPath], cached.binary === plugin.binary else {
                return false
            }
            cache[plugin.resolvedPath] = nil
            return true
        }
    }

    private static func open(path: String, resolved: String) throws(PluginLoadError) -> LoadedPlugin {
        guard let handle = dlopen(resolved, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let detail = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw PluginLoadError(path: path, reason: .notASharedLibrary(detail: detail))
        }
        // Never dlclose: see the type's documentation.
        guard let symbol = dlsym(handle, STW_PLUGIN_ENTRY_SYMBOL) else {
            throw PluginLoadError(path: path, reason: .missingEntrySymbol(symbol: STW_PLUGIN_ENTRY_SYMBOL))
        }
        let entry = unsafeBitCast(symbol, to: stw_plugin_entry_fn.self)
        var descriptor: UnsafePointer<stw_plugin>?
        let status = entry(HostTable.pointer, &descriptor)
        guard status == STW_OK else { throw PluginLoadError(path: path, reason: .entryFailed(status: status)) }
        guard let descriptor else { throw PluginLoadError(path: path, reason: .nullDescriptor) }
        let plugin: stw_plugin = try readStruct(descriptor, name: "stw_plugin", minimum: MinimumSize.plugin, path: path)
        return try LoadedPlugin(descriptor: plugin, path: path, resolvedPath: resolved)
    }

    /// Checks a struct's header and copies it, zero-filling fields past its `struct_size` and
    /// dropping fields past the host's own (those of a newer minor).
    static func readStruct<T>(_ pointer: UnsafePointer<T>, name: String, minimum: Int, path: String) throws(PluginLoadError) -> T {
        let header = UnsafeRawPointer(pointer).load(as: stw_struct_header.self)
        let major = Int(header.abi_major)
        guard major == hostABI.major else {
            throw PluginLoadError(path: path, reason: .abiMajorMismatch(structName: name, plugin: major, host: hostABI.major))
        }
        // Any minor is accepted (a newer one since 1.2): only the fields this host knows are
        // copied below, and minors only append (see Docs/abi-compatibility.md).
        let size = Int(header.struct_size)
        guard size >= minimum else {
            throw PluginLoadError(path: path, reason: .structTooSmall(structName: name, size: size, minimum: minimum))
        }
        let copy = UnsafeMutablePointer<T>.allocate(capacity: 1)
        defer { copy.deallocate() }
        memset(copy, 0, MemoryLayout<T>.size)
        memcpy(copy, pointer, min(size, MemoryLayout<T>.size))
        return copy.pointee
    }

    /// Reads a NUL-terminated identifier field, checking it is present and well formed.
    static func identifier(_ pointer: UnsafePointer<CChar>?, field: String, path: String) throws(PluginLoadError) -> String {
        guard let pointer else { throw PluginLoadError(path: path, reason: .invalidDescriptor(field: field, reason: "is NULL")) }
        let text = String(cString: pointer)
        let allowed = text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard !text.isEmpty, text.utf8.count <= 64, allowed else {
            throw PluginLoadError(path: path, reason: .invalidDescriptor(field: field, reason: "'\(text)' is not 1-64 characters of [a-z0-9_-]"))
        }
        return text
    }

    /// Reads an optional NUL-terminated text field.
    static func text(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
