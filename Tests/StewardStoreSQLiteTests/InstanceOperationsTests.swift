import Foundation
import StewardCore
import StewardEngine
import StewardJSON
import StewardReview
import StewardStoreSQLite
import StewardTemplates
import StewardTesting
import Testing

/// Operators cancel and retry instances: each is one journalled event with the actor, refused
/// with a conflict where it does not apply, and replay and `audit verify` stay correct.
@Suite struct InstanceOperationsTests {
    static let template = TestPlans.templateText(
        """
        plugins: [test]
        start: fetch
        states:
          fetch:
            kind: step
            step: test.fetch
            output: fetched
            retry: {max_attempts: 1}
            next: review
          review:
            kind: checkpoint
            credential: agent
            subject: fetched
            decisions: {approve: done}
          done: {kind: end}
        """)

    struct Fixture {
        let store: SQLiteStore
        let engine: Engine
        let directory: URL

        init(_ script: [String: [ScriptedStepInvoker.Answer]]) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-operations-\(UUID().uuidString)")
            store = try SQLiteStore(path: directory.appendingPathComponent("s.db").path)
            let plan = try Plan(validating: TemplateParser.parse(InstanceOperationsTests.template, file: "t.yaml"), catalog: nil)
            engine = Engine(
                store: store, plans: PlanLibrary([plan]), invoker: ScriptedStepInvoker(script), clock: ManualEngineClock(milliseconds: 1_000),
                sleeper: RecordingSleeper())
        }
    }

    @Test func cancellingAWaitingInstanceClosesItsTaskAndEndsIt() async throws {
        let fixture = try Fixture(["test.fetch": [.output(["n": 1])]])
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let waiting = try await fixture.engine.submit(template: "test-template", input: ["q": 1], id: "c1")
        #expect(waiting.status == .waiting)
        let task = try #require(try await fixture.store.openTasks(credentials: nil, limit: 10).first)

        await #expect(throws: EngineError.self, "a cancellation needs a reason") {
            _ = try await fixture.engine.cancel(instance: "c1", reason: "  ", by: "olu")
        }
        let cancelled = try await fixture.engine.cancel(instance: "c1", reason: "the customer withdrew the ticket", by: "olu")
        #expect(cancelled.status == .cancelled && cancelled.data["cancelled"]?["by"] == "olu", "\(cancelled)")
        #expect(try await fixture.store.task(id: task.id)?.status == "cancelled")
        #expect(try await fixture.store.openTasks(credentials: nil, limit: 10).isEmpty)
        let history = try await fixture.store.history(of: "c1")
        #expect(history.last?.kind == "cancelled" && history.last?.actor == "olu" && history.last?.payload["reason"] == "the customer withdrew the ticket")

        // Twice is a conflict, as is deciding the withdrawn task.
        do {
            _ = try await fixture.engine.cancel(instance: "c1", reason: "again", by: "olu")
            Issue.record("a cancelled instance was cancelled again")
        } catch let error as EngineError {
            #expect(error.isConflict, "\(error)")
        }
        do {
            _ = try await fixture.engine.decide(instance: "c1", CheckpointDecision(state: "review", decision: .approve, reviewer: "rv", credential: "agent"))
            Issue.record("a cancelled instance took a decision")
        } catch let error as EngineError {
            #expect(error.isConflict, "\(error)")
        }
        await #expect(throws: EngineError.self) { _ = try await fixture.engine.cancel(instance: "nope", reason: "x", by: "olu") }
        #expect(try await fixture.store.instances(InstanceQuery(status: .cancelled)).map(\.id) == ["c1"])
        #expect(try await Auditor(engine: fixture.engine).verify().problems.isEmpty)
    }

    @Test func retryingAFailedInstanceRunsItsStepAgain() async throws {
        // The first call fails for good, the second works.
        let fixture = try Fixture(["test.fetch": [.failure(.permanent, "the CRM refused the token"), .output(["n": 2])]])
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let failed = try await fixture.engine.submit(template: "test-template", input: ["q": 1], id: "r1")
        #expect(failed.status == .failed && failed.failure?.state == "fetch", "\(failed)")
        #expect(try await fixture.store.instances(InstanceQuery(status: .failed, state: "fetch")).map(\.id) == ["r1"])

        let retried = try await fixture.engine.retry(instance: "r1", by: "olu")
        #expect(retried.status == .waiting && retried.current == "review" && retried.failure == nil, "\(retried)")
        #expect(retried.data["fetched"]?["n"] == 2)
        let kinds = try await fixture.store.history(of: "r1").map(\.kind)
        let retriedAt = try #require(kinds.lastIndex(of: "retried"), "\(kinds)")
        #expect(kinds.dropFirst(retriedAt + 1).first == "step_succeeded", "the step ran again right after the retry: \(kinds)")

        // Only a failed instance is retried.
        do {
            _ = try await fixture.engine.retry(instance: "r1", by: "olu")
            Issue.record("a waiting instance was retried")
        } catch let error as EngineError {
            #expect(error.isConflict && error.description.contains("only a failed instance is retried"), "\(error)")
        }
        // A fresh engine replays the retried instance to what the store holds.
        let plan = try Plan(validating: TemplateParser.parse(Self.template, file: "t.yaml"), catalog: nil)
        let later = Engine(store: fixture.store, plans: PlanLibrary([plan]), invoker: ScriptedStepInvoker(), sleeper: RecordingSleeper())
        #expect(try await later.currentState(id: "r1") == retried)
        #expect(try await Auditor(engine: later).verify().problems.isEmpty)
    }

    @Test func aFailureWhereNothingIsCalledIsNotRetried() async throws {
        let plan = try TestPlans.plan(
            """
            plugins: []
            start: route
            states:
              route:
                kind: choice
                choices:
                  - {when: 'input.kind == "a"', next: done}
              done: {kind: end}
            """)
        var state = try StewardTesting.state(after: [.started(input: ["kind": "b"])], in: plan)
        #expect(state.status == .failed && state.failure?.kind == .noBranch)
        do {
            state = try Transition.apply(.retried(by: "olu"), to: state, plan: plan).state
            Issue.record("a failure at a choice was retried")
        } catch {
            #expect(error.isConflict && error.message.contains("which calls nothing"), "\(error)")
        }
    }
}
