import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardReview
import StewardTesting
import Synchronization
import Testing

/// Three `steward serve` engines share one PostgreSQL database (a real server the test starts);
/// instances are submitted and their checkpoints decided over HTTP while random engines are
/// killed with SIGKILL at random moments and restarted. Afterwards every instance exists once,
/// every transition was applied once, and every step result came from a ledger call with its key.
@Suite(.serialized)
struct PostgresCrashTests {
    /// One engine process slot: its port stays, the process behind it comes and goes.
    final class Engines: Sendable {
        let run: CrashTests.Run
        let url: String
        let ports: [Int]
        let processes: Mutex<[ChildProcess.Running?]>
        let generation = Atomic<Int>(0)

        init(run: CrashTests.Run, url: String, ports: [Int]) {
            self.run = run
            self.url = url
            self.ports = ports
            processes = Mutex(Array(repeating: nil, count: ports.count))
        }

        /// Starts engine `index` on its port (a new engine id each time, as after a real crash).
        func start(_ index: Int) throws {
            let generation = self.generation.wrappingAdd(1, ordering: .relaxed).newValue
            let child = try ChildProcess.start(
                CrashTests.stewardBinary.path,
                [
                    "serve", "--port", String(ports[index]), "--store", url, "--workflows", run.workflows.path, "--plugins", run.plugins.path,
                    "--no-build", "--concurrency", "32", "--lease-seconds", "2", "--engine-id", "engine-\(index)-\(generation)", "--log-level", "warning",
                ], directory: run.directory.path, environment: run.childEnvironment(), stderr: run.log.path)
            processes.withLock { $0[index] = child }
        }

        func kill(_ index: Int) -> Bool {
            guard let child = processes.withLock({ processes -> ChildProcess.Running? in
                defer { processes[index] = nil }
                return processes[index]
            }) else { return false }
            child.kill()
            return child.wait().signal == SIGKILL
        }

        func stopAll() {
            for index in ports.indices { _ = kill(index) }
        }

        func isUp(_ index: Int) -> Bool { processes.withLock { $0[index] != nil } }
    }

    /// A plain HTTP client for the engines' API.
    struct Client: Sendable {
        let token: String
        let session = URLSession(configuration: .ephemeral)

        /// One call; nil when the engine is not there (killed, restarting).
        func call(_ port: Int, _ method: String, _ path: String, _ body: String? = nil, key: String? = nil) async -> (Int, JSONValue)? {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method
            request.timeoutInterval = 20
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            if let key { request.setValue(key, forHTTPHeaderField: "Idempotency-Key") }
            if let body {
                request.httpBody = Data(body.utf8)
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            guard let (data, response) = try? await session.data(for: request) else { return nil }
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONValue.parse(Array(data))) ?? .null)
        }
    }

    /// What the test's tasks share.
    final class Progress: Sendable {
        let submitted = Atomic<Int>(0)
        let decided = Atomic<Int>(0)
        let killing = Atomic<Bool>(true)
        let kills = Atomic<Int>(0)
        let next = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
    }

    @Test(.timeLimit(.minutes(15)))
    func threeEnginesKilledAtRandomLoseAndDuplicateNothing() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: CrashTests.stewardBinary.path), "build the steward executable first")
        let server = try await PostgresServer.start()
        let url = try await server.makeDatabase(prefix: "crash")
        let run = try CrashTests.makeRun()
        defer { try? FileManager.default.removeItem(at: run.directory) }
        let count = 3_000
        let reviewed = Set(stride(from: 0, to: count, by: 3))  // every third instance stops at its checkpoint

        // A token that may submit and decide (the operator holds the checkpoint's credential).
        let setup = try await StoreLocation(url).open()
        let token = try await setup.addReviewer(name: "crash", credentials: ["tester"], role: "operator", at: SystemEngineClock().nowMilliseconds()).token
        let client = Client(token: token)
        var claimed: [Int] = []
        for _ in 0..<3 {
            let (socket, port) = try #require(Loopback.claim(listening: false))
            close(socket)
            claimed.append(port)
        }
        let ports = claimed
        let engines = Engines(run: run, url: url, ports: ports)
        defer { engines.stopAll() }
        for index in 0..<3 { try engines.start(index) }
        // Up when each answers its health check.
        let upBy = ContinuousClock.now + .seconds(180)
        for port in ports {
            while await client.call(port, "GET", "/healthz")?.0 != 200 {
                try #require(ContinuousClock.now < upBy, "engine on \(port) did not come up: \((try? String(contentsOf: run.log, encoding: .utf8)) ?? "")")
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        let progress = Progress()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Submitters: each instance through some engine, with its idempotency key, until one accepts it.
            for worker in 0..<12 {
                group.addTask {
                    while true {
                        let index = progress.next.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard index < count else { return }
                        let body = #"{"template": "crash-test", "input": {"review": \#(reviewed.contains(index))}}"#
                        var attempt = worker
                        while true {
                            if let (status, _) = await client.call(ports[attempt % 3], "POST", "/v1/instances", body, key: "pg-\(index)"), status == 201 || status == 200 {
                                break
                            }
                            attempt += 1
                            try await Task.sleep(for: .milliseconds(50))
                        }
                        progress.submitted.add(1, ordering: .relaxed)
                    }
                }
            }
            // The killer: a random engine, at a random moment, restarted a moment later.
            group.addTask {
                var generator = SystemRandomNumberGenerator()
                while progress.killing.load(ordering: .relaxed) {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 300...1_500, using: &generator)))
                    let index = Int.random(in: 0..<3, using: &generator)
                    if engines.kill(index) { progress.kills.add(1, ordering: .relaxed) }
                    try await Task.sleep(for: .milliseconds(Int.random(in: 100...800, using: &generator)))
                    try engines.start(index)
                }
            }
            // The reviewer: decides open checkpoints through whichever engine answers.
            group.addTask {
                var round = 0
                // Until every instance completed (a decision whose answer a kill cut off still counts
                // once it is in the journal, which the end checks).
                while !progress.finished.load(ordering: .relaxed) {
                    round += 1
                    let port = ports[round % 3]
                    guard let (status, listing) = await client.call(port, "GET", "/v1/tasks"), status == 200 else {
                        try await Task.sleep(for: .milliseconds(100))
                        continue
                    }
                    let tasks = listing["tasks"]?.arrayValue ?? []
                    if tasks.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
                    for task in tasks {
                        guard let id = task["id"]?.integerValue else { continue }
                        if let (status, _) = await client.call(port, "POST", "/v1/tasks/\(id)/decision", #"{"decision": "approve"}"#), status == 200 {
                            progress.decided.add(1, ordering: .relaxed)
                        }
                    }
                }
            }
            // Stop killing once every instance is in and at least a few kills landed; then wait for the rest.
            let deadline = ContinuousClock.now + .seconds(600)
            while progress.submitted.load(ordering: .relaxed) < count || progress.kills.load(ordering: .relaxed) < 5 {
                try #require(ContinuousClock.now < deadline, "submitted \(progress.submitted.load(ordering: .relaxed)) of \(count)")
                try await Task.sleep(for: .milliseconds(200))
            }
            progress.killing.store(false, ordering: .relaxed)
            while true {
                let completed = try await setup.countByStatus()[.completed, default: 0]
                if completed >= count { break }
                try #require(ContinuousClock.now < deadline, "decided \(progress.decided.load(ordering: .relaxed)) of \(reviewed.count); \(completed) of \(count) completed")
                try await Task.sleep(for: .milliseconds(500))
            }
            progress.finished.store(true, ordering: .relaxed)
            group.cancelAll()
        }

        // Every instance once, completed; every transition once, in order.
        let counts = try await setup.countByStatus()
        #expect(counts[.completed] == count && counts.values.reduce(0, +) == count, "\(counts)")
        var journalKeys: Set<String> = []
        var ids: Set<String> = []
        for index in 0..<count {
            let instance = try #require(try await setup.instance(clientKey: "pg-\(index)"), "submission pg-\(index) landed")
            ids.insert(instance.id)
            let history = try await setup.history(of: instance.id)
            let sequences = history.compactMap(\.sequence)
            #expect(sequences == Array(1...max(1, history.count)), "\(instance.id): gap or duplicate in sequence \(sequences)")
            let steps = history.filter { $0.kind == "step_succeeded" }
            #expect(steps.count == 3, "\(instance.id): \(history.map(\.kind))")
            #expect(history.filter { $0.kind == "checkpoint_decided" }.count == (reviewed.contains(index) ? 1 : 0), "\(instance.id): \(history.map(\.kind))")
            for entry in steps {
                if let key = entry.payload["output"]?["key"]?.stringValue { journalKeys.insert(key) }
            }
        }
        #expect(ids.count == count, "each submission is its own instance")
        #expect(journalKeys.count == count * 3, "every step result has its own key")
        let ledger = Set(try String(contentsOf: run.ledger, encoding: .utf8).split(separator: "\n").map(String.init))
        #expect(journalKeys.isSubset(of: ledger), "every step result matches a ledger call with its key")
        engines.stopAll()
        let verified = try ChildProcess.run(
            CrashTests.stewardBinary.path, ["audit", "verify", "--store", url, "--workflows", run.workflows.path, "--plugins", run.plugins.path, "--no-build"],
            directory: run.directory.path, environment: run.childEnvironment(), stderr: run.log.path, timeout: 600)
        #expect(verified.status == 0, "steward audit verify passes: \((try? String(contentsOf: run.log, encoding: .utf8))?.suffix(2_000) ?? "")")
        print("crash test (PostgreSQL): 3 engines, \(progress.kills.load(ordering: .relaxed)) kills, \(count) instances, \(reviewed.count) checkpoints decided once each over HTTP (\(progress.decided.load(ordering: .relaxed)) acknowledged before a kill could cut the answer off), 0 lost, 0 duplicated")
    }
}
