import ArgumentParser
import StewardBootstrap
import Foundation
import Logging
import StewardCore
import StewardEngine
import StewardEval
import StewardMigration
import StewardNotify
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
    @Option(help: "Minutes a reviewer's claim on a task holds (others cannot decide it meanwhile).") var claimMinutes = 15
    @Option(help: "This engine's name among the engines sharing a PostgreSQL store (default: host name, process id and a random suffix).")
    var engineID: String?
    @Option(help: "Seconds an engine's leases on running instances last without a heartbeat (PostgreSQL; another engine takes the instances over after that).")
    var leaseSeconds: Double = 15
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        guard leaseSeconds >= 0.3 else { throw CLIError("--lease-seconds must be at least 0.3") }
        guard let level = Logger.Level(rawValue: logLevel) else { throw CLIError("unknown log level '\(logLevel)'") }
        var logger = Logger(label: "steward.serve")
        logger.logLevel = level
        let metrics = ServerMetrics()
        // The same engine as the other commands (plugins, ffi, models, SLA), reporting to this server's metrics.
        let context = try await EngineContext(
            store: storeOptions, plugins: plugins, metrics: metrics.engine, engineID: engineID, leaseDuration: Int64(leaseSeconds * 1000))
        let timers = context.timers
        let engine = context.engine
        // Scheduled evals run on their own task (one tick at a time) so a long eval never
        // holds up the SLA timers that share this periodic tick.
        let evals = EvalSession(assembly: context.assembly)
        let migrations = MigrationController(assembly: context.assembly)
        // Webhook channels of workflows/notifications.yaml, delivered from the outbox on their own task.
        let channels: NotificationChannels
        do {
            channels = try WebhookDeliverer.channels(inWorkflows: context.assembly.workspace.root.appendingPathComponent("workflows").path)
        } catch let errors as TemplateErrors {
            throw CLIError(errors.description)
        }
        let deliveries: DeliveryTicker?
        if channels.channels.isEmpty {
            deliveries = nil
        } else {
            let deliverer: WebhookDeliverer
            do { deliverer = try WebhookDeliverer(store: context.assembly.store, channels: channels.channels) } catch let error as NotifyError {
                throw CLIError("error: \(error.description)")
            }
            let deliveryLogger = logger
            deliveries = DeliveryTicker(deliverer: deliverer, clock: { SystemEngineClock().nowMilliseconds() }) { result in
                switch result {
                case .success(let attempted):
                    for delivery in attempted where delivery.status != "delivered" {
                        deliveryLogger.warning("notification not delivered", metadata: [
                            "notification": "\(delivery.notification)", "channel": "\(delivery.channel)", "status": "\(delivery.status)",
                            "attempts": "\(delivery.attempts)", "error": "\(delivery.lastError ?? "")",
                        ])
                    }
                case .failure(let error):
                    deliveryLogger.error("notification delivery failed; retrying at the next tick", metadata: ["error": "\(error)"])
                }
            }
        }
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
                // Gates reviewers decided in the queue move their customers on (or stop them),
                // and migration changes made by other processes (steward migrate) take effect here.
                await deliveries?.poke()
                try await migrations.syncGates()
                try await engine.routes?.reload(from: engine.store)
            })
        guard claimMinutes > 0 else { throw CLIError("--claim-minutes must be at least 1, found \(claimMinutes)") }
        environment.claimDuration = .seconds(claimMinutes * 60)
        environment.evals = ServeWiring.evalHooks(evals)
        environment.migrations = ServeWiring.migrationHooks(migrations)
        environment.pluginReport = ServeWiring.pluginReport(
            context.registry, stateDirectory: context.assembly.workspace.pluginStateDirectory.path)
        let server = try StewardServer(
            environment: environment, configuration: ServerConfiguration(host: host, port: port, driverConcurrency: concurrency),
            logger: logger)
        let host = self.host
        do {
            try await server.run { port in
                // Unbuffered, so a script or test waiting for this line sees it at once.
                FileHandle.standardOutput.write(Data(
                    "steward: serving the API on http://\(host):\(port)/v1 and the reviewer page on http://\(host):\(port)/review\n".utf8))
            }
        } catch {
            context.assembly.stopPlugins()
            throw Self.listenerError(error, host: host, port: port)
        }
        let stopped = context.assembly.stopPlugins()
        if stopped.callStillRunning {
            print("steward: a plugin call was still running after \(Int(EngineAssembly.pluginShutdownGrace)) s; plugins were not deinitialised")
        }
        print("steward: stopped")
    }

    /// The listener's failure as a user can act on it: which address, and what to do. (The
    /// socket layer reports it as a bind error with an errno; other errors pass unchanged.)
    static func listenerError(_ error: any Error, host: String, port: Int) -> any Error {
        let text = "\(error)"
        if text.contains("Address already in use") || text.contains("errno: 98") {
            return CLIError(
                "port \(port) on \(host) is already in use: stop the process listening there (e.g. `ss -ltnp 'sport = :\(port)'` shows it), "
                    + "or serve on another port with --port (--port 0 picks a free one)")
        }
        if text.contains("Permission denied") || text.contains("errno: 13") {
            return CLIError("not allowed to listen on port \(port) on \(host) (ports below 1024 need privileges): choose another with --port, e.g. --port 8080")
        }
        if text.contains("Cannot assign requested address") || text.contains("errno: 99") {
            return CLIError("\(host) is not an address of this machine: use --host 127.0.0.1, or 0.0.0.0 for every interface")
        }
        return error
    }
}
