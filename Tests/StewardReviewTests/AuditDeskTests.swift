import Foundation
import StewardCore
import StewardEngine
import StewardJSON
import StewardReview
import StewardStoreSQLite
import StewardTemplates
import StewardTesting
import Testing

/// Audits through the engine and the review desk over a real SQLite store: sampling as an
/// instance passes a checkpoint, and who may give which verdict.
@Suite struct AuditDeskTests {
    static let template = TestPlans.templateText("""
        plugins: [test]
        models: {classifier: banking-intent@2.0.0}
        states:
          classify: {kind: step, step: test.classify, output: classification, next: review}
          review:
            kind: checkpoint
            credential: agent
            when: input.urgent == true
            subject: classification
            decisions: {approve: done}
            sample: {rate: 1, double_review: 1, items: [classification.label, input.urgent]}
          done: {kind: end}
        """)

    struct Fixture {
        let store: SQLiteStore
        let engine: Engine
        let directory: URL
        let clock = ManualEngineClock(milliseconds: 1_000)
        var desk: AuditDesk { ReviewDesk(engine: engine).audits }

        /// `quiet` samples nothing; `solo` needs one review per item.
        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-audits-\(UUID().uuidString)")
            store = try SQLiteStore(path: directory.appendingPathComponent("s.db").path)
            let plan = try Plan(validating: TemplateParser.parse(AuditDeskTests.template, file: "t.yaml"), catalog: nil)
            var library = PlanLibrary([plan])
            let here = SourceLocation(file: "overlay.yaml", line: 1, column: 1)
            library.setSampling(["review": SampleOverride(rate: 0, doubleReview: nil, location: here)], template: plan.name, customer: "quiet")
            library.setSampling(["review": SampleOverride(rate: nil, doubleReview: 0, location: here)], template: plan.name, customer: "solo")
            let invoker = ScriptedStepInvoker(["test.classify": [.output(["label": "card_arrival", "confidence": 0.9])]])
            engine = Engine(store: store, plans: library, invoker: invoker, clock: clock, sleeper: RecordingSleeper())
        }

        func submit(_ id: String, urgent: Bool = false, customer: String? = nil) async throws -> InstanceState {
            try await engine.submit(template: "test-template", customer: customer, input: ["urgent": .bool(urgent), "text": .string(id)], id: id)
        }

        func cleanUp() { try? FileManager.default.removeItem(at: directory) }
    }

    /// The refusal's kind, or nil when `body` succeeded.
    static func refusal(_ body: () async throws -> AuditView) async -> ReviewError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error as? ReviewError
        }
    }

    static func judge(label: String? = nil) -> [AuditJudgement] {
        [
            AuditJudgement(path: "classification.label", correct: label == nil, correction: label.map { .string($0) }),
            AuditJudgement(path: "input.urgent", correct: true),
        ]
    }

    @Test func anUnreviewedInstanceCompletesAndIsSampledInTheSameCommitAReviewedOneIsNot() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let passed = try await fixture.submit("p1")
        #expect(passed.status == .completed, "sampling does not hold the instance up")
        #expect(passed.data.value(at: ["reviews", "review", "automatic"]) == true)
        let items = try await fixture.store.auditItems(AuditQuery())
        #expect(items.count == 1)
        let item = try #require(items.first)
        #expect(item.instanceID == "p1" && item.checkpoint == "review" && item.credential == "agent" && item.neededReviews == 2)
        #expect(item.items == [AuditedValue(path: "classification.label", value: "card_arrival"), AuditedValue(path: "input.urgent", value: false)])
        #expect(item.bindings == ["classifier": "banking-intent@2.0.0"] && item.input == ["urgent": false, "text": "p1"])
        #expect(item.template == "test-template" && item.templateVersion == "1.0.0" && item.createdAt == 1_000)

        let reviewed = try await fixture.submit("p2", urgent: true)
        #expect(reviewed.status == .waiting)
        #expect(try await fixture.store.auditItems(AuditQuery()).count == 1, "an instance a person reviews is not sampled")

        #expect(try await fixture.submit("q1", customer: "quiet").status == .completed)
        let solo = try await fixture.submit("s1", customer: "solo")
        #expect(solo.status == .completed)
        let all = try await fixture.store.auditItems(AuditQuery())
        #expect(all.map(\.instanceID) == ["p1", "s1"], "the customer's rate 0 samples nothing")
        #expect(all.last?.neededReviews == 1 && all.last?.customer == "solo", "the customer's double-review fraction 0")
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)
    }

    @Test func reviewersJudgeBlindOnceEachAndOnlyWithTheCredential() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        _ = try await fixture.submit("b1")
        let id = try #require(try await fixture.store.auditItems(AuditQuery()).first?.id)
        let (ana, _) = try await fixture.store.addReviewer(name: "Ana", credentials: ["agent"], at: 5)
        let (bo, _) = try await fixture.store.addReviewer(name: "Bo", credentials: ["agent"], at: 5)
        let (cy, _) = try await fixture.store.addReviewer(name: "Cy", credentials: ["agent"], at: 5)
        let (lou, _) = try await fixture.store.addReviewer(name: "Lou", credentials: ["attorney"], at: 5)
        let (olu, _) = try await fixture.store.addReviewer(name: "Olu", credentials: [], role: "operator", at: 5)
        let desk = fixture.desk

        // Without the credential: refused, audited, and the item is not listed.
        let outsider = await Self.refusal { try await desk.giveVerdict(item: id, by: lou, judgements: Self.judge()) }
        #expect(outsider?.kind == .forbidden)
        #expect(outsider?.message == "audit item \(id) needs credential 'agent'; Lou (\(lou.id)) holds attorney")
        #expect(try await fixture.store.auditEntries().contains { $0.kind == "verdict_refused" && $0.actor == lou.id && $0.payload["needs"] == "agent" })
        #expect(try await desk.audits(for: lou).isEmpty)
        #expect(await Self.refusal { try await desk.audit(id: id, for: lou) }?.kind == .forbidden)

        // The first review.
        let afterAna = try await desk.giveVerdict(item: id, by: ana, judgements: Self.judge(label: "card_delivery_estimate"))
        #expect(afterAna.reviewsGiven == 1 && afterAna.item.verdicts.map(\.reviewer) == [ana.id] && !afterAna.canReview)
        #expect(try await desk.audits(for: ana).isEmpty, "Ana cannot give the second review, so it is not on her list")
        let again = await Self.refusal { try await desk.giveVerdict(item: id, by: ana, judgements: Self.judge()) }
        #expect(again?.kind == .forbidden)
        #expect(again?.message.contains("already reviewed audit item \(id); its second review must come from another reviewer") == true)

        // Bo sees the item as a second review, blind to Ana's verdict; so does an operator.
        let listed = try await desk.audits(for: bo)
        #expect(listed.map(\.item.id) == [id] && listed.first?.isSecondReview == true && listed.first?.canReview == true)
        #expect(listed.first?.item.verdicts.isEmpty == true, "the second reviewer does not see the first's verdict")
        #expect(try await desk.audit(id: id, for: bo).item.verdicts.isEmpty)
        #expect(try await desk.audit(id: id, for: olu).item.verdicts.isEmpty)
        #expect(try await desk.audit(id: id, for: nil).item.verdicts.isEmpty)
        #expect(try await desk.audits(for: olu).map(\.item.id) == [id])

        // The second review completes the item; now everyone sees both verdicts.
        fixture.clock.set(2_000)
        let done = try await desk.giveVerdict(item: id, by: bo, judgements: Self.judge())
        #expect(done.item.isComplete && done.item.verdicts.map(\.reviewer) == [ana.id, bo.id])
        #expect(done.item.verdicts.last?.at == 2_000 && done.item.verdicts.last?.credential == "agent")
        #expect(try await desk.audit(id: id, for: ana).item.verdicts.count == 2)
        #expect(try await desk.audits(for: cy).isEmpty)
        let late = await Self.refusal { try await desk.giveVerdict(item: id, by: cy, judgements: Self.judge()) }
        #expect(late?.kind == .conflict && late?.message == "audit item \(id) already has its 2 reviews")
        #expect(await Self.refusal { try await desk.giveVerdict(item: id + 50, by: cy, judgements: Self.judge()) }?.kind == .notFound)

        // The verdicts are in the instance's history and the journal verifies.
        let history = try await fixture.store.history(of: "b1").map(\.kind)
        #expect(history.filter { $0 == "audit_verdict" }.count == 2 && history.contains("verdict_refused"))
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)

        // The figures and labels use the first review (Ana's correction).
        let accuracy = try await desk.productionAccuracy(template: "test-template")
        #expect(accuracy.groups.first?.items.first?.estimate.correct == 0 && accuracy.groups.first?.items.first?.estimate.n == 1)
        let agreement = try await desk.agreement(template: "test-template")
        #expect(agreement.doubleReviewed == 1 && agreement.items.first?.agreement.agreed == 0)
        #expect(try await desk.labels(template: "test-template") == [
            ["id": "b1", "input": ["urgent": false, "text": "b1"], "expected": ["classification": ["label": "card_delivery_estimate"], "input": ["urgent": false]]]
        ])
    }

    @Test(arguments: [
        ("an unknown path", [AuditJudgement(path: "classification.lable", correct: true)], "does not judge 'classification.lable'; expected one of: classification.label, input.urgent"),
        (
            "a wrong verdict without a value", [AuditJudgement(path: "classification.label", correct: false), AuditJudgement(path: "input.urgent", correct: true)],
            "a 'wrong' verdict on 'classification.label' needs the correct value"
        ),
        ("a missing path", [AuditJudgement(path: "classification.label", correct: true)], "every judged item needs a verdict; missing: input.urgent"),
        (
            "a path twice", [AuditJudgement(path: "input.urgent", correct: true), AuditJudgement(path: "input.urgent", correct: true)],
            "'input.urgent' is judged twice"
        ),
        (
            "a correction that is the instance's own value",
            [AuditJudgement(path: "classification.label", correct: false, correction: "card_arrival"), AuditJudgement(path: "input.urgent", correct: true)],
            "the correct value given for 'classification.label' is the instance's own value"
        ),
    ])
    func aMalformedVerdictIsRefusedAndChangesNothing(_ what: String, judgements: [AuditJudgement], message: String) async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        _ = try await fixture.submit("m1")
        let id = try #require(try await fixture.store.auditItems(AuditQuery()).first?.id)
        let (ana, _) = try await fixture.store.addReviewer(name: "Ana", credentials: ["agent"], at: 5)
        let refusal = await Self.refusal { try await fixture.desk.giveVerdict(item: id, by: ana, judgements: judgements) }
        #expect(refusal?.kind == .invalid, "\(what)")
        #expect(refusal?.message.contains(message) == true, "\(what): \(String(describing: refusal))")
        #expect(try await fixture.store.auditItem(id: id)?.verdicts.isEmpty == true)
    }
}
