import Foundation
import StewardCore
import StewardEngine
import StewardJSON
import Testing

/// `GET /v1/instances/{id}` answers with the instance as it is now — its last snapshot with
/// the events committed after it replayed — the same state `steward instances show` prints.
@Suite struct CurrentStateTests {
    @Test func aRunningInstanceShowsTheEventsAfterItsSnapshot() async throws {
        let harness = try await ServerHarness.start()
        let engine = harness.server.environment.engine
        // Started, never driven: a running instance whose snapshot is its creation.
        let started = try await engine.submit(
            template: ServerHarness.triage, input: try ServerHarness.ticket(1), id: "running-1", drive: false)
        try #require(started.status == .running)
        // One step performed and committed, as the engine would, while it keeps running.
        let (plan, config) = try await engine.planAndConfig(for: started)
        guard case .runStep(let invocation)? = Transition.pendingEffects(of: started, plan: plan, config: config).first else {
            Issue.record("the started instance owes no step")
            return
        }
        let output = try await engine.invoker.invoke(invocation)
        let event = Event.stepSucceeded(state: invocation.state, attempt: invocation.attempt, output: output)
        let next = try Transition.apply(event, to: started, plan: plan, config: config)
        try #require(next.state.status == .running && next.state.current != started.current)
        try await harness.store.commit(InstanceCommit(state: next.state, event: event, actor: "engine", at: 1))

        let snapshot = try #require(try await harness.store.instance(id: "running-1"))
        #expect(snapshot.sequence == 1 && snapshot.current == started.current, "the stored snapshot is still the creation")
        let reply = try await harness.send("GET", "/v1/instances/running-1", token: harness.operatorToken)
        #expect(reply.status == 200)
        #expect(reply.json["state"] == .string(next.state.current), "\(reply.text)")
        #expect(reply.json["sequence"] == 2)
        #expect(reply.json["data"] == next.state.data, "the step's output is in the data")
        #expect(reply.json["history"]?.arrayValue?.count == 2)
        try await harness.stop()
    }
}
