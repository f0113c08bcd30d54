import CoreMetrics
import Foundation
import StewardCore
import StewardDispatch
import StewardEngine
import StewardForeign
import StewardJSON
import StewardPlugins
import StewardPrompts
import StewardReview
import StewardSLA
import StewardStoreSQLite
import StewardTemplates

/// What to assemble an engine from. Every field has the default `steward` uses in a
/// workspace, so `EngineOptions()` is the CLI's engine.
public struct EngineOptions: Sendable {
    /// The workspace (templates, plugins, `.steward/`).
    public var workspace: Workspace
    /// The directory of templates, with `customers/` and `prompts/` inside.
    public var workflows: String
    /// The SQLite database (nil: `.steward/steward.db` under the workspace). Ignored when `store` is set.
    public var database: String?
    /// The store's URL (`sqlite:PATH` or `postgres://…`, see `StoreLocation`); nil: `database`,
    /// else `$STEWARD_STORE`, else the embedded default. Ignored when `store` is set.
    public var storeURL: String?
    /// This engine's name among the engines sharing a PostgreSQL store (nil: host, pid and a random suffix).
    public var engineID: String?
    /// How long this engine's leases last without a heartbeat, in ms (nil: the store's default).
    public var leaseDuration: Int64?
    /// A store to use instead of opening the SQLite one (another backend, in tests).
    public var store: (any EngineStore)?
    /// Plugin files or directories (empty: `$STEWARD_PLUGIN_PATH`, else `.steward/plugins`).
    public var pluginDirectories: [String]
    /// Directories searched first for the libraries `ffi` states call (before
    /// `$STEWARD_LIBRARY_PATH`, `.steward/lib` and the plugin directories).
    public var libraryDirectories: [String] = []
    /// Operator ffi allow-list: library (name or path) → the only symbols templates may call
    /// in it. Merged with `<workflows>/ffi_allow.yaml`; a library in neither allows every
    /// symbol it defines itself.
    public var foreignSymbols: [String: [String]] = [:]
    /// Build the shipped plugins first when running in a source checkout.
    public var buildPlugins: Bool
    /// A template file loaded besides the folder (and winning over a same-named one); its
    /// problems make assembly fail, while the folder's other broken files are only reported.
    public var extraTemplate: String?
    /// Where engine metrics go (nil: nowhere).
    public var metrics: EngineMetrics?
    /// The engine's clock.
    public var clock: any EngineClock
    /// Who waits between retries.
    public var sleeper: any Sleeper
    /// Threads for blocking plugin calls (the engine stays responsive while all are busy).
    public var pluginThreads: Int
    /// Wraps the engine's step invoker (the benchmarks time calls through it; nil: as is).
    public var wrapInvoker: (@Sendable (any StepInvoker) -> any StepInvoker)? = nil
    /// The global output size limit of step, model and ffi calls, in bytes (16 MiB, or
    /// `$STEWARD_MAX_OUTPUT_BYTES`): a state's `max_output_bytes` may lower it, never raise it.
    public var maxOutputBytes: Int = EngineOptions.defaultMaxOutputBytes
    /// The poison-pill guard: a call that crashed the engine process this many times is failed
    /// as `crashed` instead of run again (2, or `$STEWARD_MAX_CRASHES`; at least 1).
    public var maxCrashes: Int = EngineOptions.defaultMaxCrashes
    /// Runs every plugin this way, over what plugins.yaml and the templates say (nil: as they
    /// say). The benchmarks set it to compare in-process and process isolation on one workflow.
    public var everyPlugin: IsolationSettings? = nil
    /// The crash ledger file (nil: `<database>.crashes` beside the SQLite database,
    /// `.steward/postgres.crashes` for a PostgreSQL store; with a `store` given and no ledger, the
    /// guard is off).
    public var crashLedger: String?

    /// The CLI's defaults.
    public init(
        workspace: Workspace = Workspace(), workflows: String = "workflows", database: String? = nil, storeURL: String? = nil,
        store: (any EngineStore)? = nil, pluginDirectories: [String] = [], libraryDirectories: [String] = [], buildPlugins: Bool = true, extraTemplate: String? = nil, metrics: EngineMetrics? = nil,
        clock: any EngineClock = SystemEngineClock(), sleeper: any Sleeper = ClockSleeper(), pluginThreads: Int = EngineOptions.defaultPluginThreads
    ) {
        self.workspace = workspace
        self.workflows = workflows
        self.database = database
        self.storeURL = storeURL
        self.store = store
        self.pluginDirectories = pluginDirectories
        self.libraryDirectories = libraryDirectories
        self.buildPlugins = buildPlugins
        self.extraTemplate = extraTemplate
        self.metrics = metrics
        self.clock = clock
        self.sleeper = sleeper
        self.pluginThreads = pluginThreads
    }

    /// `OutputLimit.defaultBytes` (16 MiB), or `$STEWARD_MAX_OUTPUT_BYTES` when it is a positive number.
    public static var defaultMaxOutputBytes: Int {
        ProcessInfo.processInfo.environment["STEWARD_MAX_OUTPUT_BYTES"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? OutputLimit.defaultBytes
    }

    /// 2, or `$STEWARD_MAX_CRASHES` when it is a positive number.
    public static var defaultMaxCrashes: Int {
        ProcessInfo.processInfo.environment["STEWARD_MAX_CRASHES"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 2
    }

    /// 16, or `$STEWARD_PLUGIN_THREADS`: blocking plugin calls in flight at once.
    public static var defaultPluginThreads: Int {
        ProcessInfo.processInfo.environment["STEWARD_PLUGIN_THREADS"].flatMap { Int($0) }.map { max(1, $0) } ?? 16
    }
}

/// Why assembly stopped: the problems of the template it was asked to run, of the customer
/// overlays, or of the calendars, each located.
public struct AssemblyFailed: Error, Sendable, CustomStringConvertible {
    /// Every problem, with file, line and column.
    public let diagnostics: [TemplateDiagnostic]

    /// One problem a line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// An engine assembled from a workspace: the one place where plugins are loaded (and built),
/// templates and overlays validated, ffi functions prepared, prompts read, the SLA clock
/// configured, the store opened, stored template texts loaded, and the `Engine` built. The
/// CLI, `steward serve`, the benchmarks and the end-to-end and server tests all use it, so
/// they all run the same engine.
public struct EngineAssembly: Sendable {
    /// The workspace it was assembled from.
    public let workspace: Workspace
    /// Loaded plugins.
    public let registry: PluginRegistry
    /// Every loaded plan (files, plus the stored texts instances are pinned to).
    public let plans: PlanLibrary
    /// Customer overlays by customer.
    public let overlays: [String: CustomerOverlay]
    /// Prepared foreign functions.
    public let foreign: ForeignLibraries
    /// Prompts (files, plus stored texts of pinned templates).
    public let prompts: PromptLibrary
    /// The store.
    public let store: any EngineStore
    /// The engine.
    public let engine: Engine
    /// The threads blocking plugin calls run on.
    public let pluginPool: BlockingCallPool
    /// The step invoker the engine calls through (the pooled dispatcher, wrapped as the
    /// options asked); evaluation runs call it directly, outside any instance the store knows.
    public let invoker: any StepInvoker
    /// Problems of template files that were not loaded (broken, or changed under an unchanged
    /// version), for the caller to report; assembly went on without them.
    public let problems: [TemplateDiagnostic]

    /// The review desk over the engine.
    public var desk: ReviewDesk { ReviewDesk(engine: engine) }
    /// The durable timers' firing service.
    public var timers: TimerService { TimerService(engine: engine) }
    /// The store's auditor (replays with the pinned texts).
    public var auditor: Auditor { Auditor(engine: engine) }

    /// Assembles the engine `options` describe.
    /// - Throws: `AssemblyFailed` when the extra template, an overlay or a calendar is wrong;
    ///   `BootstrapError` or `PluginBuildError` / `PluginLoadError` when a file cannot be read
    ///   or a plugin does not build or load; the store's error when it does not open.
    /// `call` with every invocation run under the crash ledger's fault guard (on the pool
    /// thread that makes the call), or `call` itself without a ledger.
    static func guarded(
        _ call: @escaping @Sendable (StepInvocation) throws(StepFailure) -> JSONValue, by ledger: CrashLedger?
    ) -> @Sendable (StepInvocation) throws(StepFailure) -> JSONValue {
        guard let ledger else { return call }
        return { invocation throws(StepFailure) in try ledger.guarding(invocation) { () throws(StepFailure) in try call(invocation) } }
    }

    /// `call` timing every plugin step and adapter call by plugin and mode, and the isolated
    /// plugins' host events counted, into `metrics`.
    static func timed(
        _ call: @escaping @Sendable (StepInvocation, CallControl) throws(StepFailure) -> JSONValue, registry: PluginRegistry, metrics: EngineMetrics
    ) -> @Sendable (StepInvocation, CallControl) throws(StepFailure) -> JSONValue {
        var timers: [String: CoreMetrics.Timer] = [:]
        for plugin in registry.plugins {
            let timer = metrics.timer(MetricName.pluginCallDuration, [("plugin", plugin.name), ("mode", plugin.isolated == nil ? "in-process" : "process")])
            for step in plugin.steps { timers[step.fullName] = timer }
            for adapter in plugin.modelAdapters { timers[adapter.key] = timer }
            guard let isolated = plugin.isolated else { continue }
            let name = plugin.name
            isolated.observe { event in
                switch event {
                case .started: metrics.counter(MetricName.pluginHostStarts, [("plugin", name)]).increment()
                case .failed(let cause): metrics.counter(MetricName.pluginHostFailures, [("plugin", name), ("cause", cause)]).increment()
                case .quarantined: metrics.counter(MetricName.pluginQuarantines, [("plugin", name)]).increment()
                }
            }
        }
        let byCallee = timers
        return { invocation, control throws(StepFailure) in
            let timer: CoreMetrics.Timer?
            switch invocation.callee {
            case .step(let name): timer = byCallee[name]
            case .model(let adapter, _): timer = byCallee[adapter]
            case .foreign: timer = nil
            }
            guard let timer else { return try call(invocation, control) }
            let started = MonotonicClock.nanoseconds()
            defer { timer.recordNanoseconds(MonotonicClock.nanoseconds() - started) }
            return try call(invocation, control)
        }
    }

    /// How long `stopPlugins` waits for running plugin calls by default, in seconds.
    public static let pluginShutdownGrace = 5.0

    /// Orderly shutdown of the plugin host: refuses new plugin calls, raises the cancel flag
    /// of the running ones, waits up to `grace` seconds for them to return, then calls every
    /// plugin's `deinit` (ABI 1.2). When a call is still running after `grace` (a plugin hung
    /// past its deadline), no deinit runs: pulling a plugin's state away under a running call
    /// is worse than not releasing it.
    /// - Returns: the plugins whose deinit ran, and whether a call was still running.
    @discardableResult
    public func stopPlugins(grace seconds: Double = EngineAssembly.pluginShutdownGrace) -> (deinitialized: [String], callStillRunning: Bool) {
        pluginPool.shutdown()
        guard pluginPool.drain(waitingUpTo: seconds) else { return ([], true) }
        return (registry.deinitializeAll(), false)
    }

    public static func assemble(_ options: EngineOptions) async throws -> EngineAssembly {
        let workspace = options.workspace
        var files: [String] = []
        if FileManager.default.fileExists(atPath: options.workflows) {
            files = try workspace.templateFiles([options.workflows])
        }
        if let extra = options.extraTemplate {
            let standardized = URL(fileURLWithPath: extra).standardizedFileURL.path
            files.removeAll { URL(fileURLWithPath: $0).standardizedFileURL.path == standardized }
            files.append(extra)
        }
        // Templates may ask for a plugin to run isolated, which must be known before it loads.
        let registry = try workspace.loadPlugins(
            explicit: options.pluginDirectories, build: options.buildPlugins, workflows: options.workflows,
            templateIsolation: workspace.templateIsolation(files: files), everyPlugin: options.everyPlugin)
        var prompts = try workspace.loadPrompts(workflows: options.workflows)
        let store: any EngineStore
        var ledgerPath = options.crashLedger
        if let given = options.store {
            store = given
        } else {
            let location = try StoreLocation.resolve(store: options.storeURL, database: options.database, root: workspace.root.path)
            store = try await location.open(engineID: options.engineID, leaseDuration: options.leaseDuration)
            switch location {
            case .sqlite(let database):
                if database != ":memory:" { ledgerPath = ledgerPath ?? database + ".crashes" }
            case .postgres:
                // The ledger is this machine's: a plugin that keeps crashing this engine.
                let folder = (workspace.root.path as NSString).appendingPathComponent(".steward")
                try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                ledgerPath = ledgerPath ?? (folder as NSString).appendingPathComponent("postgres.crashes")
            }
        }
        var crashLedger: CrashLedger?
        if let ledgerPath { crashLedger = try CrashLedger(path: ledgerPath, maxCrashes: options.maxCrashes) }
        let stored = try await store.templates()
        let allowList = try workspace.loadForeignAllowList(workflows: options.workflows).merging(options.foreignSymbols) { $0 + $1 }
        var set = try TemplateSet.load(
            files: files, stored: stored, registry: registry, searchPath: options.libraryDirectories + workspace.librarySearchPath(pluginDirectories: options.pluginDirectories),
            allowedSymbols: allowList, prompts: &prompts)
        // A broken template elsewhere in the folder must not stop work on the others, unless
        // it is the one this engine was asked to run.
        var fatal = set.failures.filter { $0.location.file == options.extraTemplate }
        let overlays = try workspace.loadOverlays(
            directory: (options.workflows as NSString).appendingPathComponent("customers"),
            templates: Dictionary(set.library.all.map { ($0.name, $0.template) }, uniquingKeysWith: { first, _ in first }),
            adapters: registry.adapterKeys)
        fatal += overlays.diagnostics
        let (serviceLevels, calendarProblems) = ServiceLevelConfiguration.load(overlays.overlays)
        fatal += calendarProblems
        if !fatal.isEmpty { throw AssemblyFailed(diagnostics: fatal) }
        for overlay in overlays.overlays {
            for (template, change) in overlay.templates {
                set.library.setOverlay(change.config, template: template, customer: overlay.customer)
                if !change.bindings.isEmpty { set.library.setBindings(change.bindings, template: template, customer: overlay.customer) }
                if !change.sampling.isEmpty { set.library.setSampling(change.sampling, template: template, customer: overlay.customer) }
            }
        }
        set.library.knownCustomers = Set(overlays.overlays.map(\.customer))
        let pool = BlockingCallPool(size: options.pluginThreads)
        let dispatcher = Dispatcher(registry: registry, foreign: set.foreign, prompts: prompts, maxOutputBytes: options.maxOutputBytes)
        // Plain C libraries by function key, one identity per file (hashed once, on first use).
        var identities: [String: BinaryIdentity] = [:]
        var foreignBinaries: [String: BinaryIdentity] = [:]
        for (key, function) in set.foreign.functions {
            let identity = identities[function.path] ?? BinaryIdentity(path: function.path)
            identities[function.path] = identity
            foreignBinaries[key] = identity
        }
        let guardedCall = Self.guarded(dispatcher.call, by: crashLedger)
        // The pool's deadline and cancel flag reach the plugin's call struct (ABI 1.2) through
        // the plugin host's per-thread call context.
        let contextCall: @Sendable (StepInvocation, CallControl) throws(StepFailure) -> JSONValue = { invocation, control throws(StepFailure) in
            try PluginCallContext.with(deadlineNanoseconds: control.deadlineNanoseconds, cancelFlag: control.cancelFlag) { () throws(StepFailure) in
                try guardedCall(invocation)
            }
        }
        let controlledCall = options.metrics.map { Self.timed(contextCall, registry: registry, metrics: $0) } ?? contextCall
        // Steps and adapters that only compute (STW_STEP_NONBLOCKING, thread-safe, in process)
        // run on the asking thread; everything else, ffi calls included, on the pool.
        let inlineSteps = Set(registry.plugins.flatMap { $0.steps.filter(\.runsInline).map(\.fullName) })
        let inlineAdapters = Set(registry.plugins.flatMap { $0.modelAdapters.filter(\.runsInline).map(\.key) })
        let pooled = PooledStepInvoker(
            pool: pool, call: controlledCall,
            binaries: { [registry, foreignBinaries] callee in
                switch callee {
                case .step(let name): return registry.step(name)?.binary.sha256
                case .model(let adapter, _): return registry.adapter(key: adapter)?.binary.sha256
                case .foreign(let key): return foreignBinaries[key]?.sha256
                }
            },
            runsInline: { callee in
                switch callee {
                case .step(let name): return inlineSteps.contains(name)
                case .model(let adapter, _): return inlineAdapters.contains(adapter)
                case .foreign: return false
                }
            })
        let invoker: any StepInvoker = options.wrapInvoker.map { $0(pooled) } ?? pooled
        // The binding migrations in force; `StewardMigration` reloads them when a stage moves.
        let routes = BindingRoutes()
        try await routes.reload(from: store)
        let engine = Engine(
            store: store, plans: set.library, invoker: invoker, clock: options.clock,
            sleeper: options.sleeper, scheduler: SLAScheduler(configuration: serviceLevels), metrics: options.metrics,
            crashLedger: crashLedger, routes: routes)
        return EngineAssembly(
            workspace: workspace, registry: registry, plans: set.library,
            overlays: Dictionary(overlays.overlays.map { ($0.customer, $0) }, uniquingKeysWith: { first, _ in first }),
            foreign: set.foreign, prompts: prompts, store: store, engine: engine, pluginPool: pool, invoker: invoker,
            problems: set.failures.filter { $0.location.file != options.extraTemplate })
    }
}

/// Templates loaded for an engine: the files, validated against the loaded plugins, prompts
/// and ffi libraries, each pinned by the hash of its text (with the prompt texts it uses),
/// together with the stored texts instances are already pinned to.
///
/// The rule that keeps replay honest: a file whose text differs from the stored text of the
/// same name and version is refused (the stored text stays in force), with an error naming
/// the template, the version and both hashes.
public struct TemplateSet: Sendable {
    /// The plans, newest version of each name last.
    public var library: PlanLibrary
    /// Prepared foreign functions of every loaded template.
    public var foreign: ForeignLibraries
    /// The files that loaded, with their plans.
    public var loaded: [(file: String, plan: Plan)]
    /// Located problems of the files that did not load.
    public var failures: [TemplateDiagnostic]

    /// Reads, parses, pins and validates `files`, and loads the `stored` snapshots that no
    /// file provides (older versions instances are pinned to, or texts a file changed).
    /// Prompts of stored snapshots that the prompt folder lacks are added to `prompts`.
    /// - Throws: `BootstrapError` when a file cannot be read.
    public static func load(
        files: [String], stored: [TemplateSnapshot], registry: PluginRegistry, searchPath: [String], allowedSymbols: [String: [String]] = [:],
        prompts: inout PromptLibrary
    ) throws -> TemplateSet {
        var failures: [TemplateDiagnostic] = []
        var storedByVersion: [String: [TemplateSnapshot]] = [:]
        for snapshot in stored { storedByVersion["\(snapshot.name)@\(snapshot.version)", default: []].append(snapshot) }

        // Parse the files; pin each to its text and the prompt texts it uses.
        var parsed: [(file: String, parsed: ParsedTemplate, snapshot: TemplateSnapshot)] = []
        // Versions whose file was refused: their stored text takes the file's place.
        var refused: Set<String> = []
        for file in files {
            let text = try Workspace().readText(file)
            let template: ParsedTemplate
            do { template = try TemplateParser.parseLeniently(text, file: file) } catch {
                failures += error.diagnostics
                continue
            }
            let snapshot = TemplateSnapshot(
                name: template.template.name, version: template.template.version, text: text,
                prompts: promptTexts(of: template.template, in: prompts))
            if let pinned = storedByVersion["\(snapshot.name)@\(snapshot.version)"], !pinned.contains(where: { $0.hash == snapshot.hash }) {
                failures.append(TemplateDiagnostic(
                    SourceLocation(file: file, line: 1, column: 1),
                    "template '\(snapshot.name)' version \(snapshot.version) changed without a new version: instances are pinned to the stored text "
                        + "(sha256 \(pinned.map { String($0.hash.prefix(16)) }.joined(separator: ", "))), this file's text is sha256 \(snapshot.hash.prefix(16)); "
                        + "the stored text stays in force. Give the changed template a new 'version' (e.g. bump it) to load it"))
                refused.insert("\(snapshot.name)@\(snapshot.version)")
                continue
            }
            parsed.append((file, template, snapshot))
        }
        // Stored texts no file provides: parse them too (their prompts come from the store).
        let fromFiles = Set(parsed.map(\.snapshot.hash))
        var storedParsed: [(parsed: ParsedTemplate, snapshot: TemplateSnapshot)] = []
        for snapshot in stored where !fromFiles.contains(snapshot.hash) {
            let origin = "stored template \(snapshot.name)@\(snapshot.version) (\(snapshot.hash.prefix(12)))"
            for (id, text) in snapshot.prompts where prompts.prompts[id]?.text != text {
                if prompts.prompts[id] != nil {
                    failures.append(TemplateDiagnostic(
                        SourceLocation(file: prompts.prompts[id]?.file ?? id, line: 1, column: 1),
                        "prompt '\(id)' changed without a new version; \(origin) is pinned to its stored text, which stays in force for it. "
                            + "Give the changed prompt a new version"))
                }
                try? prompts.add(id: id, text: text, file: origin)
            }
            do {
                storedParsed.append((try TemplateParser.parseLeniently(snapshot.text, file: origin), snapshot))
            } catch {
                failures += error.diagnostics
            }
        }
        let foreign = ForeignLibraries(templates: (parsed.map(\.parsed) + storedParsed.map(\.parsed)).map(\.template), searchPath: searchPath, allowedSymbols: allowedSymbols)
        let catalog = StepCatalog(
            steps: registry.stepNames, foreignProblems: foreign.problems, adapters: registry.adapterKeys, prompts: Set(prompts.prompts.keys))
        var library = PlanLibrary()
        for (parsed, snapshot) in storedParsed {
            do {
                library.add(
                    try Plan(validating: parsed, catalog: catalog), snapshot: snapshot, newest: refused.contains("\(snapshot.name)@\(snapshot.version)"))
            } catch {
                failures += error.diagnostics
            }
        }
        var loaded: [(file: String, plan: Plan)] = []
        for (file, template, snapshot) in parsed {
            do {
                let plan = try Plan(validating: template, catalog: catalog)
                library.add(plan, snapshot: snapshot)
                loaded.append((file, plan))
            } catch {
                failures += error.diagnostics
            }
        }
        return TemplateSet(library: library, foreign: foreign, loaded: loaded, failures: failures)
    }

    /// The texts of the prompts `template`'s model states use, by id (missing ones are left
    /// out; validation reports them).
    static func promptTexts(of template: Template, in prompts: PromptLibrary) -> [String: String] {
        var texts: [String: String] = [:]
        for state in template.allStates {
            if case .model(let model) = state.kind, let id = model.prompt, let prompt = prompts.prompts[id] { texts[id] = prompt.text }
        }
        return texts
    }
}
