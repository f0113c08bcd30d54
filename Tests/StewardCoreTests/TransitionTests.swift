import Foundation
import StewardJSON
import StewardTemplates
import StewardTesting
import Testing

@testable import StewardCore
import StewardEngine

@Suite("Transition: steps and retries")
struct TransitionStepTests {
    @Test("started: enters the start state and asks for its first attempt")
    func started() throws {
        let plan = try Plans.linear()
        let result = try Transition.apply(.started(input: ["id": 7]), to: newInstance(plan), plan: plan)
        #expect(result.state.status == .running)
        #expect(result.state.current == "fetch")
        #expect(result.state.attempt == 1)
        #expect(result.state.sequence == 1)
        #expect(result.state.data == ["input": ["id": 7]])
        #expect(result.state.template == "linear")
        #expect(result.state.templateVersion == "2.1.0")
        #expect(result.moves == [Move(from: nil, to: "fetch", reason: "started")])
        #expect(result.effects == [
            .runStep(
                StepInvocation(
                    state: "fetch", callee: .step("demo.fetch"), input: ["id": 7, "mode": "fast", "customer": "acme"],
                    config: ["timeout_ms": 50], attempt: 1, idempotencyKey: "inst-1/fetch/1", callKey: "inst-1/fetch/1", delayMilliseconds: 0, timeoutMilliseconds: nil))
        ])
    }

    @Test("the idempotency key is <instance>/<state>/<attempt>")
    func idempotencyKey() throws {
        let plan = try Plans.linear()
        let first = try run(plan, [.started(input: ["id": 1])], id: "order-42").last!
        #expect(invocations(first.effects).map(\.idempotencyKey) == ["order-42/fetch/1"])
        #expect(first.state.idempotencyKey == "order-42/fetch/1")
        let retried = try run(
            plan, [.started(input: ["id": 1]), .stepFailed(state: "fetch", attempt: 1, kind: "transient", message: "busy")],
            id: "order-42"
        ).last!
        #expect(invocations(retried.effects).map(\.idempotencyKey) == ["order-42/fetch/2"])
    }

    @Test("a step's success stores its output under 'output' and moves on")
    func stepSucceeded() throws {
        let plan = try Plans.linear()
        let results = try run(plan, [
            .started(input: ["id": 7]),
            .stepSucceeded(state: "fetch", attempt: 1, output: ["text": "hello"]),
        ])
        let result = results[1]
        #expect(result.state.data == ["input": ["id": 7], "fetched": ["text": "hello"]])
        #expect(result.state.current == "classify")
        #expect(result.state.attempt == 1)
        #expect(result.moves == [Move(from: "fetch", to: "classify", reason: "step demo.fetch succeeded")])
        #expect(invocations(result.effects) == [
            StepInvocation(
                state: "classify", callee: .step("demo.classify"), input: "hello", config: [:], attempt: 1,
                idempotencyKey: "inst-1/classify/1", callKey: "inst-1/classify/2", delayMilliseconds: 0, timeoutMilliseconds: nil)
        ])
        // A dotted output path creates the objects on the way; an end state builds the output.
        let done = try Transition.apply(
            .stepSucceeded(state: "classify", attempt: 1, output: ["label": "greeting"]), to: result.state, plan: plan)
        #expect(done.state.data["result"] == ["classification": ["label": "greeting"]])
        #expect(done.state.status == .completed)
        #expect(done.state.current == "done")
        #expect(done.state.output == ["label": "greeting", "id": 7])
        #expect(done.effects == [.finish(status: .completed, output: ["label": "greeting", "id": 7])])
    }

    /// (attempt that fails, expected next attempt or nil when the instance fails, its delay)
    static let retrySchedule: [(Int, Int?, Int)] = [(1, 2, 100), (2, 3, 150), (3, nil, 0)]

    @Test("transient failures retry with the policy's backoff, then fail the instance", arguments: retrySchedule)
    func transientRetries(failingAttempt: Int, nextAttempt: Int?, delay: Int) throws {
        let plan = try Plans.linear()
        var events: [Event] = [.started(input: ["id": 7])]
        for attempt in 1...failingAttempt {
            events.append(.stepFailed(state: "fetch", attempt: attempt, kind: "transient", message: "timeout \(attempt)"))
        }
        let result = try run(plan, events).last!
        if let nextAttempt {
            #expect(result.state.status == .running)
            #expect(result.state.current == "fetch")
            #expect(result.state.attempt == nextAttempt)
            #expect(result.state.failure == nil)
            let invocation = try #require(invocations(result.effects).first)
            #expect(invocation.attempt == nextAttempt)
            #expect(invocation.delayMilliseconds == delay)
            #expect(invocation.idempotencyKey == "inst-1/fetch/\(nextAttempt)")
            #expect(invocation.input == ["id": 7, "mode": "fast", "customer": "acme"])
            #expect(result.moves.first?.reason.hasPrefix("retry \(nextAttempt)/3 after transient error") == true)
        } else {
            #expect(result.state.status == .failed)
            #expect(result.state.failure == Failure(state: "fetch", kind: "transient", message: "timeout 3"))
            #expect(result.effects == [.finish(status: .failed, output: nil)])
            #expect(result.state.status.isFinal)
        }
    }

    @Test(
        "failures that retrying cannot fix fail the instance at once",
        arguments: ["permanent", "invalid_output", "invalid_input", "internal", "unknown_step"])
    func nonRetryableFailures(kind: String) throws {
        let plan = try Plans.linear()
        let result = try run(plan, [
            .started(input: ["id": 7]), .stepFailed(state: "fetch", attempt: 1, kind: FailureKind(rawValue: kind), message: "no luck"),
        ]).last!
        #expect(result.state.status == .failed)
        #expect(result.state.attempt == 1)
        #expect(result.state.failure == Failure(state: "fetch", kind: FailureKind(rawValue: kind), message: "no luck"))
        #expect(invocations(result.effects).isEmpty)
        #expect(result.effects == [.finish(status: .failed, output: nil)])
        #expect(result.moves.last?.reason.contains("failed (\(kind)) after 1 attempt(s): no luck") == true)
    }

    @Test(
        "on_error routes a failed step, recording the error",
        arguments: [
            (["permanent"], "permanent", 1), (["invalid_output"], "invalid_output", 1),
            // A step-level retry policy overrides max_attempts only: two transient failures exhaust it.
            (["transient", "transient"], "transient", 2),
        ] as [([String], String, Int)])
    func onError(kinds: [String], finalKind: String, attempts: Int) throws {
        let plan = try Plans.linear()
        var events: [Event] = [.started(input: ["id": 7]), .stepSucceeded(state: "fetch", attempt: 1, output: ["text": "x"])]
        for (index, kind) in kinds.enumerated() {
            events.append(.stepFailed(state: "classify", attempt: index + 1, kind: FailureKind(rawValue: kind), message: "bad \(index + 1)"))
        }
        let results = try run(plan, events)
        if kinds.count > 1 {
            #expect(invocations(results[2].effects).map(\.delayMilliseconds) == [100])
        }
        let result = results.last!
        let error: JSONValue = ["kind": .string(finalKind), "message": .string("bad \(attempts)"), "attempts": .integer(Int64(attempts))]
        #expect(result.state.data.value(at: ["errors", "classify"]) == error)
        #expect(result.state.current == "escalated")
        #expect(result.state.status == .completed)
        #expect(result.state.failure == nil)
        #expect(result.state.output == ["error": error, "id": 7])
        #expect(result.moves.first == Move(from: "classify", to: "escalated", reason: "step demo.classify failed (\(finalKind)); on_error"))
    }

    @Test("a stale or misdirected step result is a conflict and changes nothing")
    func staleStepResults() throws {
        let plan = try Plans.linear()
        let retrying = try state(
            after: [.started(input: ["id": 7]), .stepFailed(state: "fetch", attempt: 1, kind: "transient", message: "busy")], in: plan)
        #expect(retrying.attempt == 2)
        let stale: [Event] = [
            .stepSucceeded(state: "fetch", attempt: 1, output: ["text": "late"]),
            .stepFailed(state: "fetch", attempt: 1, kind: "transient", message: "late"),
            .stepSucceeded(state: "fetch", attempt: 3, output: ["text": "early"]),
            .stepSucceeded(state: "classify", attempt: 2, output: [:]),
            .started(input: ["id": 8]),
        ]
        for event in stale {
            #expect {
                try Transition.apply(event, to: retrying, plan: plan)
            } throws: { error in
                (error as? TransitionError)?.isConflict == true
            }
        }
        // The current attempt still applies afterwards.
        let result = try Transition.apply(.stepSucceeded(state: "fetch", attempt: 2, output: ["text": "ok"]), to: retrying, plan: plan)
        #expect(result.state.current == "classify")
        #expect(result.state.sequence == retrying.sequence + 1)
    }
}

@Suite("Transition: choices")
struct TransitionChoiceTests {
    @Test(
        "guards are tried in order; otherwise catches the rest",
        arguments: [
            (["score": 95, "tags": ["vip"]], "top", InstanceStatus.completed),
            (["score": 90], "top", .completed),
            (["score": 89.5, "tags": ["vip"]], "middle", .completed),
            (["score": 50], "middle", .completed),
            (["score": 10, "tags": ["vip"]], "vip", .rejected),
            (["score": 10, "tags": ["new"]], "low", .failed),
        ] as [(JSONValue, String, InstanceStatus)])
    func guardsInOrder(input: JSONValue, target: String, status: InstanceStatus) throws {
        let plan = try Plans.choice()
        let result = try Transition.apply(.started(input: input), to: newInstance(plan), plan: plan)
        #expect(result.state.current == target)
        #expect(result.state.status == status)
        #expect(result.moves.map(\.to) == ["route", target])
        #expect(result.effects == [.finish(status: status, output: ["input": input])])
        if target == "low" {
            #expect(result.moves.last?.reason == "no guard held; otherwise")
            #expect(result.state.failure == Failure(state: "low", kind: "end_failed", message: "reached failing end state 'low'"))
        } else {
            #expect(result.moves.last?.reason.hasPrefix("guard ") == true)
        }
    }

    /// A missing score or a score written as text cannot be compared: the instance fails at the
    /// choice (guard_error) instead of falling through to `otherwise` as if the guard were false.
    @Test(
        "a guard that cannot be evaluated fails the instance at the choice",
        arguments: [[:] as JSONValue, ["score": "95"] as JSONValue])
    func unevaluableGuard(input: JSONValue) throws {
        let plan = try Plans.choice()
        let result = try Transition.apply(.started(input: input), to: newInstance(plan), plan: plan)
        #expect(result.state.current == "route")
        #expect(result.state.status == .failed)
        #expect(result.state.failure?.kind == .guardError)
        #expect(result.effects == [.finish(status: .failed, output: nil)])
    }

    @Test("a choice with no matching guard and no otherwise fails the instance")
    func noBranch() throws {
        let plan = try Plans.choiceWithoutOtherwise()
        let result = try Transition.apply(.started(input: ["score": 5]), to: newInstance(plan), plan: plan)
        #expect(result.state.status == .failed)
        #expect(result.state.current == "route")
        #expect(result.state.failure?.kind == "no_branch")
        #expect(result.state.failure?.state == "route")
        #expect(result.effects == [.finish(status: .failed, output: nil)])
        let matched = try Transition.apply(.started(input: ["score": 101]), to: newInstance(plan), plan: plan)
        #expect(matched.state.status == .completed)
    }
}

@Suite("Transition: checkpoints")
struct TransitionCheckpointTests {
    static let draft: JSONValue = ["body": "Hi Ana", "confidence": 0.5]

    /// The instance waiting at `review` with `draft` as the subject.
    static func waiting() throws -> (Plan, InstanceState) {
        let plan = try Plans.checkpoint()
        let state = try StewardTesting.state(
            after: [.started(input: ["urgent": false]), .stepSucceeded(state: "draft", attempt: 1, output: draft)], in: plan)
        return (plan, state)
    }

    @Test("a conditional checkpoint whose condition is false passes by itself")
    func passesAutomatically() throws {
        let plan = try Plans.checkpoint()
        let sure: JSONValue = ["body": "Hi", "confidence": 0.95]
        let result = try run(plan, [.started(input: ["urgent": false]), .stepSucceeded(state: "draft", attempt: 1, output: sure)]).last!
        #expect(result.state.status == .running)
        #expect(result.state.current == "send")
        let review = try #require(result.state.data.value(at: ["reviews", "review"]))
        #expect(review["decision"] == "approve")
        #expect(review["automatic"] == true)
        #expect(review["reason"]?.stringValue?.contains("is false") == true)
        #expect(result.moves.map(\.to) == ["review", "send"])
        #expect(result.moves.last?.reason.hasPrefix("checkpoint passed automatically") == true)
        #expect(invocations(result.effects).map(\.input) == [["reply": sure]])
        #expect(!result.effects.contains { if case .openCheckpoint = $0 { true } else { false } })
    }

    @Test(
        "a checkpoint opens when its condition holds",
        arguments: [
            (["urgent": false] as JSONValue, 0.5), (["urgent": true], 0.95), (["urgent": true], 0.1),
        ] as [(JSONValue, Double)])
    func opens(input: JSONValue, confidence: Double) throws {
        let plan = try Plans.checkpoint()
        let subject: JSONValue = ["body": "Hi", "confidence": .double(confidence)]
        let result = try run(plan, [.started(input: input), .stepSucceeded(state: "draft", attempt: 1, output: subject)]).last!
        #expect(result.state.status == .waiting)
        #expect(result.state.current == "review")
        #expect(result.state.data["reviews"] == nil)
        #expect(result.effects == [
            .openCheckpoint(
                CheckpointRequest(state: "review", credential: "support-agent", subject: subject, decisions: [.approve, .edit, .reject]))
        ])
    }

    @Test("approve, edit and reject lead where the template says")
    func decisions() throws {
        let (plan, waiting) = try Self.waiting()

        let approved = try Transition.apply(decision(.approve), to: waiting, plan: plan)
        #expect(approved.state.current == "send")
        #expect(approved.state.status == .running)
        #expect(approved.state.data["reply"] == Self.draft)
        #expect(approved.state.data.value(at: ["reviews", "review"]) == ["decision": "approve", "reviewer": "ana", "credential": "support-agent"])
        #expect(invocations(approved.effects).map(\.input) == [["reply": Self.draft]])
        #expect(approved.moves == [Move(from: "review", to: "send", reason: "approve by ana")])

        let replacement: JSONValue = ["body": "Hello Ana, all sorted.", "confidence": 1, "note": "extra fields are fine"]
        let edited = try Transition.apply(decision(.edit, output: replacement), to: waiting, plan: plan)
        #expect(edited.state.current == "send")
        #expect(edited.state.data["reply"] == replacement)
        #expect(edited.state.data.value(at: ["reviews", "review", "original"]) == Self.draft)
        #expect(edited.state.data.value(at: ["reviews", "review", "decision"]) == "edit")
        #expect(invocations(edited.effects).map(\.input) == [["reply": replacement]])

        let rejected = try Transition.apply(decision(.reject, reason: "wrong tone"), to: waiting, plan: plan)
        #expect(rejected.state.current == "rejected")
        #expect(rejected.state.status == .rejected)
        #expect(rejected.state.data.value(at: ["reviews", "review", "reason"]) == "wrong tone")
        #expect(rejected.effects == [.finish(status: .rejected, output: rejected.state.data)])
    }

    @Test(
        "an edit that does not fit the output's shape is refused",
        arguments: [
            ("a bare string" as JSONValue, "edited output for 'reply' must be a"),
            (["body": "no confidence"], "missing field 'confidence'"),
            (["body": 5, "confidence": 0.9], "field 'reply.body' must be a string, found a number"),
            (["body": "x", "confidence": "high"], "field 'reply.confidence' must be a number, found a string"),
            (nil, "needs a replacement output"),
        ] as [(JSONValue?, String)])
    func editMismatch(replacement: JSONValue?, fragment: String) throws {
        let (plan, waiting) = try Self.waiting()
        do {
            let result = try Transition.apply(decision(.edit, output: replacement), to: waiting, plan: plan)
            Issue.record("edit accepted: \(result.state.data)")
        } catch {
            #expect(error.message.contains(fragment), "\(error.message)")
            #expect(!error.isConflict)
        }
        // Nothing changed: the same instance still accepts a proper decision, as the next event.
        let approved = try Transition.apply(decision(.approve), to: waiting, plan: plan)
        #expect(approved.state.sequence == waiting.sequence + 1)
        #expect(approved.state.data["reply"] == Self.draft)
    }

    @Test("an integer edit fits a number field and a null original accepts anything")
    func editLeniency() throws {
        let (plan, waiting) = try Self.waiting()
        let edited = try Transition.apply(decision(.edit, output: ["body": "b", "confidence": 1]), to: waiting, plan: plan)
        #expect(edited.state.current == "send")
        try OutputContract.check(replacement: ["any": "thing"], original: .null, subject: "s")
        try OutputContract.check(replacement: ["k": 1], original: ["k": nil], subject: "s")
    }

    @Test("a rejection needs a reason", arguments: [nil, "", "   "] as [String?])
    func rejectWithoutReason(reason: String?) throws {
        let (plan, waiting) = try Self.waiting()
        #expect(throws: TransitionError.self) { try Transition.apply(decision(.reject, reason: reason), to: waiting, plan: plan) }
        do {
            _ = try Transition.apply(decision(.reject, reason: reason), to: waiting, plan: plan)
        } catch {
            #expect(error.message == "a rejection at review needs a reason")
            #expect(!error.isConflict)
        }
    }

    @Test("a decision made with the wrong credential is refused")
    func wrongCredential() throws {
        let (plan, waiting) = try Self.waiting()
        do {
            _ = try Transition.apply(decision(.approve, credential: "intern"), to: waiting, plan: plan)
            Issue.record("accepted a decision made with the wrong credential")
        } catch {
            #expect(error.message == "checkpoint review needs credential 'support-agent', decision was made with 'intern'")
            #expect(!error.isConflict)
        }
    }

    @Test("a decision the checkpoint does not offer is refused")
    func decisionNotOffered() throws {
        let plan = try Plans.approveOnly()
        let waiting = try state(after: [.started(input: ["doc": 1])], in: plan)
        #expect(waiting.status == .waiting)
        do {
            _ = try Transition.apply(decision(.edit, at: "gate", output: ["doc": 2], credential: "lead"), to: waiting, plan: plan)
            Issue.record("accepted an edit at an approve-only checkpoint")
        } catch {
            #expect(error.message == "decision 'edit' is not allowed at gate; expected one of: approve")
        }
        let approved = try Transition.apply(decision(.approve, at: "gate", credential: "lead"), to: waiting, plan: plan)
        #expect(approved.state.status == .completed)
    }

    @Test("a second decision on the same checkpoint is a conflict")
    func secondDecision() throws {
        let (plan, waiting) = try Self.waiting()
        let approved = try Transition.apply(decision(.approve), to: waiting, plan: plan).state
        for event in [decision(.approve), decision(.reject, reason: "too late"), decision(.approve, reviewer: "bo")] {
            do {
                _ = try Transition.apply(event, to: approved, plan: plan)
                Issue.record("a second decision was applied")
            } catch {
                #expect(error.isConflict)
                #expect(error.message.contains("is not open"))
            }
        }
        // A decision for a checkpoint the instance is not at is a conflict too.
        let early = try state(after: [.started(input: ["urgent": true])], in: plan)
        #expect(throws: TransitionError.self) { try Transition.apply(decision(.approve), to: early, plan: plan) }
    }
}

@Suite("Transition: bookkeeping and determinism")
struct TransitionBookkeepingTests {
    static let completedRun: [Event] = [
        .started(input: ["urgent": true]),
        .stepSucceeded(state: "draft", attempt: 1, output: ["body": "Hi", "confidence": 0.9]),
        decision(.edit, output: ["body": "Hello", "confidence": 1.0]),
        .stepFailed(state: "send", attempt: 1, kind: "transient", message: "smtp busy"),
        .stepSucceeded(state: "send", attempt: 2, output: ["sent": true]),
    ]

    @Test(
        "no event applies after a final state",
        arguments: [
            .started(input: [:]), .stepSucceeded(state: "send", attempt: 2, output: [:]),
            .stepFailed(state: "send", attempt: 2, kind: "transient", message: "x"), decision(.approve),
        ] as [Event])
    func afterFinal(event: Event) throws {
        let plan = try Plans.checkpoint()
        let done = try state(after: Self.completedRun, in: plan)
        #expect(done.status == .completed)
        do {
            _ = try Transition.apply(event, to: done, plan: plan)
            Issue.record("\(event.name) applied to a completed instance")
        } catch {
            #expect(error.isConflict)
            #expect(error.message == "instance inst-1 is already completed; \(event.name) does not apply")
        }
    }

    @Test("the sequence grows by exactly one per applied event")
    func sequence() throws {
        let plan = try Plans.checkpoint()
        let results = try run(plan, Self.completedRun)
        #expect(results.map(\.state.sequence) == [1, 2, 3, 4, 5])
        #expect(results.last?.state.status == .completed)
        #expect(results.last?.state.output?["review"]?["decision"] == "edit")
        #expect(results.last?.state.data["delivery"] == ["sent": true])
    }

    @Test("replaying the same events rebuilds the same state and effects")
    func replayIsDeterministic() throws {
        for plan in [try Plans.checkpoint(), try Plans.linear()] {
            let events = plan.name == "linear"
                ? [
                    .started(input: ["id": 3]), .stepFailed(state: "fetch", attempt: 1, kind: "transient", message: "x"),
                    .stepSucceeded(state: "fetch", attempt: 2, output: ["text": "t"]),
                    .stepFailed(state: "classify", attempt: 1, kind: "permanent", message: "no model"),
                ]
                : Self.completedRun
            let first = try run(plan, events)
            let second = try run(plan, events)
            #expect(first == second)
            // Events survive a round trip through their Codable form (as a store would keep them).
            let decoded = try events.map { try JSONDecoder().decode(Event.self, from: JSONEncoder().encode($0)) }
            #expect(try run(plan, decoded) == first)
        }
    }

    @Test("status names and finality")
    func statuses() {
        #expect(InstanceStatus.allFinal == [.completed, .rejected, .failed])
        #expect(!InstanceStatus.waiting.isFinal)
        #expect(Event.started(input: nil).name == "started")
        #expect(decision(.approve).name == "checkpoint_decided")
    }
}

extension InstanceStatus {
    static let everyStatus: [InstanceStatus] = [.pending, .running, .waiting, .completed, .rejected, .failed]
    static var allFinal: [InstanceStatus] { everyStatus.filter(\.isFinal) }
}
