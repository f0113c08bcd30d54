import ArgumentParser
import Foundation
import StewardPlugins
import StewardSLA
import StewardPrompts
import StewardTemplates

/// `steward validate PATH...`: checks templates and reports every problem with its location.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check templates: syntax, AOP, states, transitions, guards and plugin steps.")

    @Argument(help: "Template files or directories of templates.")
    var paths: [String]

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        let workspace = Workspace()
        let registry = try workspace.loadPlugins(explicit: plugins.directories, build: !plugins.noBuild)
        let files = try workspace.templateFiles(paths)
        var checked = files.count
        var prompts: PromptLibrary?
        var problems = 0
        for path in paths where FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("prompts")) {
            do {
                prompts = try workspace.loadPrompts(workflows: path)
            } catch {
                problems += error.diagnostics.count
                for diagnostic in error.diagnostics { printError(diagnostic.description) }
            }
        }
        let loaded = try workspace.loadPlans(files: files, registry: registry, pluginDirectories: plugins.directories, prompts: prompts)
        var templates: [String: Template] = [:]
        for plan in loaded.plans {
            templates[plan.name] = plan.template
            print("ok    \(plan.template.file)  (\(plan.name) \(plan.version), \(plan.template.states.count) states)")
        }
        for failure in loaded.failures {
            problems += failure.diagnostics.count
            for diagnostic in failure.diagnostics { printError(diagnostic.description) }
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
