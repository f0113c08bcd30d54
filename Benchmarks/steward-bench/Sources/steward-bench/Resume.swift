import StewardCore
import StewardEngine
import StewardJSON
import StewardReview
import Synchronization

/// The monotonic time at which something last happened (0 = not yet).
final class Stamp: Sendable {
    private let value = Atomic<UInt64>(0)
    func mark() { value.store(nowNanoseconds(), ordering: .sequentiallyConsistent) }
    func take() -> UInt64 { value.exchange(0, ordering: .sequentiallyConsistent) }
}

/// The real plugins, plus a timestamp taken the moment `support.send_reply` returns.
struct TimingInvoker: StepInvoker {
    let base: any StepInvoker
    let stepRan: Stamp

    func invoke(_ invocation: StepInvocation) async throws(StepFailure) -> JSONValue {
        let output = try await base.invoke(invocation)
        if invocation.step == "support.send_reply" { stepRan.mark() }
        return output
    }
}

/// Resume latency: for instances waiting at review_reply, one at a time, the time from the
/// decision being accepted (its transition committed: WAL fsynced) to the next step
/// (`respond`, support.send_reply) having run; and from the decide call to the same point.
/// The store runs with synchronous=FULL, as documented for the engine.
struct ResumeBenchmark {
    let samples: Int
    let plugins: String
    let template: String
    let input: String
    let database: String
    let libraries: String?

    func run() async throws -> JSONValue {
        let stepRan = Stamp()
        let setup = try await Setup(plugins: plugins, libraries: libraries, template: template, input: input, database: database) { pooled in
            TimingInvoker(base: pooled, stepRan: stepRan)
        }
        try await setup.submitAll(count: samples, concurrency: 64)
        let accepted = Stamp()
        var acceptedToStep: [Double] = []
        var callToStep: [Double] = []
        var callToReturn: [Double] = []
        for index in 0..<samples {
            let decision = CheckpointDecision(state: "review_reply", decision: .approve, reviewer: "rv-bench", credential: "support-agent")
            let start = nowNanoseconds()
            let state = try await setup.engine.decide(instance: Setup.instanceID(index), decision) { record in
                if case .checkpointDecided = record.event { accepted.mark() }
            }
            let end = nowNanoseconds()
            let acceptedAt = accepted.take(), ranAt = stepRan.take()
            guard state.status == .completed, acceptedAt > 0, ranAt > acceptedAt else {
                throw BenchError("sample \(index): status \(state.status.rawValue), accepted \(acceptedAt), step ran \(ranAt)")
            }
            acceptedToStep.append(Double(ranAt - acceptedAt) / 1e6)
            callToStep.append(Double(ranAt - start) / 1e6)
            callToReturn.append(Double(end - start) / 1e6)
        }
        return [
            "samples": .int(samples),
            "accepted_to_step_ran_ms": summary(acceptedToStep),
            "decide_call_to_step_ran_ms": summary(callToStep),
            "decide_call_to_return_ms": summary(callToReturn),
        ]
    }

    func summary(_ values: [Double]) -> JSONValue {
        let sorted = values.sorted()
        return [
            "p50": .number(percentile(sorted, 50), places: 4), "p90": .number(percentile(sorted, 90), places: 4),
            "p99": .number(percentile(sorted, 99), places: 4), "max": .number(sorted.last ?? .nan, places: 4),
        ]
    }
}
