import Yams

/// How the operator runs one plugin (`plugins:` in `workflows/plugins.yaml`), as written.
/// The plugin host turns it into its isolation settings; nil fields take the host's defaults.
public struct PluginRunSettings: Sendable, Equatable {
    /// `in-process` (the default) or `process`.
    public var isolation: String = "in-process"
    /// `memory_limit_mb`: the address-space limit of each host process, in MiB.
    public var memoryLimitMegabytes: Int?
    /// `cpu_limit_ms`: the CPU time one call may use.
    public var cpuLimitMilliseconds: Int?
    /// `hosts`: host processes for the plugin.
    public var hosts: Int?
    /// `channels`: calls in flight per host.
    public var channels: Int?
    /// `on_crash`: `transient` (the default) or `permanent`.
    public var onCrash: String = "transient"
    /// `quarantine_after`: host failures within the window that quarantine the plugin.
    public var quarantineAfter: Int?
    /// `quarantine_window_s`: that window, in seconds.
    public var quarantineWindowSeconds: Int?
    /// `network`: false runs the host without network.
    public var network: Bool = true
    /// `environment`: variables set (a string) or removed (null) in the host processes only.
    public var environment: [String: String?] = [:]
    /// Where the plugin's entry is written.
    public var location: SourceLocation?

    /// Settings with every default.
    public init() {}
}

/// The operator's plugin settings file: pins and how each plugin runs.
public struct PluginSettingsFile: Sendable, Equatable {
    /// `name@version` -> the SHA-256 of the one library allowed to serve it.
    public var pins: [String: String] = [:]
    /// Plugin name -> how it runs.
    public var plugins: [String: PluginRunSettings] = [:]

    /// No pins, every plugin in process.
    public init() {}

    /// The values `isolation` takes.
    public static let isolationModes = ["in-process", "process"]
}

extension TemplateParser {
    /// The keys of one plugin's entry under `plugins:`.
    static let pluginRunKeys = [
        "isolation", "memory_limit_mb", "cpu_limit_ms", "hosts", "channels", "on_crash", "quarantine_after", "quarantine_window_s", "network",
        "environment",
    ]

    /// Parses `workflows/plugins.yaml`, the operator's plugin settings: `pins` maps
    /// `name@version` to the SHA-256 (64 hex digits) of the one library allowed to serve that
    /// plugin version, so a different binary under the same version is refused at load.
    /// - Throws: `TemplateErrors` with every problem located.
    public static func parsePluginPins(_ text: String, file: String) throws(TemplateErrors) -> [String: String] {
        try parsePluginSettings(text, file: file).pins
    }

    /// Parses `workflows/plugins.yaml`: `pins` (see `parsePluginPins`) and `plugins`, a
    /// mapping of plugin name to how it runs (`isolation: process` with its limits).
    /// - Throws: `TemplateErrors` with every problem located.
    public static func parsePluginSettings(_ text: String, file: String) throws(TemplateErrors) -> PluginSettingsFile {
        var reader = YAMLReader(file: file)
        let root = try compose(text, file: file, expected: "the plugin settings")
        guard let top = reader.entries(of: root, context: "the plugin settings", allowed: ["pins", "plugins"]) else {
            throw TemplateErrors(reader.diagnostics)
        }
        var settings = PluginSettingsFile()
        if let node = top["pins"]?.value {
            if case .mapping(let mapping) = node {
                for (key, value) in mapping {
                    guard let name = reader.string(key, "a pinned plugin"), let hash = reader.string(value, "the SHA-256 of '\(key.string ?? "?")'") else {
                        continue
                    }
                    let parts = name.split(separator: "@")
                    if parts.count != 2 || parts.contains(where: \.isEmpty) {
                        reader.error(key, "expected 'name@version' for a pinned plugin, found '\(name)'")
                    }
                    let lowered = hash.lowercased()
                    if lowered.count != 64 || !lowered.allSatisfy({ $0.isHexDigit }) {
                        reader.error(value, "expected the 64 hex digits of a SHA-256 for '\(name)' (steward plugins inspect prints it), found '\(hash)'")
                    }
                    settings.pins[name] = lowered
                }
            } else {
                reader.error(node, "expected a mapping of 'name@version' to SHA-256 for 'pins', found \(YAMLReader.describe(node))")
            }
        }
        if let node = top["plugins"]?.value {
            if case .mapping(let mapping) = node {
                for (key, value) in mapping {
                    guard let name = reader.string(key, "a plugin name") else { continue }
                    if let run = parsePluginRun(value, name: name, reader: &reader) { settings.plugins[name] = run }
                }
            } else {
                reader.error(node, "expected a mapping of plugin name to its settings for 'plugins', found \(YAMLReader.describe(node))")
            }
        }
        guard reader.diagnostics.isEmpty else { throw TemplateErrors(reader.diagnostics) }
        return settings
    }

    /// One plugin's entry under `plugins:`.
    static func parsePluginRun(_ node: Node, name: String, reader: inout YAMLReader) -> PluginRunSettings? {
        let context = "the settings of plugin '\(name)'"
        guard let entries = reader.entries(of: node, context: context, allowed: pluginRunKeys) else { return nil }
        var run = PluginRunSettings()
        run.location = reader.location(of: node)
        if let isolation = entries["isolation"].flatMap({ reader.string($0.value, "'isolation' of plugin '\(name)'") }) {
            if PluginSettingsFile.isolationModes.contains(isolation) {
                run.isolation = isolation
            } else {
                let suggestion = YAMLReader.closest(to: isolation, in: PluginSettingsFile.isolationModes).map { " (did you mean '\($0)'?)" } ?? ""
                reader.error(entries["isolation"]?.value, "expected 'in-process' or 'process' for 'isolation' of plugin '\(name)', found '\(isolation)'\(suggestion)")
            }
        }
        run.memoryLimitMegabytes = reader.integer(entries["memory_limit_mb"]?.value, "'memory_limit_mb' of plugin '\(name)'", range: 16...1_048_576)
        run.cpuLimitMilliseconds = reader.integer(entries["cpu_limit_ms"]?.value, "'cpu_limit_ms' of plugin '\(name)'", range: 1...86_400_000)
        run.hosts = reader.integer(entries["hosts"]?.value, "'hosts' of plugin '\(name)'", range: 1...64)
        run.channels = reader.integer(entries["channels"]?.value, "'channels' of plugin '\(name)'", range: 1...64)
        run.quarantineAfter = reader.integer(entries["quarantine_after"]?.value, "'quarantine_after' of plugin '\(name)'", range: 1...100_000)
        run.quarantineWindowSeconds = reader.integer(entries["quarantine_window_s"]?.value, "'quarantine_window_s' of plugin '\(name)'", range: 1...86_400)
        if let onCrash = entries["on_crash"].flatMap({ reader.string($0.value, "'on_crash' of plugin '\(name)'") }) {
            if ["transient", "permanent"].contains(onCrash) {
                run.onCrash = onCrash
            } else {
                reader.error(entries["on_crash"]?.value, "expected 'transient' or 'permanent' for 'on_crash' of plugin '\(name)', found '\(onCrash)'")
            }
        }
        if let network = reader.bool(entries["network"]?.value, "'network' of plugin '\(name)'") { run.network = network }
        if let node = entries["environment"]?.value {
            if case .mapping(let mapping) = node {
                for (key, value) in mapping {
                    guard let variable = reader.string(key, "a variable of 'environment' of plugin '\(name)'") else { continue }
                    if variable.isEmpty || variable.contains("=") {
                        reader.error(key, "'\(variable)' is not an environment variable name")
                    } else if value.null != nil {
                        run.environment[variable] = .some(nil)
                    } else if let text = reader.string(value, "the value of '\(variable)' in 'environment' of plugin '\(name)' (a string, or null to remove it)") {
                        run.environment[variable] = .some(text)
                    }
                }
            } else {
                reader.error(node, "expected a mapping of variable -> value (or null) for 'environment' of plugin '\(name)', found \(YAMLReader.describe(node))")
            }
        }
        let limits = ["memory_limit_mb", "cpu_limit_ms", "hosts", "channels", "on_crash", "quarantine_after", "quarantine_window_s", "network", "environment"]
        if run.isolation == "in-process", let limit = limits.first(where: { entries[$0] != nil }) {
            reader.error(entries[limit]?.key, "'\(limit)' of plugin '\(name)' applies only with 'isolation: process' (an in-process plugin shares the engine's process)")
        }
        return run
    }
}
