import ArgumentParser
import StewardBootstrap
import Foundation
import StewardJSON
import StewardPlugins

/// `steward plugins ...`: inspect, list and build plugins.
struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "Inspect, validate, list and build plugins.",
        subcommands: [Inspect.self, ValidatePlugin.self, List.self, Unquarantine.self, Build.self])

    struct Unquarantine: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lift the quarantine of an isolated plugin whose host kept crashing.",
            discussion: """
                A plugin that runs with 'isolation: process' is quarantined after repeated host failures \
                (quarantine_after in workflows/plugins.yaml): its calls fail at once until this command \
                clears it. A running engine resumes its calls within a second. Instances that failed \
                meanwhile are retried with 'steward instances retry ID'.
                """)

        @Argument(help: "The plugin's name (as 'steward plugins list' shows it).")
        var name: String

        func run() throws {
            let directory = Workspace().pluginStateDirectory.path
            guard IsolatedPlugin.clearQuarantine(directory: directory, plugin: name) else {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                let quarantined = names.filter { $0.hasSuffix(".quarantined") }.map { String($0.dropLast(".quarantined".count)) }.sorted()
                throw ValidationError(
                    "plugin '\(name)' is not quarantined" + (quarantined.isEmpty ? " (no plugin is)" : " (quarantined: \(quarantined.joined(separator: ", ")))"))
            }
            print("plugin \(name) is no longer quarantined; a running engine calls it again within a second")
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load a plugin library and describe it (name, version, ABI, steps with flags).")

        @Argument(help: "Path to the plugin's shared library.")
        var library: String

        @Flag(name: .customLong("json"), help: "Print JSON instead of text.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }

        func run() throws {
            let plugin = try PluginLoader.load(path: library)
            if json {
                print(describe(plugin).prettyJSONString)
                return
            }
            print("plugin   \(plugin.name) \(plugin.version)")
            print("file     \(plugin.path)")
            print("abi      \(plugin.abiMajor).\(plugin.abiMinor) (host speaks \(PluginLoader.hostABI.major).\(PluginLoader.hostABI.minor))")
            print("sha256   \(plugin.binary.sha256)")
            if let description = plugin.description { print("about    \(description)") }
            print("steps    \(plugin.steps.count)")
            for step in plugin.steps {
                var flags: [String] = []
                flags.append(step.isThreadSafe ? "thread-safe" : "serialised")
                if step.isPure { flags.append("pure") }
                print("  \(step.fullName) \(step.version)  [\(flags.joined(separator: ", "))]  \(step.description ?? "")")
            }
            print("adapters \(plugin.adapters.count)")
            for adapter in plugin.adapters {
                print("  \(adapter.id) \(adapter.version)  [\(adapter.threadSafe ? "thread-safe" : "serialised")]  \(adapter.description ?? "")")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the plugins and steps the engine would load.")
        @OptionGroup var plugins: PluginOptions
        @Flag(name: .customLong("json"), help: "Print JSON: {\"plugins\": [...]}, each as `plugins inspect --json` describes it.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }

        func run() throws {
            let workspace = Workspace()
            let registry = try workspace.loadPlugins(explicit: plugins.directories, build: !plugins.noBuild)
            defer { for plugin in registry.plugins { plugin.isolated?.stop() } }
            let directory = workspace.pluginStateDirectory.path
            if json {
                let described = registry.plugins.map { plugin -> JSONValue in
                    var entry = describe(plugin).objectValue ?? [:]
                    entry["isolation"] = isolation(of: plugin, directory: directory)
                    return .object(entry)
                }
                print(JSONValue.object(["plugins": .array(described)]).prettyJSONString)
                return
            }
            for plugin in registry.plugins {
                let state = isolation(of: plugin, directory: directory)
                var mode = state["mode"]?.stringValue ?? "in-process"
                if let reason = state["quarantine"]?.stringValue { mode += ", QUARANTINED (\(reason))" }
                for host in state["hosts"]?.arrayValue ?? [] {
                    let pids = (host["pids"]?.arrayValue ?? []).compactMap(\.integerValue).map(String.init).joined(separator: " ")
                    mode += "; engine \(host["engine_pid"]?.integerValue ?? 0): host pids \(pids.isEmpty ? "none" : pids), "
                        + "\(host["restarts"]?.integerValue ?? 0) restarts, \(host["crashes"]?.integerValue ?? 0) crashes"
                }
                print("\(plugin.name) \(plugin.version)  abi \(plugin.abiMajor).\(plugin.abiMinor)  [\(mode)]  \(plugin.path)")
                for step in plugin.steps { print("  \(step.fullName) \(step.version)") }
                for adapter in plugin.adapters { print("  adapter \(adapter.id)@\(adapter.version)") }
            }
        }
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build the plugins shipped in Plugins/ (or the plugin folders named) into .steward/plugins/.",
            discussion: """
                Each plugin folder declares its plugin in steward-plugin.yaml: C plugins are built with the \
                system C compiler, Swift plugins as SwiftPM products, Rust plugins with cargo (offline). \
                Example: steward plugins build Plugins/examples/rust-hello
                """)

        @Argument(help: "Plugin folders to build instead of those in Plugins/ (each with a steward-plugin.yaml).")
        var folders: [String] = []

        @Flag(name: .long, help: "Rebuild even when up to date.")
        var force = false

        @Option(name: .customLong("into"), help: "Put plugin libraries here (default: .steward/plugins).")
        var pluginsDirectory: String?

        @Option(name: .customLong("libraries-into"), help: "Put plain C libraries for ffi states here (default: .steward/lib).")
        var librariesDirectory: String?

        @Flag(name: .customLong("list-products"), help: "Only print the SwiftPM products of the Swift plugins, one a line, and build nothing.")
        var listProducts = false

        func run() throws {
            let workspace = Workspace()
            if listProducts {
                for (_, manifest) in try workspace.pluginBuilder.manifests() where manifest.language == "swift" {
                    if let product = manifest.product { print(product) }
                }
                return
            }
            let builder = PluginBuilder(
                root: workspace.root,
                pluginsDirectory: pluginsDirectory.map { URL(fileURLWithPath: $0) } ?? workspace.builtPluginsDirectory,
                librariesDirectory: librariesDirectory.map { URL(fileURLWithPath: $0) } ?? workspace.builtLibrariesDirectory)
            let built =
                folders.isEmpty
                ? try builder.buildAll(onlyIfStale: !force)
                : try builder.build(folders: folders.map { URL(fileURLWithPath: $0) }, onlyIfStale: !force)
            for path in built { print(path) }
        }
    }
}

/// How a plugin runs: `mode`, its `quarantine` (reason or null) and, for an isolated plugin,
/// the `hosts` each running engine reports (`engine_pid`, `pids`, `restarts`, `crashes`).
func isolation(of plugin: LoadedPlugin, directory: String) -> JSONValue {
    guard plugin.isolated != nil else { return ["mode": "in-process", "quarantine": .null, "hosts": []] }
    return [
        "mode": "process",
        "quarantine": IsolatedPlugin.readQuarantine(directory: directory, plugin: plugin.name).map(JSONValue.string) ?? .null,
        "hosts": .array(IsolatedPlugin.runningHosts(directory: directory, plugin: plugin.name)),
    ]
}

func describe(_ plugin: LoadedPlugin) -> JSONValue {
    [
        "name": .string(plugin.name), "version": .string(plugin.version), "path": .string(plugin.path),
        "abi": .string("\(plugin.abiMajor).\(plugin.abiMinor)"), "sha256": .string(plugin.binary.sha256),
        "steps": .array(plugin.steps.map { step in
            [
                "name": .string(step.fullName), "version": .string(step.version),
                "thread_safe": .bool(step.isThreadSafe), "pure": .bool(step.isPure),
                "description": step.description.map { .string($0) } ?? .null,
            ]
        }),
        "adapters": .array(plugin.adapters.map { adapter in
            ["id": .string(adapter.id), "version": .string(adapter.version), "thread_safe": .bool(adapter.threadSafe)]
        }),
    ]
}
