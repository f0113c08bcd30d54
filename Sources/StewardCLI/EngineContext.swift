import ArgumentParser
import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardPlugins
import StewardReview
import StewardStoreSQLite
import StewardTemplates

/// Options naming the store and the templates a command works with.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .customLong("store"),
        help: "The store: sqlite:PATH or postgres://user@host:port/database (default: $STEWARD_STORE, else sqlite:.steward/steward.db).")
    var store: String?

    @Option(name: .customLong("db"), help: "The SQLite database file (the same as --store sqlite:PATH).")
    var database: String?

    @Option(name: .customLong("workflows"), help: "The directory of templates to load (default: workflows).")
    var workflows: String = "workflows"

    /// Where the store is (`--store`, `--db`, `$STEWARD_STORE`, or the embedded default under the workspace).
    func location(_ workspace: Workspace = Workspace()) throws(StoreOpenError) -> StoreLocation {
        try StoreLocation.resolve(store: store, database: database, root: workspace.root.path)
    }

    /// Opens the store these options name, for commands that need no engine.
    /// - Throws: `StoreOpenError` (one line) when it cannot be opened.
    func openStore(_ workspace: Workspace = Workspace()) async throws(StoreOpenError) -> any EngineStore {
        try await location(workspace).open()
    }
}

/// The engine a CLI command runs: `EngineAssembly` with the command's options. Problems of
/// template files that were left out are printed as warnings; problems that stop assembly are
/// printed and exit 1.
struct EngineContext {
    let assembly: EngineAssembly

    init(
        store options: StoreOptions, plugins: PluginOptions, extraTemplate: String? = nil, metrics: EngineMetrics? = nil, engineID: String? = nil,
        leaseDuration: Int64? = nil
    ) async throws {
        do {
            var engineOptions = EngineOptions(
                workflows: options.workflows, database: options.database, storeURL: options.store, pluginDirectories: plugins.directories,
                buildPlugins: !plugins.noBuild, extraTemplate: extraTemplate, metrics: metrics)
            engineOptions.engineID = engineID
            engineOptions.leaseDuration = leaseDuration
            assembly = try await EngineAssembly.assemble(engineOptions)
        } catch let failed as AssemblyFailed {
            for diagnostic in failed.diagnostics { printError(diagnostic.description) }
            throw ValidationFailed(exitCode: 1)
        }
        for problem in assembly.problems { printError("warning: not loaded: " + problem.description) }
    }

    var workspace: Workspace { assembly.workspace }
    var registry: PluginRegistry { assembly.registry }
    var plans: PlanLibrary { assembly.plans }
    var overlays: [String: CustomerOverlay] { assembly.overlays }
    var store: any EngineStore { assembly.store }
    var engine: Engine { assembly.engine }
    var desk: ReviewDesk { assembly.desk }
    var timers: TimerService { assembly.timers }
    var auditor: Auditor { assembly.auditor }
}

/// Prints transitions as they happen.
@Sendable func printTransition(_ record: TransitionRecord) {
    for move in record.moves {
        // A branch of a fan-out is named by its parent's short id and its place (`1d51cf39.check.1.0`).
        let name = record.state.parent.map { "\($0.instance.prefix(8)).\($0.state).\($0.visit).\($0.index)" } ?? String(record.state.id.prefix(8))
        print("transition \(name) \(move.from ?? "(start)") -> \(move.to): \(move.reason)")
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
            "checkpoint": .string(state.current), "credential": .string(checkpoint.credential(in: state.data)),
            "subject": state.data.value(at: checkpoint.subject.split(separator: ".")) ?? .null,
        ]
    }
    return .object(report)
}

/// An error the CLI prints as one line and exits non-zero for.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
