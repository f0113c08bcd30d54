import ArgumentParser
import StewardBootstrap
import Foundation
import StewardPlugins
import StewardSLA
import StewardPrompts
import StewardEngine
import StewardTemplates

/// `steward validate PATH...`: checks templates and reports every problem with its location.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check templates: syntax, AOP, states, transitions, guards and plugin steps.")

    @Argument(help: "Template files or directories of templates.")
    var paths: [String]

    @OptionGroup var plugins: PluginOptions

    @Option(name: .customLong("db"), help: "Also check the templates against the texts instances in this store are pinned to (default: .steward/steward.db when it exists).")
    var database: String?

    @Option(name: .customLong("store"), help: "The same check against a store by URL (sqlite:PATH or postgres://…; default: $STEWARD_STORE).")
    var store: String?

    func run() async throws {
        let workspace = Workspace()
        let registry = try workspace.loadPlugins(explicit: plugins.directories, build: !plugins.noBuild)
        let files = try workspace.templateFiles(paths)
        var checked = files.count
        var prompts: PromptLibrary?
        var problems = 0
        for path in paths where FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("prompts")) {
            do throws(TemplateErrors) {
                prompts = try workspace.loadPrompts(workflows: path)
            } catch {
                problems += error.diagnostics.count
                for diagnostic in error.diagnostics { printError(diagnostic.description) }
            }
        }
        // A template changed in place under a version instances are pinned to is a problem too.
        // (An SQLite file that does not exist yet is not created: there is nothing pinned in it.)
        let location = try StoreLocation.resolve(store: store, database: database, root: workspace.root.path)
        var stored: [TemplateSnapshot] = []
        switch location {
        case .sqlite(let path) where !FileManager.default.fileExists(atPath: path): break
        default: stored = try await location.open().templates()
        }
        var library = prompts ?? PromptLibrary()
        var allowList: [String: [String]] = [:]
        for path in paths { allowList.merge(try workspace.loadForeignAllowList(workflows: path)) { $0 + $1 } }
        let loaded = try TemplateSet.load(
            files: files, stored: stored, registry: registry, searchPath: workspace.librarySearchPath(pluginDirectories: plugins.directories),
            allowedSymbols: allowList, prompts: &library)
        var templates = Dictionary(loaded.library.all.map { ($0.name, $0.template) }, uniquingKeysWith: { first, _ in first })
        for (_, plan) in loaded.loaded {
            templates[plan.name] = plan.template
            print("ok    \(plan.template.file)  (\(plan.name) \(plan.version), \(plan.template.states.count) states)")
        }
        // Only the files asked about: stored texts that no longer parse are the store's business.
        let asked = Set(files)
        for diagnostic in loaded.failures where asked.contains(diagnostic.location.file) || !diagnostic.location.file.hasPrefix("stored template") {
            problems += 1
            printError(diagnostic.description)
        }
        // Customer overlays beside the templates are validated against them.
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let directory = (path as NSString).appendingPathComponent("customers")
            let result = try workspace.loadOverlays(directory: directory, templates: templates, adapters: registry.adapterKeys)
            let calendarProblems = ServiceLevelConfiguration.load(result.overlays).1
            let broken = Set((result.diagnostics + calendarProblems).map(\.location.file))
            for overlay in result.overlays where !broken.contains(overlay.file) {
                print("ok    \(overlay.file)  (customer \(overlay.customer))")
            }
            checked += result.overlays.count
            problems += result.diagnostics.count + calendarProblems.count
            for diagnostic in result.diagnostics + calendarProblems { printError(diagnostic.description) }
        }
        if problems > 0 {
            printError("\(problems) problem(s) in \(checked) file(s)")
            throw ValidationFailed(exitCode: 1)
        }
        print("\(checked) file(s) valid")
    }
}
