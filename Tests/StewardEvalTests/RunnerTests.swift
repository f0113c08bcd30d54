import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardEval
import StewardJSON
import StewardTemplates
import StewardTesting
import Synchronization
import Testing

/// A classifier that echoes the label the input names, with the input's confidence.
final class EchoInvoker: StepInvoker {
    let calls = Mutex<[String]>([])

    func invoke(_ invocation: StepInvocation) async throws(StepFailure) -> JSONValue {
        calls.withLock { $0.append(invocation.step) }
        switch invocation.callee {
        case .model:
            if invocation.config["task"]?.stringValue == "score" {
                return ["score": invocation.input["output"]?.stringValue == "polite" ? 0.9 : 0.1]
            }
            guard let label = invocation.input["text"]?.stringValue else { throw StepFailure(.invalidInput, "no text") }
            return ["label": .string(label), "confidence": invocation.input["confidence"] ?? 0.9]
        case .step(let name):
            if name == "demo.send" { return ["sent": true] }
            return ["normalized": true]
        case .foreign:
            throw StepFailure(.unknownStep, "no ffi here")
        }
    }
}


/// The sandbox: pure steps and models are called, other steps are not, checkpoints are
/// recorded and approved, and nothing else happens.
@Suite struct RunnerTests {
    static let body = """
        plugins: [demo]
        models: {classifier: echo@1.0.0}
        eval:
          metrics:
            - {name: accuracy, kind: accuracy, path: classification.label, min: 0.5}
            - {name: reviews, kind: review_rate}
        start: prepare
        states:
          prepare: {kind: step, step: demo.prepare, input: input, output: prepared, next: classify}
          classify:
            kind: model
            role: classifier
            task: classify
            input: {text: input.text, confidence: input.confidence}
            output: classification
            next: review
          review:
            kind: checkpoint
            credential: agent
            when: classification.confidence < 0.7
            subject: classification
            decisions: {approve: send, reject: rejected}
          send: {kind: step, step: demo.send, input: classification, output: delivery, next: done}
          done: {kind: end}
          rejected: {kind: end, status: rejected}
        """

    @Test func impureStepsAreSkippedAndCheckpointsAreApprovedInTheSandbox() async throws {
        let plan = try TestPlans.plan(Self.body)
        let invoker = EchoInvoker()
        let runner = EvalRunner(
            plan: plan, config: plan.template.config, bindings: ["classifier": "echo@1.0.0"], invoker: invoker, pureSteps: ["demo.prepare"],
            rubric: try #require(plan.template.eval), concurrency: 4)
        let cases = [
            EvalCase(id: "sure", input: ["text": "card_arrival", "confidence": 0.95], expected: ["classification": ["label": "card_arrival"]]),
            EvalCase(id: "unsure", input: ["text": "fees", "confidence": 0.4], expected: ["classification": ["label": "refund"]]),
            EvalCase(id: "unlabelled", input: ["text": "hello", "confidence": 0.9]),
        ]
        var progress: [Int] = []
        let results = await runner.run(cases) { done, total in
            #expect(total == 3)
            progress.append(done)
        }
        #expect(progress == [1, 2, 3])
        #expect(results.map(\.id) == ["sure", "unsure", "unlabelled"])
        #expect(results.map(\.status) == ["completed", "completed", "completed"])
        #expect(results.map(\.reviewed) == [false, true, false])
        #expect(results[1].checkpoints == ["review"])
        #expect(results.allSatisfy { $0.skipped == ["send"] })
        #expect(results.map(\.passed) == [true, false, true])
        #expect(results[0].outputs == ["classification": ["label": "card_arrival"]])
        #expect(results[1].expected == ["classification": ["label": "refund"]])
        // demo.send (not pure) was never called; prepare and the model were, once per case.
        let calls = invoker.calls.withLock { $0 }
        #expect(!calls.contains("demo.send"))
        #expect(calls.filter { $0 == "demo.prepare" }.count == 3)
        #expect(calls.filter { $0 == "model:echo@1.0.0" }.count == 3)
        let metrics = MetricEngine.evaluate(try #require(plan.template.eval), cases: results)
        #expect(metrics[0].value == 0.5 && metrics[0].n == 2 && metrics[0].passed)
        #expect(abs((metrics[1].value ?? 0) - 1.0 / 3) < 1e-12)
    }

    @Test func aFailingCaseIsRecordedNotFatal() async throws {
        let plan = try TestPlans.plan(Self.body)
        let runner = EvalRunner(
            plan: plan, config: plan.template.config, bindings: ["classifier": "echo@1.0.0"], invoker: EchoInvoker(), pureSteps: ["demo.prepare"],
            rubric: try #require(plan.template.eval))
        let results = await runner.run([EvalCase(id: "no-text", input: ["confidence": 0.9], expected: ["classification": ["label": "x"]])])
        #expect(results[0].status == "failed")
        #expect(results[0].passed == false)
        #expect(results[0].error?.contains("no text") == true, "\(String(describing: results[0].error))")
    }

    @Test func aJudgeScoresThroughItsRoleAndCountsOnlyWhenItAgreesWithPeople() async throws {
        let body = """
            plugins: []
            models: {judge: echo@1.0.0}
            eval:
              metrics:
                - {name: tone, kind: judge, role: judge, path: input.reply, rubric: "Polite?", min: 0.5, min_kappa: 0.6}
            start: done
            states:
              done: {kind: end}
            """
        let plan = try TestPlans.plan(body)
        let rubric = try #require(plan.template.eval)
        let runner = EvalRunner(plan: plan, config: .emptyObject, bindings: ["judge": "echo@1.0.0"], invoker: EchoInvoker(), pureSteps: [], rubric: rubric)
        // People labelled the expected reply: "polite" is right. The judge agrees on all four.
        let cases = ["polite", "rude", "polite", "rude"].enumerated().map { index, reply in
            EvalCase(id: "\(index)", input: ["reply": .string(reply)], expected: ["input": ["reply": "polite"]])
        }
        let results = await runner.run(cases)
        #expect(results.map { $0.judge["tone"] } == [0.9, 0.1, 0.9, 0.1])
        let metric = MetricEngine.evaluate(rubric, cases: results)[0]
        #expect(metric.value == 0.5 && metric.counted, "\(metric)")
        // Labels that make the judge agree with people only by chance (kappa 0), so the judge does not count toward the verdict.
        let contrary = await runner.run(["polite", "rude"].enumerated().map { index, reply in
            EvalCase(id: "\(index)", input: ["reply": .string(reply)], expected: ["input": ["reply": reply == "polite" ? "rude" : "polite"]])
        })
        let ignored = MetricEngine.evaluate(rubric, cases: contrary)[0]
        #expect(ignored.counted == false)
        #expect(ignored.note?.contains("below min_kappa 0.6") == true, "\(String(describing: ignored.note))")
    }
}
