import Foundation
import StewardJSON

import StewardTemplates
import StewardTesting
import Testing

@testable import StewardCore
import StewardEngine

@Suite("Executor with a scripted invoker")
struct ExecutorTests {
    @Test("drives a plan to completion, calling each step once with its key")
    func completes() async throws {
        let plan = try Plans.linear()
        let invoker = ScriptedStepInvoker([
            "demo.fetch": [.output(["text": "hello"])],
            "demo.classify": [.output(["label": "greeting", "score": 0.9])],
        ])
        let sleeper = RecordingSleeper()
        var records: [TransitionRecord] = []
        let final = try await Executor(plan: plan, invoker: invoker, sleeper: sleeper)
            .start(id: "run-1", input: ["id": 7], customer: "acme") { records.append($0) }
        #expect(final.status == .completed)
        #expect(final.output == ["label": "greeting", "id": 7])
        #expect(final.sequence == 3)
        #expect(invoker.idempotencyKeys == ["run-1/fetch/1", "run-1/classify/1"])
        #expect(invoker.invocations(of: "demo.fetch").map(\.input) == [["id": 7, "mode": "fast", "customer": "acme"]])
        #expect(invoker.invocations(of: "demo.fetch").map(\.config) == [["timeout_ms": 50]])
        #expect(invoker.invocations(of: "demo.classify").map(\.input) == ["hello"])
        #expect(sleeper.delays.isEmpty)
        #expect(records.map(\.event.name) == ["started", "step_succeeded", "step_succeeded"])
        #expect(records.map(\.state.sequence) == [1, 2, 3])
        #expect(records.flatMap(\.moves).map(\.to) == ["fetch", "classify", "done"])
    }

    @Test("retries transient failures with the policy's delays, then succeeds")
    func retriesThenSucceeds() async throws {
        let plan = try Plans.linear()
        let invoker = ScriptedStepInvoker([
            "demo.fetch": [.transient("timeout"), .transient("timeout"), .output(["text": "hi"])],
            "demo.classify": [.output(["label": "greeting"])],
        ])
        let sleeper = RecordingSleeper()
        let final = try await Executor(plan: plan, invoker: invoker, sleeper: sleeper).start(id: "r", input: ["id": 1])
        #expect(final.status == .completed)
        #expect(sleeper.delays == [100, 150])
        #expect(invoker.idempotencyKeys == ["r/fetch/1", "r/fetch/2", "r/fetch/3", "r/classify/1"])
        #expect(invoker.invocations.map(\.delayMilliseconds) == [0, 100, 150, 0])
    }

    @Test("fails the instance when retries run out, keeping the last error")
    func failsAfterRetries() async throws {
        let plan = try Plans.linear()
        let invoker = ScriptedStepInvoker(["demo.fetch": [.transient("upstream 503")]])
        let sleeper = RecordingSleeper()
        let final = try await Executor(plan: plan, invoker: invoker, sleeper: sleeper).start(id: "f", input: ["id": 1])
        #expect(final.status == .failed)
        #expect(final.current == "fetch")
        #expect(final.failure == Failure(state: "fetch", kind: "transient", message: "upstream 503"))
        #expect(invoker.invocations.count == 3)
        #expect(invoker.idempotencyKeys == ["f/fetch/1", "f/fetch/2", "f/fetch/3"])
        #expect(sleeper.delays == [100, 150])
        #expect(invoker.invocations(of: "demo.classify").isEmpty)
    }

    @Test("a permanent failure goes to on_error without retrying")
    func permanentToOnError() async throws {
        let plan = try Plans.linear()
        let invoker = ScriptedStepInvoker([
            "demo.fetch": [.output(["text": "hi"])],
            "demo.classify": [.permanent("model unavailable")],
        ])
        let final = try await Executor(plan: plan, invoker: invoker, sleeper: RecordingSleeper()).start(id: "p", input: ["id": 2])
        #expect(final.status == .completed)
        #expect(final.current == "escalated")
        #expect(final.output?["error"] == ["kind": "permanent", "message": "model unavailable", "attempts": 1])
        #expect(invoker.invocations(of: "demo.classify").count == 1)
    }

    @Test("a step nobody provides fails the instance as unknown_step")
    func unscriptedStep() async throws {
        let plan = try Plans.linear()
        let final = try await Executor(plan: plan, invoker: ScriptedStepInvoker(), sleeper: RecordingSleeper())
            .start(id: "u", input: ["id": 1])
        #expect(final.status == .failed)
        #expect(final.failure?.kind == "unknown_step")
    }

    @Test("stops at an open checkpoint, then finishes after the decision")
    func checkpointThenDecision() async throws {
        let plan = try Plans.checkpoint()
        let invoker = ScriptedStepInvoker([
            "demo.draft": [.output(["body": "Hi", "confidence": 0.4])],
            "demo.send": [.transient("busy"), .output(["sent": true])],
        ])
        let sleeper = RecordingSleeper()
        let executor = Executor(plan: plan, invoker: invoker, sleeper: sleeper)
        var opened: [CheckpointRequest] = []
        let waiting = try await executor.start(id: "c", input: ["urgent": false]) { record in
            for case .openCheckpoint(let request) in record.effects { opened.append(request) }
        }
        #expect(waiting.status == .waiting)
        #expect(waiting.current == "review")
        #expect(opened.map(\.credential) == ["support-agent"])
        #expect(opened.first?.subject == ["body": "Hi", "confidence": 0.4])
        #expect(invoker.idempotencyKeys == ["c/draft/1"])

        let final = try await executor.drive(waiting, event: decision(.approve, reviewer: "lee"))
        #expect(final.status == .completed)
        #expect(final.output?["review"] == ["decision": "approve", "reviewer": "lee", "credential": "support-agent"])
        #expect(invoker.idempotencyKeys == ["c/draft/1", "c/send/1", "c/send/2"])
        #expect(sleeper.delays == [100])
        #expect(final.sequence == waiting.sequence + 3)
    }

    @Test("a refused decision throws and leaves the instance where it was")
    func refusedDecision() async throws {
        let plan = try Plans.checkpoint()
        let invoker = ScriptedStepInvoker(["demo.draft": [.output(["body": "Hi", "confidence": 0.4])]])
        let executor = Executor(plan: plan, invoker: invoker, sleeper: RecordingSleeper())
        let waiting = try await executor.start(id: "x", input: [:])
        await #expect(throws: TransitionError.self) {
            _ = try await executor.drive(waiting, event: decision(.approve, credential: "nobody"))
        }
        #expect(invoker.invocations.count == 1)
        #expect(waiting.status == .waiting)
    }

    @Test("the executor's event log replays to the same final state")
    func executorMatchesReplay() async throws {
        let plan = try Plans.linear()
        let invoker = ScriptedStepInvoker([
            "demo.fetch": [.transient(), .output(["text": "again"])],
            "demo.classify": [.failure(.invalidOutput, "not JSON")],
        ])
        var events: [Event] = []
        let final = try await Executor(plan: plan, invoker: invoker, sleeper: RecordingSleeper())
            .start(id: "inst-1", input: ["id": 9], customer: "acme") { events.append($0.event) }
        #expect(events.count == 4)
        #expect(try state(after: events, in: plan) == final)
    }

    @Test("runs the shipped triage template with scripted plugin answers")
    func shippedTemplate() async throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("workflows/support-ticket-triage.yaml")
        let template = try TemplateParser.parse(String(contentsOf: file, encoding: .utf8), file: file.lastPathComponent)
        let plan = try Plan(validating: template, catalog: nil)
        let invoker = ScriptedStepInvoker([
            "support.normalize": [.output(["text": "Fee question. What is the fee?", "subject": "Fee question", "channel": "email", "word_count": 6])],
            "model:banking-intent@3.0.0": [.output(["label": "exchange_charge", "confidence": 0.93, "adapter": "banking-intent@3.0.0"])],
            "keywords.classify": [.output(["category": "fees", "confidence": 0.9])],
            "kb.search": [.output(["results": [["id": "faq-001", "title": "Fees", "score": 3.5]]])],
            "support.route": [.output(["queue": "billing", "priority": "P4", "category": "exchange_charge"])],
            "support.draft_reply": [.output(["subject": "Re: Fee question", "body": "Hi"])],
            "support.send_reply": [.output(["sent": true])],
        ])
        let final = try await Executor(plan: plan, invoker: invoker, sleeper: RecordingSleeper())
            .start(id: "t1", input: ["subject": "Fee question", "body": "What is the fee?", "customer": ["name": "Amara"]])
        #expect(final.status == .completed)
        #expect(final.output?["review"]?["automatic"] == true)
        #expect(invoker.invocations.map(\.step) == [
            "support.normalize", "model:banking-intent@3.0.0", "keywords.classify", "kb.search", "support.route",
            "support.draft_reply", "support.send_reply",
        ])
        // The model state calls the adapter its role is bound to, with the task and parameters.
        let model = invoker.invocations(of: "model:banking-intent@3.0.0").first
        #expect(model?.input == ["text": "Fee question. What is the fee?"])
        #expect(model?.config["task"] == "classify")
        #expect(model?.config["parameters"] == ["top_k": 3])
        #expect(final.bindings == ["classifier": "banking-intent@3.0.0"])
        #expect(invoker.invocations(of: "keywords.classify").first?.input == ["text": "Fee question. What is the fee?"])
        #expect(invoker.invocations(of: "support.route").first?.input["category"] == "exchange_charge")
        #expect(invoker.invocations(of: "support.route").first?.input["routes"] == template.config["routing"])
        #expect(invoker.invocations(of: "support.draft_reply").first?.input["name"] == "Amara")
    }
}

@Suite("StewardTesting helpers")
struct StewardTestingTests {
    static func call(_ step: String, attempt: Int = 1) -> StepInvocation {
        StepInvocation(
            state: "s", callee: .step(step), input: nil, config: [:], attempt: attempt, idempotencyKey: "i/s/\(attempt)", callKey: "i/s/1",
            delayMilliseconds: 0, timeoutMilliseconds: nil)
    }

    @Test("answers in order, repeats the last, records every call")
    func scriptOrder() async throws {
        let invoker = ScriptedStepInvoker(["a.b": [.transient("one"), .output(1), .output(2)]])
        await #expect(throws: StepFailure(.transient, "one")) { try await invoker.invoke(Self.call("a.b")) }
        #expect(try await invoker.invoke(Self.call("a.b", attempt: 2)) == 1)
        #expect(try await invoker.invoke(Self.call("a.b", attempt: 3)) == 2)
        #expect(try await invoker.invoke(Self.call("a.b", attempt: 4)) == 2)
        await #expect(throws: StepFailure(.unknownStep, "no scripted answer for this step")) {
            try await invoker.invoke(Self.call("x.y"))
        }
        #expect(invoker.idempotencyKeys == ["i/s/1", "i/s/2", "i/s/3", "i/s/4", "i/s/1"])
        invoker.append([.output(3)], for: "x.y")
        #expect(try await invoker.invoke(Self.call("x.y")) == 3)
    }

    @Test("is safe to call from many tasks at once")
    func concurrentCalls() async throws {
        let invoker = ScriptedStepInvoker(["a.b": [.output(true)]])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for attempt in 1...200 {
                group.addTask { _ = try await invoker.invoke(Self.call("a.b", attempt: attempt)) }
            }
            try await group.waitForAll()
        }
        #expect(invoker.invocations.count == 200)
        #expect(Set(invoker.idempotencyKeys).count == 200)
    }

    @Test("the recording sleeper records and never sleeps")
    func sleeper() async throws {
        let sleeper = RecordingSleeper()
        let clock = ContinuousClock()
        let start = clock.now
        try await sleeper.sleep(milliseconds: 60_000)
        try await sleeper.sleep(milliseconds: 5)
        #expect(clock.now - start < .seconds(5))
        #expect(sleeper.delays == [60_000, 5])
    }

    @Test("TestPlans reports template problems with their location")
    func badPlan() {
        do {
            _ = try TestPlans.plan("plugins: []\nstart: a\nstates:\n  a: {kind: end}\n  b: {kind: end}\n")
            Issue.record("an unreachable state was accepted")
        } catch {
            #expect(error.diagnostics.map(\.description) == [
                "test-template.yaml:17:3: error: state 'b' is unreachable from the start state 'a'; expected a transition leading to it"
            ])
        }
    }
}

@Suite("Model state parameters")
struct ModelParameterTests {
    static let body = """
        plugins: []
        models: {writer: chat@1.0.0}
        config:
          model_parameters:
            writer: {base_url: "http://template", model: small}
        states:
          write:
            kind: model
            role: writer
            task: generate
            input: {text: input.text}
            parameters: {temperature: 0, base_url: "http://state-default"}
            next: done
          done: {kind: end}
        """

    @Test func configParametersOverrideTheStateAndAnOverlayOverridesConfig() async throws {
        let plan = try TestPlans.plan(Self.body)
        let invoker = ScriptedStepInvoker(["model:chat@1.0.0": [.output(["text": "ok"])]])
        _ = try await Executor(plan: plan, invoker: invoker, sleeper: RecordingSleeper()).start(id: "m1", input: ["text": "hi"])
        #expect(invoker.invocations.first?.config["parameters"] == ["temperature": 0, "base_url": "http://template", "model": "small"])

        let overlay = plan.template.config.merging(["model_parameters": ["writer": ["base_url": "http://customer"]]])
        let customer = ScriptedStepInvoker(["model:chat@1.0.0": [.output(["text": "ok"])]])
        _ = try await Executor(plan: plan, config: overlay, invoker: customer, sleeper: RecordingSleeper()).start(id: "m2", input: ["text": "hi"])
        #expect(customer.invocations.first?.config["parameters"] == ["temperature": 0, "base_url": "http://customer", "model": "small"])
        #expect(customer.invocations.first?.config["task"] == "generate")
        #expect(customer.invocations.first?.input == ["text": "hi"])
    }
}
