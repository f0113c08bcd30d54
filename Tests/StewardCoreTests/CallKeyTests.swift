import StewardCore
import StewardJSON
import StewardTemplates
import StewardTesting
import Testing

/// The key of a logical step call stays the same across the retries of one visit of a state
/// (and across a restart, which replays the same events), and changes with the next visit.
@Suite struct CallKeyTests {
    @Test func retriesKeepTheCallKeyWhileTheIdempotencyKeyChanges() throws {
        let plan = try Plans.linear()
        let results = try run(plan, [
            .started(input: ["id": 7]),
            .stepFailed(state: "fetch", attempt: 1, kind: .transient, message: "busy"),
            .stepFailed(state: "fetch", attempt: 2, kind: .transient, message: "busy"),
        ])
        let calls = results.flatMap { invocations($0.effects) }
        #expect(calls.map(\.idempotencyKey) == ["inst-1/fetch/1", "inst-1/fetch/2", "inst-1/fetch/3"])
        #expect(Set(calls.map(\.callKey)) == ["inst-1/fetch/1"], "one logical call: \(calls.map(\.callKey))")
        // Replaying the same events (recovery) gives the same key.
        let replayed = try state(after: [.started(input: ["id": 7])], in: plan)
        #expect(replayed.callKey == "inst-1/fetch/1")
    }

    @Test func aLoopBackToAStateIsANewCall() throws {
        let plan = try TestPlans.plan(
            """
            plugins: [demo]
            states:
              ask: {kind: step, step: demo.ask, input: input, output: answer, next: again}
              again:
                kind: choice
                choices:
                  - when: answer.more == true
                    next: ask
                otherwise: done
              done: {kind: end}
            """)
        let results = try run(plan, [
            .started(input: [:]),
            .stepSucceeded(state: "ask", attempt: 1, output: ["more": true]),
            .stepSucceeded(state: "ask", attempt: 1, output: ["more": false]),
        ])
        let keys = results.flatMap { invocations($0.effects) }.map(\.callKey)
        #expect(keys == ["inst-1/ask/1", "inst-1/ask/2"], "each visit of 'ask' is its own call: \(keys)")
        #expect(results.last?.state.status == .completed)
    }
}
