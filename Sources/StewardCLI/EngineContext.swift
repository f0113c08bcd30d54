import ArgumentParser
import Foundation
import StewardJSON
import StewardDispatch
import StewardForeign
import StewardPlugins
import StewardPrompts
import StewardReview
import StewardRuntime
import StewardSLA
import StewardStore
import StewardTemplates

/// Options naming the store and the templates a command works with.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: "The SQLite database (default: .steward/steward.db).")
    var database: String?

    @Option(name: .customLong("workflows"), help: "The directory of templates to load (default: workflows).")
    var workflows: String = "workflows"

    /// Opens the store `--db` names, or the embedded default under the working directory.
    func openStore(_ workspace: Workspace = Workspace()) throws -> SQLiteStore {
        try SQLiteStore(path: database ?? SQLiteStore.defaultPath(root: workspace.root.path))
    }
}

/// The engine assembled for a CLI command: plugins, plans, store.
struct EngineContext {
    let workspace: Workspace
    let registry: PluginRegistry
    let plans: PlanLibrary
    let overlays: [String: CustomerOverlay]
    let foreign: ForeignLibraries
    let store: SQLiteStore
    let engine: Engine

    /// Loads plugins and every template in the workflows directory, and opens the store.
    /// With `extraTemplate`, that file is loaded too (and wins over a same-named one).
    init(store options: StoreOptions, plugins: PluginOptions, extraTemplate: String? = nil, metrics: EngineMetrics? = nil) throws {
        workspace = Workspace()
        registry = try workspace.loadPlugins(explicit: plugins.directories, build: !plugins.noBuild)
        var files: [String] = []
        if FileManager.default.fileExists(atPath: options.workflows) {
            files = try workspace.templateFiles([options.workflows])
        }
        if let extraTemplate {
            let standardized = URL(fileURLWithPath: extraTemplate).standardizedFileURL.path
            files.removeAll { URL(fileURLWithPath: $0).standardizedFileURL.path == standardized }
            files.append(extraTemplate)
        }
        let prompts = try workspace.loadPrompts(workflows: options.workflows)
        let loaded = try workspace.loadPlans(files: files, registry: registry, pluginDirectories: plugins.directories, prompts: prompts)
        var library = PlanLibrary(loaded.plans)
        foreign = loaded.foreign
        // A broken template elsewhere in the folder must not stop work on the others,
        // unless it is the one this command was asked to run.
        var diagnostics = loaded.failures.filter { $0.file == extraTemplate }.flatMap(\.diagnostics)
        let overlays = try workspace.loadOverlays(
            directory: (options.workflows as NSString).appendingPathComponent("customers"),
            templates: Dictionary(library.all.map { ($0.name, $0.template) }, uniquingKeysWith: { first, _ in first }),
            adapters: registry.adapterKeys)
        diagnostics += overlays.diagnostics
        let (serviceLevels, calendarProblems) = ServiceLevelConfiguration.load(overlays.overlays)
        diagnostics += calendarProblems
        if !diagnostics.isEmpty {
            for diagnostic in diagnostics { printError(diagnostic.description) }
            throw ValidationFailed(exitCode: 1)
        }
        for overlay in overlays.overlays {
            for (template, change) in overlay.templates {
                library.setOverlay(change.config, template: template, customer: overlay.customer)
                if !change.bindings.isEmpty { library.setBindings(change.bindings, template: template, customer: overlay.customer) }
            }
        }
        library.knownCustomers = Set(overlays.overlays.map(\.customer))
        self.overlays = Dictionary(overlays.overlays.map { ($0.customer, $0) }, uniquingKeysWith: { first, _ in first })
        plans = library
        store = try options.openStore(workspace)
        engine = Engine(
            store: store, plans: plans, invoker: Dispatcher(registry: registry, foreign: foreign, prompts: prompts),
            scheduler: SLAScheduler(configuration: serviceLevels), metrics: metrics)
    }

    var desk: ReviewDesk { ReviewDesk(store: store, engine: engine) }
    var timers: TimerService { TimerService(store: store, plans: plans) }
}

/// Prints transitions as they happen.
@Sendable func printTransition(_ record: TransitionRecord) {
    for move in record.moves {
        print("transition \(record.state.id.prefix(8)) \(move.from ?? "(start)") -> \(move.to): \(move.reason)")
    }
}

/// The JSON summary of an instance that `run`, `instances show` and `review` print.
func report(_ state: InstanceState, plan: Plan?) -> JSONValue {
    var report: [String: JSONValue] = [
        "instance": .string(state.id), "template": .string(state.template), "version": .string(state.templateVersion),
        "status": .string(state.status.rawValue), "state": .string(state.current),
    ]
    if let customer = state.customer { report["customer"] = .string(customer) }
    if let output = state.output { report["output"] = output }
    if let failure = state.failure { report["error"] = failure.jsonValue }
    if state.status == .waiting, case .checkpoint(let checkpoint) = plan?.state(state.current)?.kind {
        report["waiting_for"] = [
            "checkpoint": .string(state.current), "credential": .string(checkpoint.credential),
            "subject": state.data.value(at: checkpoint.subject.split(separator: ".")) ?? .null,
        ]
    }
    return .object(report)
}
