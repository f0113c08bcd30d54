/// Why a plugin library could not be loaded. Every case names the file and what was wrong.
public struct PluginLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// No file at the path.
        case fileNotFound
        /// `dlopen` refused the file (not an ELF shared library, missing dependency, ...).
        case notASharedLibrary(detail: String)
        /// The library does not export `stw_plugin_entry`.
        case missingEntrySymbol(symbol: String)
        /// `stw_plugin_entry` returned an error status (e.g. `STW_ERR_INCOMPATIBLE`).
        case entryFailed(status: Int32)
        /// `stw_plugin_entry` returned OK but no descriptor.
        case nullDescriptor
        /// A struct's ABI major differs from the host's.
        case abiMajorMismatch(structName: String, plugin: Int, host: Int)
        /// A struct's `struct_size` is below the size ABI 1.0 requires.
        case structTooSmall(structName: String, size: Int, minimum: Int)
        /// A descriptor field is missing or malformed.
        case invalidDescriptor(field: String, reason: String)
        /// Two loaded plugins expose the same step (or the same plugin is loaded twice).
        case duplicateStep(step: String, firstLoadedFrom: String)
        /// Two adapters (in one plugin or two) have the same `id@version`.
        case duplicateAdapter(adapter: String, firstLoadedFrom: String)
        /// Two loaded plugins have the same name.
        case duplicatePlugin(name: String, firstLoadedFrom: String)
        /// The plugin's `init` returned an error status.
        case initFailed(status: Int32)
        /// An isolated plugin's host process did not start or died before it reported the
        /// plugin (`isolation: process`): the message says which and why.
        case hostFailed(message: String)
    }

    /// The library's path.
    public let path: String
    /// What went wrong.
    public let reason: Reason

    /// Creates an error.
    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// One readable line: "cannot load plugin <path>: <what>".
    public var description: String {
        let what: String
        switch reason {
        case .fileNotFound:
            what = "no such file"
        case .notASharedLibrary(let detail):
            what = "not a loadable shared library (\(detail))"
        case .missingEntrySymbol(let symbol):
            what = "missing entry symbol '\(symbol)'; a plugin must export it (see steward_abi.h)"
        case .entryFailed(let status):
            what = "stw_plugin_entry refused the host with status \(StepStatus(rawValue: status)?.name ?? String(status))"
        case .nullDescriptor:
            what = "stw_plugin_entry returned STW_OK but left the descriptor NULL"
        case .abiMajorMismatch(let structName, let plugin, let host):
            what = "ABI major mismatch in \(structName): plugin was built for ABI \(plugin).x, host speaks \(host).x"
        case .structTooSmall(let structName, let size, let minimum):
            what = "\(structName).struct_size is \(size) bytes, below the \(minimum) bytes ABI 1.0 requires"
        case .invalidDescriptor(let field, let reason):
            what = "invalid descriptor field '\(field)': \(reason)"
        case .duplicateStep(let step, let first):
            what = "step '\(step)' is already provided by \(first)"
        case .duplicateAdapter(let adapter, let first):
            what = "adapter '\(adapter)' is already provided by \(first)"
        case .duplicatePlugin(let name, let first):
            what = "a plugin named '\(name)' is already loaded from \(first)"
        case .initFailed(let status):
            what = "the plugin's init failed with status \(StepStatus(rawValue: status)?.name ?? String(status))"
        case .hostFailed(let message):
            what = "its host process failed: \(message)"
        }
        return "cannot load plugin \(path): \(what)"
    }
}

/// The status codes of the ABI, as a Swift enum.
public enum StepStatus: Int32, Sendable, Codable {
    /// `STW_OK`.
    case ok = 0
    /// `STW_ERR_INVALID_INPUT`: retrying cannot help.
    case invalidInput = 1
    /// `STW_ERR_TRANSIENT`: retry with backoff.
    case transient = 2
    /// `STW_ERR_PERMANENT`: failed for good.
    case permanent = 3
    /// `STW_ERR_INTERNAL`: a bug in the plugin.
    case `internal` = 4
    /// `STW_ERR_INCOMPATIBLE`: the plugin refused the host.
    case incompatible = 5

    /// The C constant's name.
    public var name: String {
        switch self {
        case .ok: return "STW_OK"
        case .invalidInput: return "STW_ERR_INVALID_INPUT"
        case .transient: return "STW_ERR_TRANSIENT"
        case .permanent: return "STW_ERR_PERMANENT"
        case .internal: return "STW_ERR_INTERNAL"
        case .incompatible: return "STW_ERR_INCOMPATIBLE"
        }
    }
}

/// Why a step call failed.
public struct StepCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure, which decides retry and routing.
    public enum Kind: String, Sendable, Equatable, Codable {
        /// The input was refused; retrying cannot help.
        case invalidInput = "invalid_input"
        /// A passing failure; the runtime retries.
        case transient
        /// Failed for good.
        case permanent
        /// A bug in the plugin (or an unknown status code).
        case `internal`
        /// The plugin answered OK with an output that is not UTF-8 JSON, or no output at all.
        case invalidOutput = "invalid_output"
        /// No loaded plugin provides the step.
        case unknownStep = "unknown_step"
        /// No loaded plugin provides the adapter `id@version`.
        case unknownAdapter = "unknown_adapter"
    }

    /// What was called.
    public enum Callee: String, Sendable, Equatable {
        /// A step; `step` is its full name, `plugin.step`.
        case step
        /// A model adapter; `step` is its `id@version`.
        case adapter
    }

    /// The full step name, or the adapter's `id@version` when `callee` is `.adapter`.
    public let step: String
    /// Whether a step or an adapter failed.
    public let callee: Callee
    /// The failure class.
    public let kind: Kind
    /// A message for people (the plugin's own, or the host's).
    public let message: String

    /// Creates an error.
    public init(step: String, kind: Kind, message: String) {
        self.step = step
        self.callee = .step
        self.kind = kind
        self.message = message
    }

    /// Creates an error for a model adapter call; `adapter` is its `id@version`.
    public init(adapter: String, kind: Kind, message: String) {
        self.step = adapter
        self.callee = .adapter
        self.kind = kind
        self.message = message
    }

    /// Whether the runtime should retry.
    public var isRetryable: Bool { kind == .transient }

    /// "step kb.search failed (transient): timeout", "adapter banking-intent@2.0.0 failed (...): ...".
    public var description: String { "\(callee.rawValue) \(step) failed (\(kind.rawValue)): \(message)" }
}

extension StepCallError {
    /// The error for a failing status a step or adapter returned, with the plugin's message
    /// (host-allocated, `length` bytes; "no message" when absent). `make` names the callee.
    static func failure(
        status: Int32, message pointer: UnsafeMutablePointer<CChar>?, length: Int, callee: String,
        make: (Kind, String) -> StepCallError
    ) -> StepCallError {
        // Never read past the block the plugin allocated, whatever length it claims.
        let message = pointer.map {
            String(decoding: UnsafeRawBufferPointer(start: $0, count: min(length, OutputLimit.allocatedSize($0))), as: UTF8.self)
        } ?? "no message"
        switch StepStatus(rawValue: status) {
        case .invalidInput: return make(.invalidInput, message)
        case .transient: return make(.transient, message)
        case .permanent: return make(.permanent, message)
        case .internal: return make(.internal, message)
        case .some(let other):
            // STW_ERR_INCOMPATIBLE is defined, but only as an answer of stw_plugin_entry.
            return make(.internal, "\(other.name) is not a \(callee) status: \(message)")
        case nil:
            return make(.internal, "unknown status \(status): \(message)")
        }
    }
}
