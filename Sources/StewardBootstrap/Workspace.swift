import Foundation
import StewardJSON
import StewardForeign
import StewardPlugins
import StewardPrompts
import StewardTemplates
import Yams

/// Where an engine finds templates, plugins and its data: the current directory by default.
///
/// Thread rules: a value type with no shared state; its loading methods read files and block,
/// so call them at start-up.
public struct Workspace: Sendable {
    /// The directory commands run in.
    public let root: URL

    /// A workspace rooted at `root` (default: the current directory).
    public init(root: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        self.root = root
    }

    /// `.steward/` under the root: the embedded database and built plugins.
    public var dataDirectory: URL { root.appendingPathComponent(".steward") }
    /// Where `steward plugins build` puts libraries.
    public var builtPluginsDirectory: URL { dataDirectory.appendingPathComponent("plugins") }
    /// Where `steward plugins build` puts plain C libraries for `ffi` states.
    public var builtLibrariesDirectory: URL { dataDirectory.appendingPathComponent("lib") }

    /// The builder of the shipped plugins into this workspace's `.steward/`.
    public var pluginBuilder: PluginBuilder {
        PluginBuilder(root: root, pluginsDirectory: builtPluginsDirectory, librariesDirectory: builtLibrariesDirectory)
    }

    /// Directories searched for `ffi` libraries: `$STEWARD_LIBRARY_PATH`, `.steward/lib`, then the plugin directories.
    public func librarySearchPath(pluginDirectories explicit: [String]) -> [String] {
        var path: [String] = []
        if let extra = ProcessInfo.processInfo.environment["STEWARD_LIBRARY_PATH"], !extra.isEmpty {
            path += extra.split(separator: ":").map(String.init)
        }
        return path + [builtLibrariesDirectory.path] + pluginDirectories(explicit: explicit)
    }

    /// Whether the root is a Steward source checkout (it has shipped plugin sources).
    public var isSourceCheckout: Bool {
        FileManager.default.fileExists(atPath: root.appendingPathComponent("Plugins").path)
            && FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path)
    }

    /// The plugin directories to search: explicit ones, else `$STEWARD_PLUGIN_PATH`, else `.steward/plugins`.
    public func pluginDirectories(explicit: [String]) -> [String] {
        if !explicit.isEmpty { return explicit }
        if let path = ProcessInfo.processInfo.environment["STEWARD_PLUGIN_PATH"], !path.isEmpty {
            return path.split(separator: ":").map(String.init)
        }
        return [builtPluginsDirectory.path]
    }

    /// Where isolated plugins' health is kept between processes: `<plugin>.quarantined` and
    /// `<plugin>.host.json` (`.steward/plugin-hosts`).
    public var pluginStateDirectory: URL { dataDirectory.appendingPathComponent("plugin-hosts") }

    /// Loads every plugin library in `directories`, building the shipped ones first when
    /// running in a source checkout and `build` is set.
    ///
    /// A plugin version the operator pinned in `<workflows>/plugins.yaml` loads only from the
    /// library with the pinned SHA-256; another binary under the same name and version is refused
    /// (`BootstrapError` naming both hashes).
    ///
    /// A plugin set to `isolation: process` (under `plugins:` in that file, or by a template in
    /// `templateIsolation`, plugin name -> mode) is never loaded into this process: it runs in
    /// `steward-plugin-host` processes. Since a library's plugin name is known only once its
    /// entry has run, each library is first described by a host process when any plugin is
    /// isolated. A template asking `in-process` for a plugin the operator isolates is refused.
    /// `everyPlugin`, when set, runs every plugin that way regardless of the file (the
    /// benchmarks compare both modes on the same workflow with it).
    public func loadPlugins(
        explicit: [String], build: Bool, workflows: String = "workflows", templateIsolation: [String: (mode: String, file: String)] = [:],
        everyPlugin: IsolationSettings? = nil
    ) throws -> PluginRegistry {
        if build, explicit.isEmpty, isSourceCheckout {
            try pluginBuilder.buildAll(onlyIfStale: true)
        }
        let file = try pluginSettings(workflows: workflows)
        let pins = file.pins
        let isolated = try isolationSettings(file, templateIsolation: templateIsolation)
        var environment: IsolationEnvironment?
        if !isolated.isEmpty || everyPlugin?.mode == .process {
            guard let host = IsolationEnvironment.locateHost() else {
                throw BootstrapError(
                    "plugin \(isolated.isEmpty ? "isolation" : isolated.keys.sorted().joined(separator: ", ")) is set to 'isolation: process', but steward-plugin-host was not found "
                        + "beside the steward executable (install it there, or set STEWARD_PLUGIN_HOST to its path)")
            }
            environment = IsolationEnvironment(hostExecutable: host, stateDirectory: pluginStateDirectory.path)
        }
        var registry = PluginRegistry()
        func register(_ plugin: LoadedPlugin) throws {
            let key = "\(plugin.name)@\(plugin.version)"
            if let pinned = pins[key], plugin.binary.sha256 != pinned {
                plugin.isolated?.stop()
                throw BootstrapError(
                    "plugin \(plugin.name) \(plugin.version) at \(plugin.path) has SHA-256 \(plugin.binary.sha256), but plugins.yaml pins \(key) to \(pinned); "
                        + "a different binary under the same version is refused (load the pinned build, or give the new one a new version and pin it)")
            }
            do {
                try registry.register(plugin)
            } catch {
                plugin.isolated?.stop()
                throw error
            }
        }
        func load(_ library: String) throws -> LoadedPlugin {
            guard let environment else { return try PluginLoader.load(path: library) }
            if let everyPlugin { return try PluginLoader.load(path: library, isolation: everyPlugin, environment: environment) }
            let name = try IsolatedPlugin.describe(path: library, environment: environment).name
            guard let settings = isolated[name] else { return try PluginLoader.load(path: library) }
            return try PluginLoader.load(path: library, isolation: settings, environment: environment)
        }
        do {
            for directory in pluginDirectories(explicit: explicit) {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
                    try register(load(directory))
                    continue
                }
                for library in PluginRegistry.libraries(in: directory) {
                    try register(load(library))
                }
            }
        } catch {
            for plugin in registry.plugins { plugin.isolated?.stop() }
            throw error
        }
        let names = Set(registry.plugins.map(\.name))
        for name in isolated.keys.sorted() where !names.contains(name) {
            // A name close to a loaded one is a typo that would leave a plugin unisolated.
            if let near = names.first(where: { Plan.editDistance($0, name) <= 2 }) {
                for plugin in registry.plugins { plugin.isolated?.stop() }
                throw BootstrapError("plugin '\(name)' is set to 'isolation: process', but no loaded plugin has that name (did you mean '\(near)'?)")
            }
        }
        return registry
    }

    /// The isolation of every plugin that runs in host processes, from the operator's file and
    /// the templates' requests.
    func isolationSettings(_ file: PluginSettingsFile, templateIsolation: [String: (mode: String, file: String)]) throws -> [String: IsolationSettings] {
        var result: [String: IsolationSettings] = [:]
        for (name, run) in file.plugins where run.isolation == "process" {
            var settings = IsolationSettings(mode: .process)
            settings.memoryLimitBytes = run.memoryLimitMegabytes.map { $0 << 20 }
            settings.cpuLimitMilliseconds = run.cpuLimitMilliseconds
            settings.hosts = run.hosts
            settings.channels = run.channels
            settings.crashKind = run.onCrash == "permanent" ? .permanent : .transient
            if let after = run.quarantineAfter { settings.quarantineAfter = after }
            if let window = run.quarantineWindowSeconds { settings.quarantineWindowSeconds = Double(window) }
            settings.network = run.network
            settings.environment = run.environment
            result[name] = settings
        }
        for (name, request) in templateIsolation.sorted(by: { $0.key < $1.key }) {
            if request.mode == "process" {
                if result[name] == nil { result[name] = .process }
            } else if result[name] != nil {
                throw BootstrapError(
                    "\(request.file) asks for plugin '\(name)' in process, but the operator runs it isolated (plugins.yaml: isolation: process); "
                        + "a template may tighten a plugin's isolation, never loosen it")
            }
        }
        return result
    }

    /// The operator's plugin pins from `<workflows>/plugins.yaml` (`name@version` -> SHA-256;
    /// none when the file is absent). A relative `workflows` is under the root.
    /// - Throws: `BootstrapError` listing the file's problems with their locations.
    public func pluginPins(workflows: String) throws -> [String: String] {
        try pluginSettings(workflows: workflows).pins
    }

    /// The operator's plugin settings, `<workflows>/plugins.yaml` (empty when absent).
    /// - Throws: `BootstrapError` listing the file's problems with their locations.
    public func pluginSettings(workflows: String) throws -> PluginSettingsFile {
        let directory = workflows.hasPrefix("/") ? URL(fileURLWithPath: workflows) : root.appendingPathComponent(workflows)
        let file = directory.appendingPathComponent("plugins.yaml")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return PluginSettingsFile() }
        do {
            return try TemplateParser.parsePluginSettings(text, file: file.path)
        } catch {
            throw BootstrapError(error.description)
        }
    }

    /// The isolation each template file asks for its plugins (`{name, isolation}` entries),
    /// read before plugins load; files that do not parse are skipped here (assembly reports them).
    public func templateIsolation(files: [String]) -> [String: (mode: String, file: String)] {
        var result: [String: (mode: String, file: String)] = [:]
        for file in files {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8), text.contains("isolation"),
                let template = try? TemplateParser.parse(text, file: file)
            else { continue }
            for (name, mode) in template.pluginIsolation {
                // `in-process` and `process` from two templates: the stricter one wins.
                if result[name]?.mode != "process" { result[name] = (mode, file) }
            }
        }
        return result
    }

    /// Template files named by `paths`: files as given, directories by their `*.yaml` / `*.yml`
    /// files (not recursing into `customers/` or `examples/`).
    public func templateFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw BootstrapError("no such file or directory: \(path)")
            }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                for name in names where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                    files.append((path as NSString).appendingPathComponent(name))
                }
            } else {
                files.append(path)
            }
        }
        return files
    }

    /// Reads and parses a template file.
    public func parseTemplate(_ file: String) throws -> Template {
        try TemplateParser.parse(try readText(file), file: file)
    }

    /// Parses and validates every customer overlay in `directory` against `templates`.
    public func loadOverlays(directory: String, templates: [String: Template], adapters: Set<String>? = nil) throws
        -> (overlays: [CustomerOverlay], diagnostics: [TemplateDiagnostic])
    {
        guard FileManager.default.fileExists(atPath: directory) else { return ([], []) }
        var overlays: [CustomerOverlay] = []
        var diagnostics: [TemplateDiagnostic] = []
        var seen: [String: String] = [:]
        for file in try templateFiles([directory]) {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw BootstrapError("cannot read \(file): \(error.localizedDescription)") }
            do {
                let overlay = try TemplateParser.parseOverlay(text, file: file)
                diagnostics += TemplateParser.validate(overlay, against: templates, adapters: adapters)
                if let first = seen[overlay.customer] {
                    diagnostics.append(TemplateDiagnostic(SourceLocation(file: file, line: 1, column: 1), "customer '\(overlay.customer)' is already defined in \(first)"))
                }
                seen[overlay.customer] = file
                overlays.append(overlay)
            } catch {
                diagnostics += error.diagnostics
            }
        }
        return (overlays, diagnostics)
    }

    /// The operator's ffi symbol allow-list, `<workflows>/ffi_allow.yaml`: a mapping of library
    /// (a name as templates write it, or a path) to the only symbols templates may call in it,
    /// e.g. `churn: [churn_risk, risk_band]`. Empty when the file does not exist.
    /// - Throws: `BootstrapError` naming the file when it cannot be read or is not such a mapping.
    public func loadForeignAllowList(workflows: String) throws(BootstrapError) -> [String: [String]] {
        let file = (workflows as NSString).appendingPathComponent(Self.foreignAllowListFile)
        guard FileManager.default.fileExists(atPath: file) else { return [:] }
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw BootstrapError("cannot read \(file): \(error.localizedDescription)")
        }
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch {
            throw BootstrapError("\(file) is not valid YAML: \(error)")
        }
        guard let mapping = loaded as? [String: [String]] else {
            throw BootstrapError("\(file) must map each library to a list of symbol names (e.g. 'churn: [churn_risk]')")
        }
        return mapping
    }

    /// The name of the ffi allow-list file in a workflows directory.
    public static let foreignAllowListFile = "ffi_allow.yaml"

    /// Loads the prompt library under `<workflows>/prompts` (empty when there is none).
    public func loadPrompts(workflows: String) throws(TemplateErrors) -> PromptLibrary {
        let directory = (workflows as NSString).appendingPathComponent("prompts")
        guard FileManager.default.fileExists(atPath: directory) else { return PromptLibrary() }
        return try PromptLibrary(directory: directory)
    }

    /// Reads a UTF-8 text file.
    /// - Throws: `BootstrapError` naming the file: "no such file" with the closest names in its
    ///   directory, "is a directory", or why it cannot be read.
    public func readText(_ file: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw BootstrapError("no such file: \(file)\(Self.suggestions(for: file))")
        }
        if isDirectory.boolValue { throw BootstrapError("\(file) is a directory, not a file") }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw BootstrapError("cannot read \(file): \(String(cString: strerror(access(file, R_OK) == 0 ? EIO : EACCES)))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// " (did you mean a or b?)" for files in `file`'s directory whose names are close to its
    /// name; empty when none is.
    static func suggestions(for file: String) -> String {
        let url = URL(fileURLWithPath: file)
        let directory = url.deletingLastPathComponent()
        let name = url.lastPathComponent
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return "" }
        let distances = names.map { ($0, Plan.editDistance($0, name)) }.filter { $0.1 <= max(2, name.count / 5) }
        guard let best = distances.map(\.1).min() else { return "" }
        let close = distances.filter { $0.1 == best }.map(\.0).sorted().prefix(3)
        let prefix = (file as NSString).deletingLastPathComponent
        let shown = close.map { prefix.isEmpty ? $0 : (prefix as NSString).appendingPathComponent($0) }
        return " (did you mean \(shown.joined(separator: " or ")))"
    }

    /// Reads a JSON file.
    /// - Throws: `BootstrapError` as `readText` does, or "FILE:LINE:COLUMN: invalid JSON …"
    ///   pointing at the problem.
    public func readJSON(_ file: String) throws -> JSONValue {
        let text = try readText(file)
        do {
            return try JSONValue.parse(text)
        } catch {
            throw BootstrapError(Self.locate(error, in: text, file: file))
        }
    }

    /// A JSON parse error as "FILE:LINE:COLUMN: invalid JSON (in path): reason" (line and
    /// column from 1, the column counting characters).
    public static func locate(_ error: JSONParseError, in text: String, file: String) -> String {
        let bytes = Array(text.utf8)
        let end = min(max(0, error.offset), bytes.count)
        var line = 1
        var lineStart = 0
        for index in 0..<end where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        let column = String(decoding: bytes[lineStart..<end], as: UTF8.self).count + 1
        return "\(file):\(line):\(column): invalid JSON\(error.pathDescription.map { " (in \($0))" } ?? ""): \(error.reason)"
    }
}

/// Why an engine could not be assembled: a file that cannot be read, a plugin that does not
/// load or build, a store that does not open. Printed as one line.
public struct BootstrapError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the file.
    public let description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
