import ArgumentParser
import StewardBootstrap
import Foundation
import Logging
import StewardCore
import StewardEngine
import StewardEval
import StewardJSON
import StewardMigration
import StewardServer
import StewardTemplates

/// `steward serve`: the HTTP API, the reviewer web page and `/metrics` on the embedded store.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API and the reviewer web page (Ctrl-C or SIGTERM stops it gracefully).",
        discussion: """
            Resumes running instances first, then listens. Submitted and decided instances run in the background; \
            a request returns once its change is durable. See Docs/http-api.md.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 8080
    @Option(help: "Instances driven at once in the background.") var concurrency = 16
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw CLIError("unknown log level '\(logLevel)'") }
        var logger = Logger(label: "steward.serve")
        logger.logLevel = level
        let metrics = ServerMetrics()
        // The same engine as the other commands (plugins, ffi, models, SLA), reporting to this server's metrics.
        let context = try await EngineContext(store: storeOptions, plugins: plugins, metrics: metrics.engine)
        let timers = context.timers
        let engine = context.engine
        // Scheduled evals run on their own task (one tick at a time) so a long eval never
        // holds up the SLA timers that share this periodic tick.
        let evals = EvalSession(assembly: context.assembly)
        let evalLogger = logger
        let ticker = EvalTicker(scheduler: EvalScheduler(session: evals), clock: { SystemEngineClock().nowMilliseconds() }) { result in
            switch result {
            case .success(let tick):
                for run in tick.runs {
                    evalLogger.notice("scheduled eval stored", metadata: ["run": "\(run.run)", "template": "\(run.template)", "passed": "\(run.passed)"])
                }
                for problem in tick.problems { evalLogger.warning("scheduled eval not run", metadata: ["problem": "\(problem)"]) }
            case .failure(let error):
                evalLogger.error("scheduled evals failed; retrying at the next tick", metadata: ["error": "\(error)"])
            }
        }
        var environment = ServerEnvironment(
            engine: context.engine, plugins: context.registry.plugins.map(\.name),
            templates: context.plans.all.map { "\($0.name)@\($0.version)" }.sorted(), metrics: metrics,
            periodic: {
                _ = try await timers.fireDue(now: SystemEngineClock().nowMilliseconds())
                await ticker.poke()
                // Migration changes made by other processes (steward migrate) take effect here.
                try await engine.routes?.reload(from: engine.store)
            })
        environment.evals = Self.evalHooks(evals)
        environment.migrations = Self.migrationHooks(MigrationController(assembly: context.assembly))
        let server = try StewardServer(
            environment: environment, configuration: ServerConfiguration(host: host, port: port, driverConcurrency: concurrency),
            logger: logger)
        let host = self.host
        try await server.run { port in
            // Unbuffered, so a script or test waiting for this line sees it at once.
            FileHandle.standardOutput.write(Data(
                "steward: serving the API on http://\(host):\(port)/v1 and the reviewer page on http://\(host):\(port)/review\n".utf8))
        }
        print("steward: stopped")
    }

    /// The eval routes' hooks over `session`: an API-triggered run reads a dataset inside the
    /// workspace only (the rubric's when none is named).
    static func evalHooks(_ session: EvalSession) -> EvalHooks {
        EvalHooks(
            trigger: { trigger in
                let root = session.assembly.workspace.root.standardizedFileURL.path
                var named = trigger.dataset
                if named == nil { named = session.assembly.plans.plan(template: trigger.template, version: nil)?.template.eval?.dataset }
                guard let named else { throw EvalHookError("no dataset given and template '\(trigger.template)' names none in eval.dataset") }
                let path = URL(fileURLWithPath: named, relativeTo: URL(fileURLWithPath: root + "/")).standardizedFileURL.path
                guard path.hasPrefix(root + "/") else { throw EvalHookError("dataset '\(named)' is outside the workspace") }
                var baseline = BaselineChoice.none
                if let text = trigger.baseline {
                    guard let parsed = BaselineChoice(text) else { throw EvalHookError("baseline must be a run id or 'latest'") }
                    baseline = parsed
                }
                do {
                    let request = EvalRequest(
                        template: trigger.template, datasetPath: path, customer: trigger.customer, bindings: trigger.bindings, baseline: baseline,
                        trigger: "api")
                    guard let report = try await session.run(request) else { throw EvalHookError("the run was not stored") }
                    return StewardServer.withID(report.summaryJSON, report.run)
                } catch let error as EvalInputError {
                    throw EvalHookError(error.description)
                }
            },
            status: { try await EvalStatusReport.build(session: session, now: SystemEngineClock().nowMilliseconds()) },
            report: { id in
                guard let run = try await session.load(id) else { return nil }
                let history = try await session.assembly.store.evalRuns(template: run.template, customer: run.customer ?? "", limit: 50)
                let rubric = session.assembly.plans.plan(template: run.template, version: run.version)?.template.eval
                return HTMLReport.render(run, history: history, rubric: rubric)
            })
    }

    /// The migration routes' hooks over `controller`; a plan file must lie inside the workspace.
    static func migrationHooks(_ controller: MigrationController) -> MigrationHooks {
        @Sendable func refusing(_ body: () async throws -> JSONValue) async throws -> JSONValue {
            do {
                return try await body()
            } catch let error as MigrationError {
                let text = error.description
                let status = text.hasPrefix("no migration") ? 404 : (text.contains("lacks the credential") || text == "unknown token" ? 403 : 422)
                throw MigrationHookRefusal(status: status, text)
            } catch let error as TemplateErrors {
                throw MigrationHookRefusal(status: 422, error.diagnostics.map(\.description).joined(separator: "\n"))
            }
        }
        @Sendable func steps(_ steps: [MigrationController.Step]) -> JSONValue {
            ["steps": .array(steps.map { ["customer": .string($0.customer), "stage": .string($0.stage), "verdict": .string($0.verdict.rawValue), "state": .string($0.state), "evidence": $0.evidence] })]
        }
        return MigrationHooks(
            status: { name in try await refusing { try await controller.status(name) } },
            start: { file, actor in
                try await refusing {
                    let root = controller.assembly.workspace.root.standardizedFileURL.path
                    let path = URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: root + "/")).standardizedFileURL.path
                    guard path.hasPrefix(root + "/") else { throw MigrationError("plan '\(file)' is outside the workspace") }
                    let plan = try MigrationController.load(path)
                    try await controller.start(plan, actor: actor)
                    return try await controller.status(plan.name)
                }
            },
            advance: { name, customer, actor in try await refusing { steps(try await controller.advance(name, customer: customer, actor: actor)) } },
            approve: { name, customer, reviewer in
                try await refusing {
                    try await controller.approve(name, customer: customer, by: reviewer)
                    return try await controller.status(name)
                }
            },
            rollback: { name, customer, actor in
                try await refusing {
                    try await controller.rollback(name, customer: customer, actor: actor)
                    return try await controller.status(name)
                }
            },
            pause: { name, paused, actor in
                try await refusing {
                    try await controller.setPaused(name, paused, actor: actor)
                    return try await controller.status(name)
                }
            })
    }
}
