import Foundation
import StewardCore
import StewardEngine
import StewardJSON

#if canImport(Glibc)
import Glibc
#endif

/// Waiting at scale: N instances parked in `wait` and `event` states (half each), their memory
/// and disk; then `timers` of them whose `wait` comes due together, fired by `TimerService` in
/// two halves side by side: one instance at a time (how it fired before this benchmark) and 64
/// at once (its default now) — fired/s, the ratio, and lateness (when each firing committed
/// minus the moment firing began);
/// then `events` deliveries to instances waiting at an event state (in process, `Engine.deliver`
/// → its transition committed, one at a time: p50/p99). The template is written to `scratch`.
struct WaitsBenchmark {
    let n: Int
    let timers: Int
    let events: Int
    let plugins: String
    let scratch: String
    let concurrency: Int

    static let template = """
        template: bench-waits
        version: 1.0.0
        vertical: benchmarks
        description: Parks instances in wait and event states.
        aop:
          domain: Benchmarks.
          inputs: [A kind, a due time, a key.]
          outputs: [Nothing.]
          human_touchpoints: [none]
          failure_modes: [none]
          escalation_target: bench
          may: [Wait.]
          may_not: [Anything else.]
        plugins: []
        start: route
        states:
          route:
            kind: choice
            choices:
              - {when: 'input.kind == "event"', next: listen}
            otherwise: pause
          pause:
            kind: wait
            until: input.due
            next: done
          listen:
            kind: event
            event: ping
            payload: {n: integer}
            correlate: input.key
            next: done
          done: {kind: end, status: completed}
        """

    func run() async throws -> JSONValue {
        let workflows = URL(fileURLWithPath: scratch).appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        let file = workflows.appendingPathComponent("bench-waits.yaml").path
        try Self.template.write(toFile: file, atomically: true, encoding: .utf8)
        let database = URL(fileURLWithPath: scratch).appendingPathComponent("waits.db").path
        // A missing ticket input is not needed: Setup reads it only to hand it back.
        let inputFile = URL(fileURLWithPath: scratch).appendingPathComponent("input.json").path
        try "{}".write(toFile: inputFile, atomically: true, encoding: .utf8)
        let setup = try await Setup(plugins: plugins, template: file, input: inputFile, database: database)
        let engine = setup.engine, plan = setup.plan
        let rssBefore = processStatusBytes("VmRSS") ?? 0
        let far: Int64 = 4_102_444_800_000  // 2100-01-01: parked instances never come due here
        let dueAt = engine.clock.nowMilliseconds() + 3_600_000  // the timed group's instant, fired "later" below

        // Phase 1: park N instances, half waiting for time, half for an event.
        let start = nowNanoseconds()
        try await forEachConcurrently(count: n, concurrency: concurrency) { index in
            let kind = index % 2 == 0 ? "wait" : "event"
            // The timed group: the first half due at `dueAt`, the second a minute later.
            let due = index < timers * 2 && kind == "wait" ? (index < timers ? dueAt : dueAt + 60_000) : far
            let state = try await engine.submit(
                template: plan.name, version: plan.version,
                input: ["kind": .string(kind), "due": .integer(due), "key": .string("k-\(index)")], id: Setup.instanceID(index))
            guard state.status == .waiting else { throw BenchError("\(state.id) is \(state.status.rawValue), expected waiting") }
        }
        let parkSeconds = secondsSince(start)
        let waiting = try await setup.count("SELECT count(*) FROM instances WHERE status = 'waiting'")
        guard waiting == n else { throw BenchError("\(waiting) waiting, expected \(n)") }
        let rssWaiting = processStatusBytes("VmRSS") ?? 0
        let peak = processStatusBytes("VmHWM") ?? 0
        let dbBytes = fileSize(database) + fileSize(database + "-wal")

        // Phase 2: the timed group comes due together; fire them as `steward serve` does. The
        // due instant is set ahead so nothing fires early; the batch counts as due when firing
        // begins, so each timer's lateness is its commit time minus that moment (what a tick
        // adds on top is its interval).
        let timed = min(timers, (n + 1) / 2)
        func fire(due: Int64, concurrency: Int) async throws -> (count: Int, seconds: Double, lateness: [Double]) {
            let batchStart = engine.clock.nowMilliseconds()
            let fireStart = nowNanoseconds()
            let fired = try await TimerService(engine: engine, concurrency: concurrency).fireDue(now: due)
            let seconds = secondsSince(fireStart)
            var lateness: [Double] = []
            for timer in fired {
                if let entry = try await setup.store.history(of: timer.instanceID).last(where: { $0.kind == "timer_fired" }) {
                    lateness.append(Double(entry.at - batchStart))
                }
            }
            return (fired.count, seconds, lateness.sorted())
        }
        let sequential = try await fire(due: dueAt, concurrency: 1)
        let concurrent = try await fire(due: dueAt + 60_000, concurrency: 64)
        guard sequential.count + concurrent.count == timed else {
            throw BenchError("fired \(sequential.count) + \(concurrent.count) timers, expected \(timed)")
        }
        func timersJSON(_ run: (count: Int, seconds: Double, lateness: [Double]), _ concurrency: Int) -> JSONValue {
            [
                "instances_at_once": .int(concurrency), "due_together": .int(run.count), "seconds": .number(run.seconds),
                "fired_per_s": .number(Double(run.count) / run.seconds, places: 1),
                "lateness_ms_p50": .number(percentile(run.lateness, 50), places: 1), "lateness_ms_p99": .number(percentile(run.lateness, 99), places: 1),
            ]
        }

        // Phase 3: events, one at a time, to instances waiting at the event state.
        var latencies: [Double] = []
        for index in 0..<min(events, n / 2) {
            let id = Setup.instanceID(index * 2 + 1)
            let begin = nowNanoseconds()
            let state = try await engine.deliver(EventDelivery(name: "ping", payload: ["n": .integer(Int64(index))], by: "bench"), to: id)
            latencies.append(Double(nowNanoseconds() - begin) / 1e6)
            guard state.status == .completed else { throw BenchError("\(id) is \(state.status.rawValue) after its event") }
        }
        latencies.sort()
        return [
            "n_waiting": .int(n), "concurrency": .int(concurrency),
            "park": ["seconds": .number(parkSeconds), "instances_per_s": .number(Double(n) / parkSeconds, places: 1)],
            "memory": [
                "rss_before_bytes": .int(rssBefore), "rss_with_n_waiting_bytes": .int(rssWaiting), "peak_rss_bytes": .int(peak),
            ],
            "disk": ["database_bytes": .int(dbBytes), "bytes_per_waiting_instance": .number(Double(dbBytes) / Double(n), places: 0)],
            "timers": [
                "one_at_a_time": timersJSON(sequential, 1), "concurrent": timersJSON(concurrent, 64),
                "fired_per_s_ratio_concurrent_to_one_at_a_time": .number(
                    (Double(concurrent.count) / concurrent.seconds) / (Double(sequential.count) / sequential.seconds), places: 2),
            ],
            "events": [
                "delivered": .int(latencies.count), "deliver_to_committed_ms_p50": .number(percentile(latencies, 50)),
                "deliver_to_committed_ms_p99": .number(percentile(latencies, 99)),
            ],
        ]
    }
}
