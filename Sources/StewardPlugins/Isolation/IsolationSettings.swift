import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How one plugin runs: in the engine's process (the default) or in host processes of its
/// own, with limits. Read from the operator's `workflows/plugins.yaml` (`plugins:` by plugin
/// name) and tightened by templates that ask for `isolation: process`.
public struct IsolationSettings: Sendable, Equatable {
    /// Where the plugin's code runs.
    public enum Mode: String, Sendable, Equatable {
        /// Loaded into the engine (fastest; a crash takes the engine down).
        case inProcess = "in-process"
        /// In `steward-plugin-host` processes: a crash, hang or limit fails the calls in
        /// flight on that host, never the engine.
        case process
    }

    /// Where the plugin's code runs.
    public var mode: Mode
    /// `RLIMIT_AS` of each host process, in bytes (nil: none). Counts address space, not
    /// resident memory: thread stacks and allocator arenas count too.
    public var memoryLimitBytes: Int?
    /// The CPU time one call may use, in milliseconds (nil: none); the host's watchdog fails
    /// the call and the host restarts.
    public var cpuLimitMilliseconds: Int?
    /// Host processes per plugin (nil: 1 when every step and adapter is thread-safe, else 2).
    public var hosts: Int?
    /// Calls in flight per host (nil: 8 when every step and adapter is thread-safe, else 1).
    public var channels: Int?
    /// How a call that a host crash, a malformed frame or a limit failed is classified:
    /// `.transient` (the default: retried under the state's policy) or `.permanent`.
    public var crashKind: StepCallError.Kind
    /// Host failures (crashes, limits, malformed frames; not timeouts) within
    /// `quarantineWindowSeconds` that quarantine the plugin.
    public var quarantineAfter: Int
    /// The window `quarantineAfter` counts in.
    public var quarantineWindowSeconds: Double
    /// Whether the host keeps the network (false: a new, empty network namespace, and the
    /// host refuses to start where the machine does not allow one).
    public var network: Bool
    /// Changes to the environment the host inherits from the engine: a value sets the
    /// variable, nil removes it. (The engine's own environment is never changed: setenv is not
    /// safe while other threads read it.)
    public var environment: [String: String?] = [:]

    /// Settings with the defaults (in-process).
    public init(
        mode: Mode = .inProcess, memoryLimitBytes: Int? = nil, cpuLimitMilliseconds: Int? = nil, hosts: Int? = nil, channels: Int? = nil,
        crashKind: StepCallError.Kind = .transient, quarantineAfter: Int = 5, quarantineWindowSeconds: Double = 60, network: Bool = true
    ) {
        self.mode = mode
        self.memoryLimitBytes = memoryLimitBytes
        self.cpuLimitMilliseconds = cpuLimitMilliseconds
        self.hosts = hosts
        self.channels = channels
        self.crashKind = crashKind
        self.quarantineAfter = quarantineAfter
        self.quarantineWindowSeconds = quarantineWindowSeconds
        self.network = network
    }

    /// Process isolation with the default limits.
    public static let process = IsolationSettings(mode: .process)
}

/// What process isolation needs from the machine: the host executable, and where the
/// plugins' health (quarantine, host processes) is kept between processes.
public struct IsolationEnvironment: Sendable, Equatable {
    /// The `steward-plugin-host` executable.
    public var hostExecutable: String
    /// The directory holding `<plugin>.quarantined` and `<plugin>.host.json` (nil: kept in
    /// memory only, and `steward plugins unquarantine` cannot reach it).
    public var stateDirectory: String?

    /// Creates an environment.
    public init(hostExecutable: String, stateDirectory: String?) {
        self.hostExecutable = hostExecutable
        self.stateDirectory = stateDirectory
    }

    /// The host executable: `$STEWARD_PLUGIN_HOST`, else `steward-plugin-host` beside this
    /// process's executable; nil when neither exists.
    public static func locateHost() -> String? {
        if let given = getenv("STEWARD_PLUGIN_HOST").map({ String(cString: $0) }), !given.isEmpty {
            return access(given, X_OK) == 0 ? given : nil
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let executable = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = executable.lastIndex(of: "/") else { return nil }
        var directory = String(executable[..<slash])
        // Test bundles run from `<products>/<name>.xctest/...`: the host is in `<products>`.
        if let bundle = directory.range(of: ".xctest", options: .backwards) {
            directory = String(directory[..<bundle.lowerBound])
            if let parent = directory.lastIndex(of: "/") { directory = String(directory[..<parent]) }
        }
        let candidate = directory + "/steward-plugin-host"
        return access(candidate, X_OK) == 0 ? candidate : nil
    }
}
