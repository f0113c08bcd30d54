import StewardABI
import StewardJSON

/// What a plugin host reports once it has loaded its plugin: the descriptor the engine would
/// have read itself in process, so an isolated plugin's steps and adapters are known without
/// loading its code into the engine.
public struct HostHello: Sendable, Equatable {
    /// One step as declared.
    public struct Step: Sendable, Equatable {
        /// The step's own name (without the plugin's).
        public var name: String
        /// Its version.
        public var version: String
        /// One line for people.
        public var description: String?
        /// `STW_STEP_*` flags.
        public var flags: UInt32
    }

    /// Plugin name.
    public var name: String
    /// Plugin version.
    public var version: String
    /// One line for people.
    public var description: String?
    /// ABI version the plugin was built against.
    public var abiMajor: Int
    /// ABI minor the plugin was built against.
    public var abiMinor: Int
    /// Whether the plugin has a deinit (ABI 1.2).
    public var hasDeinit: Bool
    /// Steps in declaration order (a request names one by its index).
    public var steps: [Step]
    /// Adapters in declaration order.
    public var adapters: [AdapterInfo]
    /// The SHA-256 of the library the host loaded.
    public var sha256: String
    /// The host's process id.
    public var pid: Int32

    /// Whether every step and adapter may be called concurrently.
    public var isThreadSafe: Bool {
        steps.allSatisfy { $0.flags & STW_STEP_THREAD_SAFE != 0 } && adapters.allSatisfy(\.threadSafe)
    }

    /// The hello of a plugin loaded in the host's process.
    init(_ plugin: LoadedPlugin, pid: Int32) {
        name = plugin.name
        version = plugin.version
        description = plugin.description
        abiMajor = plugin.abiMajor
        abiMinor = plugin.abiMinor
        hasDeinit = plugin.hasDeinit
        steps = plugin.steps.map { step in
            Step(name: String(step.fullName.dropFirst(plugin.name.count + 1)), version: step.version, description: step.description, flags: step.flags)
        }
        adapters = plugin.adapters
        sha256 = plugin.binary.sha256
        self.pid = pid
    }

    var json: JSONValue {
        [
            "name": .string(name), "version": .string(version), "description": description.map(JSONValue.string) ?? .null,
            "abi_major": .integer(Int64(abiMajor)), "abi_minor": .integer(Int64(abiMinor)), "has_deinit": .bool(hasDeinit),
            "sha256": .string(sha256), "pid": .integer(Int64(pid)),
            "steps": .array(steps.map { step in
                ["name": .string(step.name), "version": .string(step.version), "description": step.description.map(JSONValue.string) ?? .null, "flags": .integer(Int64(step.flags))]
            }),
            "adapters": .array(adapters.map { adapter in
                [
                    "id": .string(adapter.id), "version": .string(adapter.version), "description": adapter.description.map(JSONValue.string) ?? .null,
                    "thread_safe": .bool(adapter.threadSafe), "task_mask": .integer(Int64(adapter.taskMask)),
                ]
            }),
        ]
    }

    /// Reads a hello; nil when a field is missing or of the wrong type.
    init?(json: JSONValue) {
        guard let name = json["name"]?.stringValue, let version = json["version"]?.stringValue,
            let abiMajor = json["abi_major"]?.integerValue, let abiMinor = json["abi_minor"]?.integerValue,
            let sha256 = json["sha256"]?.stringValue, let pid = json["pid"]?.integerValue,
            let steps = json["steps"]?.arrayValue, let adapters = json["adapters"]?.arrayValue
        else { return nil }
        self.name = name
        self.version = version
        description = json["description"]?.stringValue
        self.abiMajor = Int(abiMajor)
        self.abiMinor = Int(abiMinor)
        hasDeinit = json["has_deinit"]?.boolValue ?? false
        self.sha256 = sha256
        self.pid = Int32(clamping: pid)
        var readSteps: [Step] = []
        for step in steps {
            guard let stepName = step["name"]?.stringValue, let stepVersion = step["version"]?.stringValue, let flags = step["flags"]?.integerValue else { return nil }
            readSteps.append(Step(name: stepName, version: stepVersion, description: step["description"]?.stringValue, flags: UInt32(clamping: flags)))
        }
        self.steps = readSteps
        var readAdapters: [AdapterInfo] = []
        for adapter in adapters {
            guard let id = adapter["id"]?.stringValue, let adapterVersion = adapter["version"]?.stringValue, let mask = adapter["task_mask"]?.integerValue else { return nil }
            readAdapters.append(
                AdapterInfo(
                    id: id, version: adapterVersion, description: adapter["description"]?.stringValue, threadSafe: adapter["thread_safe"]?.boolValue ?? false,
                    taskMask: UInt32(clamping: mask)))
        }
        self.adapters = readAdapters
    }
}

extension PluginLoadError.Reason {
    /// The reason as the host sends it, so an isolated load fails with the same typed error.
    var json: JSONValue {
        switch self {
        case .fileNotFound: ["case": "file_not_found"]
        case .notASharedLibrary(let detail): ["case": "not_a_shared_library", "detail": .string(detail)]
        case .missingEntrySymbol(let symbol): ["case": "missing_entry_symbol", "symbol": .string(symbol)]
        case .entryFailed(let status): ["case": "entry_failed", "status": .integer(Int64(status))]
        case .nullDescriptor: ["case": "null_descriptor"]
        case .abiMajorMismatch(let structName, let plugin, let host):
            ["case": "abi_major_mismatch", "struct": .string(structName), "plugin": .integer(Int64(plugin)), "host": .integer(Int64(host))]
        case .structTooSmall(let structName, let size, let minimum):
            ["case": "struct_too_small", "struct": .string(structName), "size": .integer(Int64(size)), "minimum": .integer(Int64(minimum))]
        case .invalidDescriptor(let field, let reason): ["case": "invalid_descriptor", "field": .string(field), "reason": .string(reason)]
        case .duplicateStep(let step, let first): ["case": "duplicate_step", "step": .string(step), "first": .string(first)]
        case .duplicateAdapter(let adapter, let first): ["case": "duplicate_adapter", "adapter": .string(adapter), "first": .string(first)]
        case .duplicatePlugin(let name, let first): ["case": "duplicate_plugin", "name": .string(name), "first": .string(first)]
        case .initFailed(let status): ["case": "init_failed", "status": .integer(Int64(status))]
        case .hostFailed(let message): ["case": "host_failed", "message": .string(message)]
        }
    }

    /// Reads a reason the host sent; nil when it is not one.
    init?(json: JSONValue) {
        func text(_ key: String) -> String? { json[key]?.stringValue }
        func number(_ key: String) -> Int? { json[key]?.integerValue.map { Int($0) } }
        switch text("case") {
        case "file_not_found": self = .fileNotFound
        case "not_a_shared_library": self = .notASharedLibrary(detail: text("detail") ?? "")
        case "missing_entry_symbol": self = .missingEntrySymbol(symbol: text("symbol") ?? "")
        case "entry_failed": self = .entryFailed(status: Int32(clamping: number("status") ?? 0))
        case "null_descriptor": self = .nullDescriptor
        case "abi_major_mismatch": self = .abiMajorMismatch(structName: text("struct") ?? "", plugin: number("plugin") ?? 0, host: number("host") ?? 0)
        case "struct_too_small": self = .structTooSmall(structName: text("struct") ?? "", size: number("size") ?? 0, minimum: number("minimum") ?? 0)
        case "invalid_descriptor": self = .invalidDescriptor(field: text("field") ?? "", reason: text("reason") ?? "")
        case "duplicate_step": self = .duplicateStep(step: text("step") ?? "", firstLoadedFrom: text("first") ?? "")
        case "duplicate_adapter": self = .duplicateAdapter(adapter: text("adapter") ?? "", firstLoadedFrom: text("first") ?? "")
        case "duplicate_plugin": self = .duplicatePlugin(name: text("name") ?? "", firstLoadedFrom: text("first") ?? "")
        case "init_failed": self = .initFailed(status: Int32(clamping: number("status") ?? 0))
        case "host_failed": self = .hostFailed(message: text("message") ?? "")
        default: return nil
        }
    }
}
