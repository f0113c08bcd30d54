import Foundation
import Logging
import ServiceLifecycle
import StewardBootstrap
import StewardJSON
import StewardMigration
import StewardPlugins
import StewardCLI
import StewardCore
import StewardEval
import StewardEngine
import StewardReview
import StewardServer
import StewardStoreSQLite
import StewardTemplates
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where the package and its shipped plugins are.
enum Package {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shipped plugins, built once per test process into a temp directory by the same
    /// `PluginBuilder` that `steward plugins build` uses: the C ones with the system C compiler,
    /// the Swift ones copied from the products `swift build --build-tests` built beside this
    /// test bundle (SwiftPM cannot be re-entered from a test). Plugins in `plugins/`, plain C
    /// libraries for ffi states in `lib/`.
    static let plugins: Result<URL, PluginBuildFailure> = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-server-plugins-\(UUID().uuidString)")
        do {
            _ = try PluginBuilder.buildShipped(root: root, into: directory)
            return .success(directory)
        } catch {
            return .failure(PluginBuildFailure(description: "\(error)"))
        }
    }()
}

struct PluginBuildFailure: Error, CustomStringConvertible {
    let description: String
}

/// Collects log lines (message and metadata) so a test can read what the server logged.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    func handler(label: String) -> LogHandler { Handler(capture: self) }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append("\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
    }
}

/// A reply from the server.
struct Reply: Sendable {
    let status: Int
    let headers: [String: String]
    let body: Data

    var json: JSONValue { (try? JSONValue.parse(Array(body))) ?? .null }
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
}

/// Refuses redirects so tests see the 303 itself.
final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// The real server on a free loopback port over a temp SQLite file and the shipped plugins,
/// with an operator, a support agent and a reviewer holding another credential.
final class ServerHarness: Sendable {
    let directory: URL
    let store: any EngineStore
    let server: StewardServer
    let base: URL
    let operatorToken: String
    let agentToken: String
    let outsiderToken: String
    let agentID: String
    let group: ServiceGroup
    let running: Task<Void, any Error>
    let session: URLSession

    static let triage = "support-ticket-triage"

    /// The engine `steward serve` runs, assembled by `EngineAssembly` from this checkout's
    /// `workflows/` (templates, overlays, prompts) and the shipped plugins, over the database at `database`.
    static func assemble(database: String, metrics: ServerMetrics? = nil, workflows: URL? = nil, extraPlugins: [URL] = []) async throws -> EngineAssembly {
        let plugins = try Package.plugins.get()
        return try await EngineAssembly.assemble(EngineOptions(
            workspace: Workspace(root: Package.root), workflows: (workflows ?? Package.root.appendingPathComponent("workflows")).path, database: database,
            pluginDirectories: [plugins.appendingPathComponent("plugins").path] + extraPlugins.map(\.path),
            libraryDirectories: [plugins.appendingPathComponent("lib").path], buildPlugins: false, metrics: metrics?.engine))
    }

    /// The customer that `start(auditedCustomer: true)` adds: every triage reply sent without a
    /// review is sampled for a double audit.
    static let audited = "audited"

    /// Starts a server. `logs`, when given, receives everything the server logs at trace level.
    /// With `auditedCustomer`, the server runs a copy of `workflows/` with the customer
    /// `audited` added.
    /// With `extraTemplates` (file name -> text), those templates are written into the copy too;
    /// `extraPlugins` are more plugin directories to load.
    static func start(
        logs: LogCapture? = nil, auditedCustomer: Bool = false, migrations: Bool = false, evals: Bool = false, extraTemplates: [String: String] = [:],
        extraPlugins: [URL] = []
    ) async throws -> ServerHarness {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var workflows: URL?
        if !extraTemplates.isEmpty {
            let copy = directory.appendingPathComponent("workflows")
            try FileManager.default.copyItem(at: Package.root.appendingPathComponent("workflows"), to: copy)
            for (name, text) in extraTemplates { try text.write(to: copy.appendingPathComponent(name), atomically: true, encoding: .utf8) }
            workflows = copy
        }
        if auditedCustomer {
            let copy = directory.appendingPathComponent("workflows")
            if workflows == nil { try FileManager.default.copyItem(at: Package.root.appendingPathComponent("workflows"), to: copy) }
            try """
                customer: \(audited)
                templates:
                  support-ticket-triage:
                    sample: {review_reply: {rate: 1, double_review: 1}}
                """.write(to: copy.appendingPathComponent("customers/\(audited).yaml"), atomically: true, encoding: .utf8)
            workflows = copy
        }
        let metrics = ServerMetrics()
        let assembly = try await assemble(
            database: directory.appendingPathComponent("steward.db").path, metrics: metrics, workflows: workflows, extraPlugins: extraPlugins)
        let store = assembly.store
        var logger = Logger(label: "steward.test") { label in
            logs.map { $0.handler(label: label) } ?? SwiftLogNoOpLogHandler()
        }
        logger.logLevel = .trace
        var environment = ServerEnvironment(
            engine: assembly.engine, plugins: assembly.registry.plugins.map(\.name),
            templates: assembly.plans.all.map { "\($0.name)@\($0.version)" }, metrics: metrics,
            periodic: { [timers = assembly.timers] in _ = try await timers.fireDue(now: SystemEngineClock().nowMilliseconds()) })
        if migrations { environment.migrations = ServeWiring.migrationHooks(MigrationController(assembly: assembly)) }
        if evals { environment.evals = ServeWiring.evalHooks(EvalSession(assembly: assembly)) }
        environment.pluginReport = ServeWiring.pluginReport(assembly.registry, stateDirectory: assembly.workspace.pluginStateDirectory.path)
        let server = try StewardServer(
            environment: environment,
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0, driverConcurrency: 4), logger: logger)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let group = ServiceGroup(configuration: .init(services: [server.makeApplication { portContinuation.yield($0) }], logger: logger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw PluginBuildFailure(description: "the server did not report a port") }
        let now = SystemEngineClock().nowMilliseconds()
        let op = try await store.addReviewer(name: "Olu Operator", credentials: [], role: "operator", at: now)
        let agent = try await store.addReviewer(name: "Ana Agent", credentials: ["support-agent"], at: now)
        let outsider = try await store.addReviewer(name: "Lee Lawyer", credentials: ["attorney"], at: now)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.timeoutIntervalForRequest = 60
        return ServerHarness(
            directory: directory, store: store, server: server, base: URL(string: "http://127.0.0.1:\(port)")!,
            operatorToken: op.token, agentToken: agent.token, outsiderToken: outsider.token, agentID: agent.0.id, group: group,
            running: running, session: URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil))
    }

    private init(
        directory: URL, store: any EngineStore, server: StewardServer, base: URL, operatorToken: String, agentToken: String,
        outsiderToken: String, agentID: String, group: ServiceGroup, running: Task<Void, any Error>, session: URLSession
    ) {
        self.directory = directory
        self.store = store
        self.server = server
        self.base = base
        self.operatorToken = operatorToken
        self.agentToken = agentToken
        self.outsiderToken = outsiderToken
        self.agentID = agentID
        self.group = group
        self.running = running
        self.session = session
    }

    /// Graceful shutdown; returns once the server and the driver have stopped. With
    /// `keepFiles`, the database stays for the test to inspect (then call `removeFiles`).
    func stop(keepFiles: Bool = false) async throws {
        await group.triggerGracefulShutdown()
        try await running.value
        session.finishTasksAndInvalidate()
        if !keepFiles { removeFiles() }
    }

    func removeFiles() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Sends a request. `json` sets `Content-Type: application/json` unless `headers` says otherwise.
    func send(
        _ method: String, _ path: String, token: String? = nil, json: JSONValue? = nil, body: Data? = nil,
        headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: path, relativeTo: base)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = Data(json.jsonBytes)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let body { request.httpBody = body }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields { fields["\(name)"] = "\(value)" }
        return Reply(status: http.statusCode, headers: fields, body: data)
    }

    /// An example ticket from `workflows/examples`.
    static func ticket(_ number: Int) throws -> JSONValue {
        try JSONValue.parse(Array(Data(contentsOf: Package.root.appendingPathComponent("workflows/examples/ticket-\(number).json"))))
    }

    /// Submits the stolen-card ticket (P1, always reviewed) and waits for its review task.
    func waitingTask(key: String? = nil) async throws -> (instance: String, task: Int64) {
        var body: [String: JSONValue] = ["template": .string(Self.triage), "input": try Self.ticket(2)]
        if let key { body["idempotency_key"] = .string(key) }
        let reply = try await send("POST", "/v1/instances", token: operatorToken, json: .object(body))
        try #require(reply.status == 201, "submit: \(reply.status) \(reply.text)")
        let instance = try #require(reply.json["id"]?.stringValue)
        let state = try await waitFor(instance) { $0 != "running" }
        try #require(state == "waiting", "the stolen-card ticket must wait for review, it is \(state)")
        let tasks = try await store.openTasks(credentials: nil, limit: 200)
        let task = try #require(tasks.first { $0.instanceID == instance })
        return (instance, task.id)
    }

    /// Submits ticket 1 (a fee question the classifier is sure of, so no one reviews it) for
    /// the `audited` customer and returns the audit item its unreviewed reply got. Needs
    /// `start(auditedCustomer: true)`.
    func sampledAudit() async throws -> (instance: String, audit: Int64) {
        let body: JSONValue = ["template": .string(Self.triage), "customer": .string(Self.audited), "input": try Self.ticket(1)]
        let reply = try await send("POST", "/v1/instances", token: operatorToken, json: body)
        try #require(reply.status == 201, "submit: \(reply.status) \(reply.text)")
        let instance = try #require(reply.json["id"]?.stringValue)
        let state = try await waitFor(instance) { $0 != "running" }
        try #require(state == "completed", "the sampled ticket goes on unreviewed, it is \(state)")
        let audit = try #require(try await store.auditItems(AuditQuery()).first { $0.instanceID == instance })
        return (instance, audit.id)
    }

    /// Polls the store until the instance's status satisfies `done` (at most 60 s).
    @discardableResult
    func waitFor(_ instance: String, _ done: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let status = try await server.environment.engine.currentState(id: instance)?.status.rawValue ?? "missing"
            if done(status) || ContinuousClock.now > deadline { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
