import StewardABI

/// Everything a plugin exposes, declared in Swift: `PluginKit.entry` turns it into the ABI's C
/// descriptor once, on the host's first call of the entry, and keeps it for the process.
///
/// Names follow the host's rules (checked when it loads the plugin): the plugin name, step
/// names and adapter ids are 1-64 characters of `[a-z0-9_-]`; versions are not empty.
public struct Plugin: Sendable {
    /// The plugin's name; templates call its steps `<name>.<step>`.
    public let name: String
    /// The plugin's version, e.g. "1.2.0".
    public let version: String
    /// One line for people, or nil.
    public let description: String?
    /// The steps, in the order the host lists them.
    public let steps: [Step]
    /// The model adapters.
    public let adapters: [Adapter]
    /// Runs once at the host's orderly shutdown, after the last call has returned (the ABI's
    /// `deinit`, since 1.2): flush, close connections. Not run on a crash or a kill.
    public let onShutdown: (@Sendable () -> Void)?

    /// Declares a plugin. At most `PluginKit.maximumSteps` steps and `PluginKit.maximumAdapters`
    /// adapters; with more, the entry refuses the host with `STW_ERR_INTERNAL` and logs why.
    public init(
        name: String, version: String, description: String? = nil, steps: [Step] = [], adapters: [Adapter] = [],
        onShutdown: (@Sendable () -> Void)? = nil
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.steps = steps
        self.adapters = adapters
        self.onShutdown = onShutdown
    }
}

/// One step: a Swift closure from a decoded call to a JSON output.
///
/// Thread rules: without `.threadSafe` the host never runs the closure concurrently with
/// itself (it serialises calls of the step with a lock); with it, the host may call the
/// closure from several threads at once, so the closure must be safe to call concurrently.
/// Different steps of one plugin may always run at the same time: guard what they share.
public struct Step: Sendable {
    /// `STW_STEP_*` flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32

        /// Flags from their ABI bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// `STW_STEP_THREAD_SAFE`: the host may call the step from several threads at once.
        public static let threadSafe = Flags(rawValue: STW_STEP_THREAD_SAFE)
        /// `STW_STEP_PURE`: no side effects, so the engine may re-run the step freely.
        public static let pure = Flags(rawValue: STW_STEP_PURE)
        /// `STW_STEP_NONBLOCKING`: the step only computes and returns within a millisecond, so
        /// (with `.threadSafe`) the engine may run it on the asking thread.
        public static let nonBlocking = Flags(rawValue: STW_STEP_NONBLOCKING)
    }

    /// The step's work. It returns the output document or throws a `StepFailure`; the SDK
    /// serialises the output into host memory. It must not keep `StepCall` beyond the call
    /// for anything but logging.
    public typealias Body = @Sendable (StepCall) throws(StepFailure) -> JSONValue

    /// The step's name within the plugin.
    public let name: String
    /// The version of the step's contract, e.g. "1.0.0".
    public let version: String
    /// One line for people, or nil.
    public let description: String?
    /// How the host may call it.
    public let flags: Flags
    /// The closure.
    public let body: Body

    /// Declares a step.
    public init(_ name: String, version: String, description: String? = nil, flags: Flags = [], _ body: @escaping Body) {
        self.name = name
        self.version = version
        self.description = description
        self.flags = flags
        self.body = body
    }
}

/// One model adapter: a Swift closure from a decoded model call to an answer.
///
/// Thread rules as for `Step`: without `threadSafe` the host serialises calls of the adapter;
/// with it, the closure must be safe to call concurrently.
public struct Adapter: Sendable {
    /// The adapter's work. The SDK has already refused a task not in `tasks`.
    public typealias Body = @Sendable (ModelCall) throws(StepFailure) -> ModelAnswer

    /// The adapter's id; templates bind a role to `<id>@<version>`.
    public let id: String
    /// The adapter's version, e.g. "2.0.0".
    public let version: String
    /// One line for people, or nil.
    public let description: String?
    /// The tasks it serves (its `task_mask`).
    public let tasks: [ModelTask]
    /// Whether the host may call it from several threads at once (`STW_STEP_THREAD_SAFE`).
    public let threadSafe: Bool
    /// Whether it only computes and returns within a millisecond (`STW_STEP_NONBLOCKING`).
    public let nonBlocking: Bool
    /// The closure.
    public let body: Body

    /// Declares an adapter.
    public init(
        id: String, version: String, description: String? = nil, tasks: [ModelTask], threadSafe: Bool = false, nonBlocking: Bool = false,
        _ body: @escaping Body
    ) {
        self.id = id
        self.version = version
        self.description = description
        self.tasks = tasks
        self.threadSafe = threadSafe
        self.nonBlocking = nonBlocking
        self.body = body
    }

    /// `id@version`, as the host names the adapter.
    var key: String { "\(id)@\(version)" }
}
