import Foundation
import StewardJSON
@_spi(Benchmarks) import StewardStoreSQLite

#if canImport(Glibc)
import Glibc
#endif

/// The engine's own overhead against the physical limit (issue 16): a workflow of ten no-op C
/// steps (`bench.noop`, or `bench.echo` of a 1 KiB input for the payload variant), durable on
/// SQLite (WAL, synchronous=FULL, group commit), `concurrency` instances in flight; then, in
/// the same run, `raw-insert` writes the same journal and instance rows (the sizes the engine
/// stored, its transitions per write transaction) straight through SQLite. Prints
/// transitions/s, CPU µs and heap allocations per transition (the latter when the process
/// runs with `malloc-count.so` preloaded) and the ratio engine/raw, per variant.
struct OverheadBenchmark {
    let n: Int
    let concurrency: Int
    let plugins: String
    let scratch: String
    let raw: String
    let payloads: [Int]
    let rounds: Int

    static func template(payload: Int) -> String {
        let step = payload > 0 ? "bench.echo" : "bench.noop"
        // Typed: with GRDB in scope an untyped interpolation here builds GRDB's SQL literal.
        let states: String = (1...10).map { index -> String in
            let next = index == 10 ? "done" : "s\(index + 1)"
            return "  s\(index): {kind: step, step: \(step), input: input, output: r\(index), next: \(next)}"
        }.joined(separator: "\n")
        return """
            template: engine-overhead
            version: 1.0.0
            vertical: benchmarks
            description: Ten no-op steps, to measure what the engine itself costs per transition.
            aop:
              domain: Benchmarks.
              inputs: [A pad of bytes (or nothing).]
              outputs: [Nothing.]
              human_touchpoints: [none]
              failure_modes: [none]
              escalation_target: bench
              may: [Call no-op steps.]
              may_not: [Anything else.]
            plugins: [bench]
            start: s1
            states:
            \(states)
              done: {kind: end, status: completed}
            """
    }

    func run() async throws -> JSONValue {
        var variants: [String: JSONValue] = [:]
        for payload in payloads {
            var engineRounds: [JSONValue] = [], rawRounds: [JSONValue] = []
            // Engine and raw inserts take turns, so a neighbour's load falls on both.
            for round in 0..<rounds {
                let engine = try await runEngine(payload: payload, round: round)
                let raw = try runRaw(engine: engine, round: round)
                engineRounds.append(engine)
                rawRounds.append(raw)
            }
            let engineRates = engineRounds.compactMap { $0["transitions_per_s"]?.doubleValue }
            let rawRates = rawRounds.compactMap { $0["transitions_per_s"]?.doubleValue }
            let ratios = zip(engineRates, rawRates).map { $0 / $1 }
            variants[payload > 0 ? "payload_\(payload)" : "noop"] = [
                "engine": .array(engineRounds), "raw_sqlite": .array(rawRounds),
                "engine_transitions_per_s_median": .number(median(engineRates), places: 1),
                "raw_transitions_per_s_median": .number(median(rawRates), places: 1),
                "engine_over_raw_median": .number(median(ratios), places: 3),
                "engine_over_raw_spread": .array([.number(ratios.min() ?? 0, places: 3), .number(ratios.max() ?? 0, places: 3)]),
                "cpu_us_per_transition_median": .number(median(engineRounds.compactMap { $0["cpu_us_per_transition"]?.doubleValue }), places: 2),
                "target_transitions_per_s": 50_000, "target_engine_over_raw": 0.25,
            ]
        }
        return ["n": .integer(Int64(n)), "concurrency": .integer(Int64(concurrency)), "rounds": .integer(Int64(rounds)), "variants": .object(variants)]
    }

    /// One engine run on a fresh database: N instances of the ten-step workflow to completion.
    func runEngine(payload: Int, round: Int) async throws -> JSONValue {
        let folder = URL(fileURLWithPath: scratch).appendingPathComponent("overhead-\(payload)-\(round)")
        let workflows = folder.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = workflows.appendingPathComponent("engine-overhead.yaml").path
        try Self.template(payload: payload).write(toFile: file, atomically: true, encoding: .utf8)
        // Letters from a fixed generator: a pad that deflates like text, not like one repeated byte.
        var seed: UInt64 = 42
        let pad = String((0..<payload).map { _ -> Character in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8((seed >> 59) % 26)))
        })
        let inputFile = folder.appendingPathComponent("input.json").path
        try (payload > 0 ? JSONValue.object(["pad": .string(pad)]) : JSONValue.object([:])).jsonString
            .write(toFile: inputFile, atomically: true, encoding: .utf8)
        let database = folder.appendingPathComponent("overhead.db").path
        let setup = try await Setup(plugins: plugins, template: file, input: inputFile, database: database, observeCommits: false)
        let engine = setup.engine, plan = setup.plan, input = setup.input

        let commitsBefore = setup.store.committedTransactions
        let allocationsBefore = MallocCounter.count
        let cpuBefore = processCPUSeconds()
        let start = nowNanoseconds()
        try await forEachConcurrently(count: n, concurrency: concurrency) { index in
            let state = try await engine.submit(template: plan.name, version: plan.version, input: input, id: Setup.instanceID(index))
            guard state.status == .completed else { throw BenchError("instance \(state.id) ended \(state.status.rawValue) at \(state.current)") }
        }
        let seconds = secondsSince(start)
        let cpu = processCPUSeconds() - cpuBefore
        let allocations = MallocCounter.count.map { $0 - (allocationsBefore ?? 0) }
        let commits = setup.store.committedTransactions - commitsBefore
        let transitions = try await setup.count("SELECT count(*) FROM journal WHERE seq IS NOT NULL")
        let payloadBytes = try await setup.count("SELECT CAST(avg(length(payload)) AS INTEGER) FROM journal WHERE seq IS NOT NULL")
        let snapshotBytes = try await setup.count("SELECT CAST(avg(length(state)) AS INTEGER) FROM instances")
        let bytesPerInstance = try await setup.count(
            "SELECT CAST((sum(length(payload)) + 32 * count(*)) / \(n) AS INTEGER) FROM journal WHERE seq IS NOT NULL")
        let result: [String: JSONValue] = [
            "transitions": .integer(Int64(transitions)), "seconds": .number(seconds, places: 4),
            "transitions_per_s": .number(Double(transitions) / seconds, places: 1),
            "cpu_us_per_transition": .number(cpu * 1e6 / Double(transitions), places: 2),
            "write_transactions": .integer(Int64(commits)),
            "transitions_per_write_transaction": .number(Double(transitions) / Double(max(commits, 1)), places: 2),
            "stored_payload_bytes_avg": .integer(Int64(payloadBytes)), "stored_snapshot_bytes_avg": .integer(Int64(snapshotBytes)),
            "journal_bytes_per_instance": .integer(Int64(bytesPerInstance)),
            "allocations_per_transition": allocations.map { .number(Double($0) / Double(transitions), places: 1) } ?? .null,
        ]
        return .object(result)
    }

    /// The same rows through SQLite alone, by `raw-insert` (a separate process: no engine in it).
    func runRaw(engine: JSONValue, round: Int) throws -> JSONValue {
        guard let transitions = engine["transitions"]?.integerValue, let batch = engine["transitions_per_write_transaction"]?.doubleValue,
            let payload = engine["stored_payload_bytes_avg"]?.integerValue, let snapshot = engine["stored_snapshot_bytes_avg"]?.integerValue
        else { throw BenchError("the engine run reported no sizes") }
        let database = URL(fileURLWithPath: scratch).appendingPathComponent("raw-\(round).db").path
        defer { for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: raw)
        process.arguments = [
            "--db", database, "--instances", String(n), "--transitions-per-instance", String(transitions / Int64(n)),
            "--batch", String(max(1, Int(batch.rounded()))), "--payload", String(max(1, payload)), "--snapshot", String(max(1, snapshot)),
            "--inflight", String(concurrency),
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("raw-insert exited with \(process.terminationStatus)") }
        return try JSONValue.parse(Array(data))
    }
}

/// The allocation count of `malloc-count.so` when it is preloaded (nil otherwise).
enum MallocCounter {
    typealias Counter = @convention(c) () -> UInt64
    static let function: Counter? = {
        // nil: RTLD_DEFAULT, every object loaded in the process.
        guard let symbol = dlsym(nil, "stw_bench_allocations") else { return nil }
        return unsafeBitCast(symbol, to: Counter.self)
    }()

    static var count: Int? { function.map { Int($0()) } }
}

/// User plus system CPU time of this process so far, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
