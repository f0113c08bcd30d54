import Foundation
import Logging
import ServiceLifecycle
import StewardDispatch
import StewardJSON
import StewardPlugins
import StewardRuntime
import StewardServer
import StewardStore
import StewardTemplates
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where the package and its shipped plugins are.
enum Package {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shipped plugins the templates need, in a temp directory once per test process: the
    /// C ones (`keywords`, `kb`) built with the system C compiler as `steward plugins build`
    /// does, the Swift ones (`support`, `banking`) copied from the products `swift test` built
    /// beside this test bundle (SwiftPM cannot be re-entered from a test).
    static let plugins: Result<URL, PluginBuildFailure> = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-server-plugins-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let include = root.appendingPathComponent("Sources/StewardABI/include")
            let cPlugins: [(library: String, sources: [String])] = [
                ("libsteward-keywords.so", ["Plugins/keywords/keywords.c"]),
                ("libsteward-kb.so", ["Plugins/kb/kb.c", "Plugins/kb/kb_index.c", "Plugins/kb/kb_json.c", "Plugins/kb/kb_text.c"]),
            ]
            for plugin in cPlugins {
                try run("cc", ["-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-I", include.path]
                    + plugin.sources.map { root.appendingPathComponent($0).path }
                    + ["-o", directory.appendingPathComponent(plugin.library).path, "-lm"])
            }
            let products = [
                Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
            ]
            for (product, library) in [("StewardSupportPlugin", "libsteward-support.so"), ("StewardBankingIntentPlugin", "libsteward-banking.so")] {
                guard let built = products.map({ $0.appendingPathComponent("lib\(product).so") })
                    .first(where: { FileManager.default.fileExists(atPath: $0.path) })
                else {
                    throw PluginBuildFailure(description: "lib\(product).so is not beside the test bundle; run `swift build --build-tests` first")
                }
                try FileManager.default.copyItem(at: built, to: directory.appendingPathComponent(library))
            }
            return .success(directory)
        } catch let error as PluginBuildFailure {
            return .failure(error)
        } catch {
            return .failure(PluginBuildFailure(description: "\(error)"))
        }
    }()

    static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PluginBuildFailure(description: "\(tool) failed (\(process.terminationStatus)): \(String(decoding: output, as: UTF8.self))")
        }
    }
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
    let store: SQLiteStore
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

    /// The engine over `store` with the shipped plugins and the templates in `workflows/`.
    static func makeEngine(store: SQLiteStore, metrics: ServerMetrics? = nil) throws -> (Engine, PluginRegistry, PlanLibrary) {
        let plugins = try Package.plugins.get()
        var registry = PluginRegistry()
        for library in PluginRegistry.libraries(in: plugins.path) { try registry.register(PluginLoader.load(path: library)) }
        let catalog = StepCatalog(steps: registry.stepNames)
        var library = PlanLibrary()
        let workflows = Package.root.appendingPathComponent("workflows")
        for name in try FileManager.default.contentsOfDirectory(atPath: workflows.path).sorted() where name.hasSuffix(".yaml") {
            let file = workflows.appendingPathComponent(name).path
            library.add(try Plan(validating: TemplateParser.parse(String(contentsOfFile: file, encoding: .utf8), file: file), catalog: catalog))
        }
        // The dispatcher routes model states to adapters (the triage classifier), the rest to steps.
        return (Engine(store: store, plans: library, invoker: Dispatcher(registry: registry), metrics: metrics?.engine), registry, library)
    }

    /// Starts a server. `logs`, when given, receives everything the server logs at trace level.
    static func start(logs: LogCapture? = nil) async throws -> ServerHarness {
        let plugins = try Package.plugins.get()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: directory.appendingPathComponent("steward.db").path)
        let metrics = ServerMetrics()
        let (engine, registry, library) = try makeEngine(store: store, metrics: metrics)
        var logger = Logger(label: "steward.test") { label in
            logs.map { $0.handler(label: label) } ?? SwiftLogNoOpLogHandler()
        }
        logger.logLevel = .trace
        let server = try StewardServer(
            environment: ServerEnvironment(
                store: store, engine: engine, plugins: registry.plugins.map(\.name), templates: library.all.map { "\($0.name)@\($0.version)" },
                metrics: metrics),
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
        directory: URL, store: SQLiteStore, server: StewardServer, base: URL, operatorToken: String, agentToken: String,
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
        let tasks = try await store.openTasks()
        let task = try #require(tasks.first { $0.instanceID == instance })
        return (instance, task.id)
    }

    /// Polls the store until the instance's status satisfies `done` (at most 20 s).
    @discardableResult
    func waitFor(_ instance: String, _ done: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let status = try await store.instance(id: instance)?.status.rawValue ?? "missing"
            if done(status) || ContinuousClock.now > deadline { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
