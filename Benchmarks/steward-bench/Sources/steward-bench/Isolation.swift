import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardPlugins
import StewardReview

/// What process isolation costs and what it contains (issue 13), in one run:
/// - `round_trip`: one call of `bench.noop` and of a ~300-byte `bench.echo`, in process and in a
///   host process, timed call by call (p50, p99, mean), rounds taking turns;
/// - `triage`: the triage workflow with every plugin in process and then in host processes
///   (same N, concurrency, store settings), steps/s and the ratio;
/// - `chaos`: a batch whose step segfaults on a share of calls and hangs on another, in a host
///   process under the state's timeout and retry policy: how every instance ended, the host
///   restarts, and that this process (the engine) is still the one that started.
struct IsolationBenchmark {
    let benchPlugin: String
    let faultsPlugin: String
    let plugins: String
    let libraries: String?
    let template: String
    let input: String
    let scratch: String
    let calls: Int
    let triageN: Int
    let chaosN: Int

    func run() async throws -> JSONValue {
        guard let host = IsolationEnvironment.locateHost() else { throw BenchError("steward-plugin-host is not beside steward-bench (build it: run.sh does)") }
        let environment = IsolationEnvironment(hostExecutable: host, stateDirectory: scratch + "/plugin-hosts")
        let roundTrip = try roundTrips(environment)
        let triage = try await triageBothWays()
        let chaos = try await chaosRun()
        return ["round_trip": roundTrip, "triage": triage, "chaos": chaos]
    }

    /// Per-call times of both steps in both modes, three rounds each, taking turns.
    func roundTrips(_ environment: IsolationEnvironment) throws -> JSONValue {
        let local = try PluginLoader.load(path: benchPlugin)
        let isolated = try PluginLoader.load(path: benchPlugin, isolation: IsolationSettings(mode: .process, hosts: 1, channels: 1), environment: environment)
        defer { isolated.isolated?.stop() }
        var result: [String: JSONValue] = [:]
        for (label, stepName, input) in [("noop", "bench.noop", JSONValue.emptyObject), ("json_300b", "bench.echo", PluginCallBenchmark.payload300)] {
            let bytes = input.jsonBytes
            var samples: [String: [Double]] = ["in_process": [], "process": []]
            for _ in 0..<3 {
                for (mode, plugin) in [("in_process", local), ("process", isolated)] {
                    guard let step = plugin.steps.first(where: { $0.fullName == stepName }) else { throw BenchError("\(stepName) missing") }
                    samples[mode, default: []] += try time(step, input: bytes, count: calls / 3)
                }
            }
            var figures: [String: JSONValue] = [:]
            for (mode, values) in samples {
                let sorted = values.sorted()
                figures[mode] = [
                    "calls": .int(sorted.count), "p50_us": .number(percentile(sorted, 0.5) / 1_000, places: 2),
                    "p99_us": .number(percentile(sorted, 0.99) / 1_000, places: 2),
                    "mean_us": .number(sorted.reduce(0, +) / Double(max(1, sorted.count)) / 1_000, places: 2),
                ]
            }
            let inProcess = percentile(samples["in_process"]!.sorted(), 0.5), process = percentile(samples["process"]!.sorted(), 0.5)
            figures["process_minus_in_process_p50_us"] = .number((process - inProcess) / 1_000, places: 2)
            figures["ratio_p50"] = .number(process / max(inProcess, 1), places: 1)
            result[label] = .object(figures)
        }
        result["bytes_per_300b_payload"] = .int(PluginCallBenchmark.payload300.jsonBytes.count)
        return .object(result)
    }

    /// Nanoseconds of each of `count` calls (after 200 unrecorded ones).
    func time(_ step: PluginStep, input: [UInt8], count: Int) throws -> [Double] {
        var samples: [Double] = []
        samples.reserveCapacity(count)
        try input.withUnsafeBytes { inputBuffer in
            let config = UnsafeRawBufferPointer(start: nil, count: 0)
            for index in 0..<(count + 200) {
                let start = nowNanoseconds()
                blackHole(try step.callRaw(input: inputBuffer, config: config, idempotencyKey: "bench/step/1", attempt: 1))
                let elapsed = Double(nowNanoseconds() - start)
                if index >= 200 { samples.append(elapsed) }
            }
        }
        return samples
    }

    /// The triage workflow, every plugin in process, then every plugin in host processes.
    func triageBothWays() async throws -> JSONValue {
        var runs: [String: JSONValue] = [:]
        var rates: [String: Double] = [:]
        for (mode, settings) in [("in_process", IsolationSettings?.none), ("process", IsolationSettings(mode: .process))] {
            let database = scratch + "/triage-\(mode).db"
            let setup = try await Setup(
                plugins: plugins, libraries: libraries, template: template, input: input, database: database, everyPlugin: settings)
            let start = nowNanoseconds()
            try await setup.submitAll(count: triageN, concurrency: 64)
            let desk = ReviewDesk(engine: setup.engine)
            let (reviewer, _) = try await setup.store.addReviewer(name: "Bench Agent", credentials: ["support-agent"], at: 0)
            let tasks = try await setup.store.openTasks(credentials: ["support-agent"], limit: triageN).map(\.id)
            try await forEachConcurrently(count: tasks.count, concurrency: 64) { index in
                let state = try await desk.decide(task: tasks[index], by: reviewer, decision: .approve)
                guard state.status == .completed else { throw BenchError("instance \(state.id) ended \(state.status.rawValue)") }
            }
            let seconds = secondsSince(start)
            let isolatedCount = setup.registry.plugins.filter { $0.isolated != nil }.count
            setup.assembly.stopPlugins(grace: 5)
            let steps = Double(5 * triageN)
            rates[mode] = steps / seconds
            runs[mode] = [
                "n": .int(triageN), "seconds": .number(seconds), "steps_per_s": .number(steps / seconds, places: 1),
                "plugins_isolated": .int(isolatedCount), "plugins": .int(setup.registry.plugins.count),
            ]
            for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) }
        }
        runs["in_process_over_process_steps_per_s"] = .number((rates["in_process"] ?? 0) / max(rates["process"] ?? 1, 1e-9), places: 2)
        return .object(runs)
    }

    /// `chaosN` instances of one step that segfaults on 1% and hangs on 0.5% of its calls
    /// (drawn from the call's key), timeout 500 ms, four attempts.
    func chaosRun() async throws -> JSONValue {
        let root = URL(fileURLWithPath: scratch).appendingPathComponent("chaos")
        let workflows = root.appendingPathComponent("workflows")
        let pluginDirectory = root.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: pluginDirectory, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: pluginDirectory.appendingPathComponent("libfaults.so"))
        try FileManager.default.copyItem(atPath: faultsPlugin, toPath: pluginDirectory.appendingPathComponent("libfaults.so").path)
        try "plugins:\n  faults: {isolation: process, hosts: 1, channels: 16, quarantine_after: 100000}\n"
            .write(to: workflows.appendingPathComponent("plugins.yaml"), atomically: true, encoding: .utf8)
        try """
            template: chaos
            version: 1.0.0
            vertical: testing
            aop:
              domain: A step that crashes and hangs on a share of its calls.
              inputs: [rates]
              outputs: [nothing]
              human_touchpoints: [none]
              failure_modes: [segfaults, hangs]
              escalation_target: operator
              may: [fail]
              may_not: [take the engine down]
            plugins: [faults]
            states:
              risky:
                kind: step
                step: faults.chaos
                input: input
                output: result
                timeout_ms: 500
                retry: {max_attempts: 4, initial_backoff_ms: 10, max_backoff_ms: 100}
                next: done
              done: {kind: end}
            """.write(to: workflows.appendingPathComponent("chaos.yaml"), atomically: true, encoding: .utf8)
        let database = root.appendingPathComponent("chaos.db").path
        for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) }
        let assembly = try await EngineAssembly.assemble(EngineOptions(
            workspace: Workspace(root: root), workflows: workflows.path, database: database, pluginDirectories: [pluginDirectory.path],
            buildPlugins: false, pluginThreads: 32))
        let pid = getpid()
        let input: JSONValue = ["crash_per_mille": 10, "hang_per_mille": 5]
        let start = nowNanoseconds()
        try await forEachConcurrently(count: chaosN, concurrency: 32) { index in
            _ = try await assembly.engine.submit(template: "chaos", input: input, id: "chaos-\(index)")
        }
        let seconds = secondsSince(start)
        let counts = try await assembly.store.countByStatus()
        var crashed = 0, timedOut = 0, collateral = 0
        for index in 0..<chaosN {
            for event in try await assembly.store.history(of: "chaos-\(index)") where event.kind == "step_failed" {
                let text = event.payload.jsonString
                if text.contains("another call on it") { collateral += 1 } else if text.contains("SIGSEGV") { crashed += 1 } else if text.contains("timed out") { timedOut += 1 }
            }
        }
        let status = assembly.registry.plugins.first { $0.name == "faults" }?.isolated?.status
        assembly.stopPlugins(grace: 2)
        let ended = counts.filter { $0.key != .running }.values.reduce(0, +)
        return [
            "instances": .int(chaosN), "seconds": .number(seconds),
            "completed": .int(counts[.completed, default: 0]), "failed": .int(counts[.failed, default: 0]), "still_running": .int(counts[.running, default: 0]),
            "every_instance_ended": .bool(ended == chaosN), "engine_pid_unchanged": .bool(getpid() == pid),
            "attempts_failed_by_a_host_crash": .int(crashed), "attempts_timed_out": .int(timedOut), "attempts_failed_beside_a_crash_or_hang": .int(collateral),
            "host_restarts": .int(status?.restarts ?? 0), "host_crashes": .int(status?.crashes ?? 0),
        ]
    }
}
