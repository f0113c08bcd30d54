import Foundation
import StewardJSON
import StewardForeign
import StewardPlugins
import StewardPrompts
import StewardTemplates

/// Where the CLI finds templates, plugins and its data: the current directory by default.
struct Workspace {
    /// The directory commands run in.
    let root: URL

    init(root: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        self.root = root
    }

    /// `.steward/` under the root: the embedded database and built plugins.
    var dataDirectory: URL { root.appendingPathComponent(".steward") }
    /// Where `steward plugins build` puts libraries.
    var builtPluginsDirectory: URL { dataDirectory.appendingPathComponent("plugins") }
    /// Where `steward plugins build` puts plain C libraries for `ffi` states.
    var builtLibrariesDirectory: URL { dataDirectory.appendingPathComponent("lib") }

    /// Directories searched for `ffi` libraries: `$STEWARD_LIBRARY_PATH`, `.steward/lib`, then the plugin directories.
    func librarySearchPath(pluginDirectories explicit: [String]) -> [String] {
        var path: [String] = []
        if let extra = ProcessInfo.processInfo.environment["STEWARD_LIBRARY_PATH"], !extra.isEmpty {
            path += extra.split(separator: ":").map(String.init)
        }
        return path + [builtLibrariesDirectory.path] + pluginDirectories(explicit: explicit)
    }

    /// Parses template files and validates them against the loaded plugins and the foreign
    /// libraries their `ffi` states name. Returns the plans, the prepared foreign functions,
    /// and the problems of each file that failed.
    func loadPlans(files: [String], registry: PluginRegistry, pluginDirectories: [String], prompts: PromptLibrary? = nil) throws
        -> (plans: [Plan], foreign: ForeignLibraries, failures: [(file: String, diagnostics: [TemplateDiagnostic])])
    {
        var parsed: [(String, ParsedTemplate)] = []
        var failures: [(file: String, diagnostics: [TemplateDiagnostic])] = []
        for file in files {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw CLIError("cannot read \(file): \(error.localizedDescription)") }
            do {
                parsed.append((file, try TemplateParser.parseLeniently(text, file: file)))
            } catch {
                failures.append((file, error.diagnostics))
            }
        }
        let foreign = ForeignLibraries(templates: parsed.map(\.1.template), searchPath: librarySearchPath(pluginDirectories: pluginDirectories))
        let catalog = StepCatalog(
            steps: registry.stepNames, foreignProblems: foreign.problems, adapters: registry.adapterKeys,
            prompts: prompts.map { Set($0.prompts.keys) })
        var plans: [Plan] = []
        for (file, template) in parsed {
            do {
                plans.append(try Plan(validating: template, catalog: catalog))
            } catch {
                failures.append((file, error.diagnostics))
            }
        }
        return (plans, foreign, failures)
    }

    /// Whether the root is a Steward source checkout (it has shipped plugin sources).
    var isSourceCheckout: Bool {
        FileManager.default.fileExists(atPath: root.appendingPathComponent("Plugins").path)
            && FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path)
    }

    /// The plugin directories to search: explicit ones, else `$STEWARD_PLUGIN_PATH`, else `.steward/plugins`.
    func pluginDirectories(explicit: [String]) -> [String] {
        if !explicit.isEmpty { return explicit }
        if let path = ProcessInfo.processInfo.environment["STEWARD_PLUGIN_PATH"], !path.isEmpty {
            return path.split(separator: ":").map(String.init)
        }
        return [builtPluginsDirectory.path]
    }

    /// Loads every plugin library in `directories`, building the shipped ones first when
    /// running in a source checkout and `build` is set.
    func loadPlugins(explicit: [String], build: Bool) throws -> PluginRegistry {
        if build, explicit.isEmpty, isSourceCheckout {
            try PluginBuilder(workspace: self).buildAll(onlyIfStale: true)
        }
        var registry = PluginRegistry()
        for directory in pluginDirectories(explicit: explicit) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
                try registry.register(PluginLoader.load(path: directory))
                continue
            }
            for library in PluginRegistry.libraries(in: directory) {
                try registry.register(PluginLoader.load(path: library))
            }
        }
        return registry
    }

    /// Template files named by `paths`: files as given, directories by their `*.yaml` / `*.yml`
    /// files (not recursing into `customers/` or `examples/`).
    func templateFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CLIError("no such file or directory: \(path)")
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
    func parseTemplate(_ file: String) throws -> Template {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw CLIError("cannot read \(file): \(error.localizedDescription)")
        }
        return try TemplateParser.parse(text, file: file)
    }

    /// Parses and validates every customer overlay in `directory` against `templates`.
    func loadOverlays(directory: String, templates: [String: Template], adapters: Set<String>? = nil) throws
        -> (overlays: [CustomerOverlay], diagnostics: [TemplateDiagnostic])
    {
        guard FileManager.default.fileExists(atPath: directory) else { return ([], []) }
        var overlays: [CustomerOverlay] = []
        var diagnostics: [TemplateDiagnostic] = []
        var seen: [String: String] = [:]
        for file in try templateFiles([directory]) {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw CLIError("cannot read \(file): \(error.localizedDescription)") }
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

    /// Loads the prompt library under `<workflows>/prompts` (empty when there is none).
    func loadPrompts(workflows: String) throws(TemplateErrors) -> PromptLibrary {
        let directory = (workflows as NSString).appendingPathComponent("prompts")
        guard FileManager.default.fileExists(atPath: directory) else { return PromptLibrary() }
        return try PromptLibrary(directory: directory)
    }

    /// Reads a JSON file.
    func readJSON(_ file: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
        do {
            return try JSONValue.parse(Array(data))
        } catch {
            throw CLIError("\(file): \(error)")
        }
    }
}

/// An error the CLI prints as one line and exits non-zero for.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
