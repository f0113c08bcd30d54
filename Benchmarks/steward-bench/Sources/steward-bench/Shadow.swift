import Foundation
import StewardEngine
import StewardJSON

/// The overhead of a migration in shadow: N triage tickets for one customer submitted to the
/// review checkpoint twice in one run, on two fresh stores: first with no migration, then with
/// a shadow route that calls the candidate classifier beside the served one on every ticket.
/// Reports both throughputs, the ratio, and the time until every shadow call was recorded.
struct ShadowBenchmark {
    let n: Int
    let concurrency: Int
    let plugins: String
    let template: String
    let input: String
    let database: String
    let libraries: String?
    let customer: String
    let candidate: String

    func pass(shadow: Bool) async throws -> (seconds: Double, drained: Double, observations: Int) {
        let setup = try await Setup(
            plugins: plugins, libraries: libraries, template: template, input: input, database: database + (shadow ? "-shadow" : "-base"))
        if shadow {
            setup.engine.routes?.replace(with: [BindingRoute(
                migration: "bench-shadow", template: setup.plan.name, customer: customer, role: "classifier", candidate: candidate, share: 0, shadow: true)])
        }
        let engine = setup.engine, plan = setup.plan, input = setup.input, customer = self.customer
        let start = nowNanoseconds()
        try await forEachConcurrently(count: n, concurrency: concurrency) { index in
            let state = try await engine.submit(template: plan.name, version: plan.version, customer: customer, input: input, id: Setup.instanceID(index))
            guard state.status == .waiting else { throw BenchError("instance \(state.id) is \(state.status.rawValue), expected waiting") }
        }
        let seconds = secondsSince(start)
        await engine.drainShadowCalls()
        let drained = secondsSince(start)
        let observations = try await setup.store.shadowObservations(migration: "bench-shadow", customer: customer, since: 0).count
        return (seconds, drained, observations)
    }

    func run() async throws -> JSONValue {
        let base = try await pass(shadow: false)
        let shadowed = try await pass(shadow: true)
        guard shadowed.observations == n else { throw BenchError("expected \(n) shadow observations, found \(shadowed.observations)") }
        return [
            "n": .int(n), "concurrency": .int(concurrency), "customer": .string(customer), "candidate": .string(candidate),
            "without_shadow": ["seconds": .number(base.seconds), "instances_per_s": .number(Double(n) / base.seconds, places: 1)],
            "with_shadow": [
                "seconds": .number(shadowed.seconds), "instances_per_s": .number(Double(n) / shadowed.seconds, places: 1),
                "seconds_until_every_shadow_call_recorded": .number(shadowed.drained), "observations": .int(shadowed.observations),
            ],
            "throughput_ratio_with_to_without": .number(base.seconds / shadowed.seconds, places: 3),
        ]
    }
}
