import Foundation
import StewardBootstrap
import StewardEngine
import StewardJSON
import StewardReview

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Several `steward serve` engines on one store (issue 12): the triage template submitted over
/// HTTP to every engine of a configuration (64 clients, round-robin), until every instance waits
/// at its checkpoint; then, one at a time, a decision POSTed and the next step's commit awaited;
/// then, for PostgreSQL with two or more engines, one engine killed with SIGKILL in the middle of
/// a burst and the time until the others resumed its instances. Each configuration is one line
/// of `NAME,ENGINES,STORE_URL` (`--config`, repeatable as `;`-separated), run in the order given,
/// each on its own empty store.
struct ScaleOutBenchmark {
    struct Configuration {
        let name: String
        let engines: Int
        let store: String
    }

    let steward: String
    let plugins: String
    let libraries: String?
    let template: String
    let input: String
    let scratch: String
    let n: Int
    let decisions: Int
    let configurations: [Configuration]
    let leaseSeconds: Double

    static func parse(_ text: String) throws -> [Configuration] {
        try text.split(separator: ";").map { line in
            let parts = line.split(separator: ",", maxSplits: 2).map(String.init)
            guard parts.count == 3, let engines = Int(parts[1]), engines > 0 else { throw BenchError("--config takes NAME,ENGINES,STORE_URL; found '\(line)'") }
            return Configuration(name: parts[0], engines: engines, store: parts[2])
        }
    }

    /// A running engine.
    final class Engine {
        let process: Process
        let port: Int

        init(process: Process, port: Int) {
            self.process = process
            self.port = port
        }

        /// User + system CPU seconds so far (from /proc, while it runs).
        var cpuSeconds: Double {
            guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return 0 }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the command: state is field 3; utime and stime are fields 14 and 15.
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
    }

    func start(_ configuration: Configuration, index: Int, workflows: String) throws -> Engine {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: steward)
        process.arguments = [
            "serve", "--port", "0", "--store", configuration.store, "--workflows", workflows, "--plugins", plugins, "--no-build",
            "--log-level", "error", "--concurrency", "64", "--engine-id", "\(configuration.name)-\(index)", "--lease-seconds", String(leaseSeconds),
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: scratch)
        var environment = ProcessInfo.processInfo.environment
        if let libraries { environment["STEWARD_LIBRARY_PATH"] = libraries }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var banner = Data()
        while !String(decoding: banner, as: UTF8.self).contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw BenchError("steward serve (\(configuration.name)) exited before serving") }
            banner.append(chunk)
        }
        let line = String(decoding: banner, as: UTF8.self)
        guard let range = line.range(of: "http://127.0.0.1:"), let port = Int(line[range.upperBound...].prefix { $0.isNumber }) else {
            throw BenchError("unexpected banner: \(line)")
        }
        return Engine(process: process, port: port)
    }

    func run() async throws -> JSONValue {
        let workflows = URL(fileURLWithPath: scratch).appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        let templateURL = URL(fileURLWithPath: template)
        try? FileManager.default.removeItem(at: workflows.appendingPathComponent(templateURL.lastPathComponent))
        try FileManager.default.copyItem(at: templateURL, to: workflows.appendingPathComponent(templateURL.lastPathComponent))
        let ticket = try JSONValue.parse(String(contentsOfFile: input, encoding: .utf8))
        let templateName = try String(contentsOfFile: template, encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix("template:") }.map { $0.dropFirst("template:".count).trimmingCharacters(in: .whitespaces) } ?? ""
        var results: [JSONValue] = []
        for configuration in configurations {
            results.append(try await measure(configuration, workflows: workflows.path, template: templateName, ticket: ticket))
        }
        return ["n": .int(n), "decisions": .int(decisions), "lease_seconds": .number(leaseSeconds), "configurations": .array(results)]
    }

    func measure(_ configuration: Configuration, workflows: String, template: String, ticket: JSONValue) async throws -> JSONValue {
        let store = try await StoreLocation(configuration.store).open(engineID: "\(configuration.name)-bench")
        let token = try await store.addReviewer(name: "bench", credentials: ["support-agent"], role: "operator", at: 0).token
        var engines: [Engine] = []
        defer {
            for engine in engines where engine.process.isRunning {
                engine.process.terminate()
                engine.process.waitUntilExit()
            }
        }
        for index in 0..<configuration.engines { engines.append(try start(configuration, index: index, workflows: workflows)) }
        let clients = (0..<64).map { EventHTTPBenchmark.Client(base: "http://127.0.0.1:\(engines[$0 % engines.count].port)", token: token) }
        let body: JSONValue = ["template": .string(template), "input": ticket]

        // Phase A: every ticket submitted and driven to its checkpoint.
        let cpuBefore = engines.reduce(0) { $0 + $1.cpuSeconds }
        let started = nowNanoseconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    for _ in stride(from: index, to: n, by: clients.count) { _ = try await client.send("POST", "/v1/instances", body) }
                }
            }
            try await group.waitForAll()
        }
        while true {
            let counts = try await store.countByStatus()
            if counts[.waiting, default: 0] >= n { break }
            if let failed = counts[.failed], failed > 0 {
                throw BenchError("\(failed) instances failed on \(configuration.name) (STEWARD_MODEL_DIR and STEWARD_KB_ARTICLES set?)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let seconds = Double(nowNanoseconds() - started) / 1e9
        let cpu = engines.reduce(0) { $0 + $1.cpuSeconds } - cpuBefore
        let sample = try await store.instances(InstanceQuery(limit: 1))
        let stepsPerInstance = try await store.history(of: sample[0].id).filter { $0.kind == "step_succeeded" }.count
        let steps = Double(n * stepsPerInstance)

        // Phase B: decide -> the next step committed, one at a time, each through the next engine.
        var committed: [Double] = []
        var nextStep: [Double] = []
        let tasks = try await store.openTasks(credentials: nil, limit: decisions)
        for (index, task) in tasks.enumerated() {
            let client = clients[index % engines.count]
            let start = nowNanoseconds()
            _ = try await client.send("POST", "/v1/tasks/\(task.id)/decision", ["decision": "approve"])
            committed.append(Double(nowNanoseconds() - start) / 1e6)
            let decidedAt = try await client.send("GET", "/v1/instances/\(task.instanceID)", nil)["sequence"]?.integerValue ?? 0
            while true {
                let shown = try await client.send("GET", "/v1/instances/\(task.instanceID)", nil)
                if (shown["sequence"]?.integerValue ?? 0) > decidedAt || shown["status"]?.stringValue == "completed" { break }
            }
            nextStep.append(Double(nowNanoseconds() - start) / 1e6)
        }
        committed.sort()
        nextStep.sort()
        var result: [String: JSONValue] = [
            "name": .string(configuration.name), "engines": .int(configuration.engines),
            "backend": .string(configuration.store.hasPrefix("postgres") ? "postgresql" : "sqlite"),
            "instances_per_second": .number(Double(n) / seconds), "steps_per_second": .number(steps / seconds),
            "steps_per_instance": .int(stepsPerInstance), "cpu_us_per_step": .number(cpu * 1e6 / steps), "seconds": .number(seconds),
            "decide_to_committed_ms_p50": .number(percentile(committed, 50)), "decide_to_committed_ms_p99": .number(percentile(committed, 99)),
            "decide_to_next_step_ms_p50": .number(percentile(nextStep, 50)), "decide_to_next_step_ms_p99": .number(percentile(nextStep, 99)),
        ]
        if configuration.engines >= 2, store is any LeaseStore {
            result["takeover"] = try await takeover(engines: engines, clients: clients, body: body, store: store)
        }
        return .object(result)
    }

    /// A burst to engine 0, which is killed while its instances run; then how long until each
    /// instance it left running committed its next event on another engine.
    func takeover(engines: [Engine], clients: [EventHTTPBenchmark.Client], body: JSONValue, store: any EngineStore) async throws -> JSONValue {
        let victim = EventHTTPBenchmark.Client(base: "http://127.0.0.1:\(engines[0].port)", token: clients[0].token)
        let burst = max(200, n / 10)
        var ids: [String] = []
        try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<burst { group.addTask { try await victim.send("POST", "/v1/instances", body)["id"]?.stringValue } }
            for try await id in group { if let id { ids.append(id) } }
        }
        let before = try await store.countByStatus()[.running, default: 0]
        kill(engines[0].process.processIdentifier, SIGKILL)
        engines[0].process.waitUntilExit()
        let killedAt = SystemEngineClock().nowMilliseconds()
        var left: [String] = []
        for id in ids where try await store.instance(id: id)?.status == .running { left.append(id) }
        // Wait for the survivors to finish the work (at most a minute past the lease).
        let giveUp = nowNanoseconds() + UInt64((leaseSeconds + 60) * 1e9)
        while try await store.countByStatus()[.running, default: 0] > 0, nowNanoseconds() < giveUp { try await Task.sleep(for: .milliseconds(20)) }
        var delays: [Double] = []
        for id in left {
            if let resumed = try await store.history(of: id).first(where: { $0.at > killedAt }) { delays.append(Double(resumed.at - killedAt)) }
        }
        delays.sort()
        return [
            "instances_left_running": .int(left.count), "resumed": .int(delays.count), "running_before_kill": .int(before),
            "kill_to_resumed_ms_p50": .number(percentile(delays, 50)), "kill_to_resumed_ms_p99": .number(percentile(delays, 99)),
            "note": "a lease lapses at most lease_seconds after the kill (the last heartbeat was earlier), so kill->resumed minus the lease bounds lease expiry->resumed from above",
        ]
    }
}
