import Foundation
import Hummingbird
import Logging
import Mustache
import ServiceLifecycle
import StewardReview
import StewardCore
import StewardEngine
import StewardJSON
import Synchronization

/// What the server serves: the engine and its store, what was loaded, and the metrics.
public struct ServerEnvironment: Sendable {
    /// The engine (built with `metrics.engine` so its counts reach `/metrics`).
    public var engine: Engine
    /// The engine's store.
    public var store: any EngineStore { engine.store }
    /// Names of the loaded plugins (readiness needs at least one).
    public var plugins: [String]
    /// Loaded templates as `name@version` (readiness needs at least one).
    public var templates: [String]
    /// The metrics registry.
    public var metrics: ServerMetrics
    /// Background work run every `periodicInterval` while serving (firing due SLA timers).
    public var periodic: (@Sendable () async throws -> Void)?
    /// How often `periodic` runs.
    public var periodicInterval: Duration
    /// Evaluation, when the server was given it (the eval routes answer 503 without).
    public var evals: EvalHooks? = nil
    /// Migrations, when the server was given them (the migration routes answer 503 without).
    public var migrations: MigrationHooks? = nil
    /// The loaded plugins as `steward plugins list --json` describes them (name, version, path,
    /// abi, sha256, steps, adapters, isolation with mode, quarantine and hosts), for the console's
    /// plugins page; called on every visit, from any task (nil: the page says the server was
    /// started without it).
    public var pluginReport: (@Sendable () -> [JSONValue])? = nil
    /// How long a reviewer's claim on a task holds (`steward serve --claim-minutes`).
    public var claimDuration: Duration = .milliseconds(ReviewDesk.defaultClaimDuration)

    /// Creates an environment.
    public init(
        engine: Engine, plugins: [String], templates: [String], metrics: ServerMetrics,
        periodic: (@Sendable () async throws -> Void)? = nil, periodicInterval: Duration = .seconds(15)
    ) {
        self.engine = engine
        self.plugins = plugins
        self.templates = templates
        self.metrics = metrics
        self.periodic = periodic
        self.periodicInterval = periodicInterval
    }

    /// The review desk over the store and engine.
    public var desk: ReviewDesk {
        ReviewDesk(engine: engine, claimDuration: max(1, claimDuration.wholeMilliseconds))
    }
}

/// Where and how the server listens.
public struct ServerConfiguration: Sendable {
    /// Address to bind (`127.0.0.1` by default: only this machine).
    public var host: String
    /// Port; 0 picks a free one (reported through `onRunning`).
    public var port: Int
    /// Instances driven at once in the background.
    public var driverConcurrency: Int

    /// Creates a configuration.
    public init(host: String = "127.0.0.1", port: Int = 8080, driverConcurrency: Int = 16) {
        self.host = host
        self.port = port
        self.driverConcurrency = driverConcurrency
    }
}

/// Why the server could not start.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String
}

/// `steward serve`: the JSON API, the reviewer web page and `/metrics` in one process over
/// the embedded store. Requests that change an instance return once the change is durable;
/// the engine work that follows runs in the background `InstanceDriver`.
public struct StewardServer: Sendable {
    /// What is served.
    public let environment: ServerEnvironment
    /// Where it listens.
    public let configuration: ServerConfiguration
    /// The background driver of submitted and decided instances.
    public let driver: InstanceDriver
    /// The server's log (tokens and request bodies are never written to it).
    public let logger: Logger
    let sessions = SessionStore()
    let pages: MustacheLibrary
    let routeIndex = RouteIndex()

    /// Creates a server; fails only if a page template does not parse (a programming error).
    public init(environment: ServerEnvironment, configuration: ServerConfiguration = ServerConfiguration(), logger: Logger) throws {
        self.environment = environment
        self.configuration = configuration
        self.logger = logger
        driver = InstanceDriver(engine: environment.engine, concurrency: configuration.driverConcurrency, logger: logger)
        var library = MustacheLibrary()
        do {
            for (name, text) in PageTemplates.all { try library.register(text, named: name) }
        } catch {
            throw ServerError(description: "a reviewer page template does not parse: \(error)")
        }
        pages = library
        // Failed sign-ins that reached the token check go to the audit journal (throttled ones,
        // refused before any check, are only logged, so a flood cannot grow the journal).
        let store = environment.store
        onFailedSignIn = { failure in
            guard !failure.throttled else { return }
            try? await store.appendAudit(
                kind: "sign_in_failed", actor: "client \(failure.clientAddress)",
                payload: ["token_prefix": .string(failure.tokenPrefix), "failures": .integer(Int64(failure.failures))], at: failure.at,
                instance: nil)
        }
    }

    var store: any EngineStore { environment.store }
    var engine: Engine { environment.engine }
    var desk: ReviewDesk { environment.desk }
    var now: Int64 { engine.clock.nowMilliseconds() }

    /// The router with every route: the API under `/v1`, health, metrics, the reviewer page.
    public func makeRouter() -> Router<StewardRequestContext> {
        let router = Router(context: StewardRequestContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger))
        router.add(middleware: ErrorMiddleware(server: self, routes: routeIndex))
        addOperationalRoutes(to: router)
        addAPIRoutes(to: router)
        addReviewerPages(to: router)
        addConsolePages(to: router)
        routeIndex.set(router.routes.map { RouteIndex.Route(method: $0.method, path: $0.path.description) })
        return router
    }

    /// Every route as `METHOD /path/{param}`: what `Docs/openapi.yaml` must describe.
    public var routes: [String] {
        makeRouter().routes.map { "\($0.method.rawValue) \($0.path)" }.sorted()
    }

    /// The application: the HTTP server plus the background driver as services, so graceful
    /// shutdown stops the listener first (finishing in-flight requests), then the driver.
    public func makeApplication(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: services,
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// The background services, in start order; graceful shutdown stops them in reverse, after
    /// the HTTP listener: the periodic tick, then the driver (draining), then the lease service
    /// (which releases this engine's leases once nothing of it runs any more).
    var services: [any Service] {
        var services: [any Service] = []
        if let leases = store as? any LeaseStore {
            services.append(LeaseService(leases: leases, driver: driver, timers: environment.periodic, logger: logger))
        }
        services.append(driver)
        if let work = environment.periodic { services.append(PeriodicService(interval: environment.periodicInterval, work: work, logger: logger)) }
        return services
    }

    /// Resumes running instances, then serves until SIGTERM or SIGINT, then shuts down
    /// gracefully: no new connections, in-flight requests and engine work finished. On a store
    /// several engines share (`LeaseStore`), nothing is resumed at start: the lease service takes
    /// over the running instances whose lease lapsed, and leaves those of live engines alone.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        if !(store is any LeaseStore) {
            let resumed = try await engine.resume()
            if resumed > 0 { logger.info("resumed running instances", metadata: ["count": "\(resumed)"]) }
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [makeApplication(onRunning: onRunning)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The server's routes as `METHOD /path/{param}`, known after the router is built, for the
/// 405 answer and for checking the OpenAPI document.
final class RouteIndex: Sendable {
    /// One route.
    struct Route: Sendable, Hashable {
        var method: HTTPRequest.Method
        var path: String
    }

    private let routes = Mutex<[Route]>([])

    func set(_ new: [Route]) { routes.withLock { $0 = new } }

    /// The methods routed for a concrete `path` (empty: no route has that path).
    func methods(matching path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return routes.withLock { routes in
            routes.filter { route in
                let pattern = route.path.split(separator: "/", omittingEmptySubsequences: true)
                guard pattern.count == segments.count else { return false }
                return zip(pattern, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
            }.map(\.method)
        }
    }
}

/// Runs `work` every `interval` until graceful shutdown (the SLA clock's tick: timers are
/// minute-precise with a 15-second interval).
struct PeriodicService: Service {
    let interval: Duration
    let work: @Sendable () async throws -> Void
    let logger: Logger

    func run() async throws {
        // Graceful shutdown cancels the loop; the sleep then ends early and the loop stops.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await work()
                } catch is CancellationError {
                    // Shutting down: the loop ends, nothing failed.
                } catch {
                    logger.error("periodic work failed; retrying at the next tick", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
