import Foundation
import StewardCore
import StewardEngine
import StewardJSON
import StewardReview
import StewardStoreSQLite
import StewardTemplates
import StewardTesting
import Testing

/// The reviewer desk over a real SQLite store and a manual clock: claims and their expiry, the
/// queue's filters and pages, SLA states, and the edit form generated from the output contract.
@Suite struct ReviewDeskTests {
    static let template = TestPlans.templateText("""
        plugins: [test]
        states:
          route: {kind: step, step: test.route, output: routing, next: draft}
          draft: {kind: step, step: test.draft, output: reply, next: review}
          review:
            kind: checkpoint
            credential: agent
            subject: reply
            decisions: {approve: done, edit: done, reject: done}
          done: {kind: end}
        """)

    struct Fixture {
        let store: SQLiteStore
        let engine: Engine
        let directory: URL
        let clock = ManualEngineClock(milliseconds: 1_000_000)

        /// Instances route to the priorities in `priorities`, one per submission, in order.
        init(priorities: [String]) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-desk-\(UUID().uuidString)")
            store = try SQLiteStore(path: directory.appendingPathComponent("s.db").path)
            let plan = try Plan(validating: TemplateParser.parse(ReviewDeskTests.template, file: "t.yaml"), catalog: nil)
            let invoker = ScriptedStepInvoker([
                "test.route": priorities.map { .output(["queue": "cards", "priority": .string($0)]) },
                "test.draft": priorities.map { _ in .output(["subject": "Re: Lost card", "body": "Hello,\nwe blocked it."]) },
            ])
            engine = Engine(store: store, plans: PlanLibrary([plan]), invoker: invoker, clock: clock, sleeper: RecordingSleeper())
        }

        func desk(claimMinutes: Int64 = 15) -> ReviewDesk { ReviewDesk(engine: engine, claimDuration: claimMinutes * 60_000) }

        func submit(_ id: String, customer: String? = nil, subject: String) async throws {
            let input: JSONValue = ["subject": .string(subject), "body": "Please help.", "customer": ["name": "Jonas"]]
            // A millisecond apart, so the queue's order (deadline, then opening time) is fixed.
            clock.advance(milliseconds: 1)
            let state = try await engine.submit(template: "test-template", customer: customer, input: input, id: id)
            #expect(state.status == .waiting)
        }

        func cleanUp() { try? FileManager.default.removeItem(at: directory) }
    }

    static func refusal(_ body: () async throws -> Void) async -> ReviewError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? ReviewError
        }
    }

    @Test func aClaimReservesTheTaskUntilItLapsesOrIsReleased() async throws {
        let fixture = try Fixture(priorities: ["P1"])
        defer { fixture.cleanUp() }
        try await fixture.submit("c1", subject: "Lost card")
        let desk = fixture.desk()
        let task = try #require(try await fixture.store.openTasks().first)
        let (ana, _) = try await fixture.store.addReviewer(name: "Ana Agent", credentials: ["agent"], at: 5)
        let (bo, _) = try await fixture.store.addReviewer(name: "Bo Agent", credentials: ["agent"], at: 5)
        let (lou, _) = try await fixture.store.addReviewer(name: "Lou", credentials: ["attorney"], at: 5)

        #expect(await Self.refusal { try await desk.claim(task: task.id, by: lou) }?.kind == .forbidden, "no credential, no claim")
        let claim = try await desk.claim(task: task.id, by: ana)
        #expect(claim.reviewer == ana.id && claim.until == 1_000_001 + 15 * 60_000)
        #expect(try await fixture.store.auditEntries().contains { $0.kind == "task_claimed" && $0.actor == ana.id })

        // Bo can neither take it nor decide it, and is told who holds it until when.
        let taken = await Self.refusal { try await desk.claim(task: task.id, by: bo) }
        #expect(taken?.kind == .claimed)
        #expect(taken?.message == "task \(task.id) is claimed by Ana Agent until 1970-01-01 00:31 UTC", "\(String(describing: taken))")
        let decided = await Self.refusal { _ = try await desk.decide(task: task.id, by: bo, decision: .approve) }
        #expect(decided?.kind == .claimed && decided?.message.contains("once the claim lapses or is released") == true)
        #expect(await Self.refusal { try await desk.release(task: task.id, by: bo) }?.kind == .forbidden, "only the claimer releases")

        // Renewing moves the end; after it lapses, Bo may claim.
        fixture.clock.advance(milliseconds: 10 * 60_000)
        #expect(try await desk.claim(task: task.id, by: ana).until == 1_000_001 + 25 * 60_000)
        fixture.clock.advance(milliseconds: 15 * 60_000)
        #expect(try await desk.holdingClaims(tasks: [task.id]).isEmpty, "the renewed claim lapsed")
        #expect(try await desk.claim(task: task.id, by: bo).reviewer == bo.id)

        // Bo releases; Ana claims again and decides.
        #expect(try await desk.release(task: task.id, by: bo))
        #expect(!(try await desk.release(task: task.id, by: bo)), "nothing left to release")
        try await desk.claim(task: task.id, by: ana)
        _ = try await desk.decide(task: task.id, by: ana, decision: .approve)
        #expect(await Self.refusal { try await desk.claim(task: task.id, by: bo) }?.kind == .conflict, "a decided task takes no claim")
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)
    }

    @Test func theQueueFiltersByPriorityCustomerAndCredentialAndPages() async throws {
        let fixture = try Fixture(priorities: ["P1", "P3", "P1", "P1"])
        defer { fixture.cleanUp() }
        try await fixture.submit("q1", customer: "acme", subject: "Lost card")
        try await fixture.submit("q2", customer: "acme", subject: "Card arrival")
        try await fixture.submit("q3", customer: "harbour", subject: "Stolen wallet")
        try await fixture.submit("q4", customer: "acme", subject: "Fraud on my card")
        let desk = fixture.desk()
        let (ana, _) = try await fixture.store.addReviewer(name: "Ana", credentials: ["agent"], at: 5)
        let (bo, _) = try await fixture.store.addReviewer(name: "Bo", credentials: ["agent"], at: 5)
        let (lou, _) = try await fixture.store.addReviewer(name: "Lou", credentials: ["attorney"], at: 5)

        let all = try await desk.desk(for: ana, filter: DeskFilter())
        #expect(all.total == 4 && all.pageCount == 1)
        #expect(all.entries.map(\.summary) == ["Lost card", "Card arrival", "Stolen wallet", "Fraud on my card"])
        #expect(all.entries.map(\.priority) == ["P1", "P3", "P1", "P1"], "the priority from the routing output")
        #expect(all.entries.allSatisfy { $0.customerName == "Jonas" && $0.sla == .none })
        #expect(all.priorities == ["P1", "P3"] && all.customers == ["acme", "harbour"] && all.credentials == ["agent"])

        let p1 = try await desk.desk(for: ana, filter: DeskFilter(priority: "P1", pageSize: 2))
        #expect(p1.total == 3 && p1.pageCount == 2 && p1.entries.map(\.summary) == ["Lost card", "Stolen wallet"])
        let second = try await desk.desk(for: ana, filter: DeskFilter(priority: "P1", page: 2, pageSize: 2))
        #expect(second.entries.map(\.summary) == ["Fraud on my card"] && second.filter.page == 2)
        let beyond = try await desk.desk(for: ana, filter: DeskFilter(priority: "P1", page: 9, pageSize: 2))
        #expect(beyond.filter.page == 2, "a page past the end shows the last one")
        let acmeP1 = try await desk.desk(for: ana, filter: DeskFilter(customer: "acme", priority: "P1"))
        #expect(acmeP1.entries.map(\.summary) == ["Lost card", "Fraud on my card"])

        // Claims show on the row with the claimer's name.
        let lost = try #require(all.entries.first?.task.id)
        try await desk.claim(task: lost, by: bo)
        let seen = try await desk.desk(for: ana, filter: DeskFilter(priority: "P1"))
        #expect(seen.entries.first?.claimedBy == "Bo" && seen.entries.first?.claim?.reviewer == bo.id)

        // Next: after "Lost card" (held by Bo) comes "Card arrival"; after the last, the first free one.
        let ids = all.entries.map(\.task.id)
        #expect(try await desk.nextTask(after: ids[0], for: ana)?.id == ids[1])
        #expect(try await desk.nextTask(after: ids[3], for: ana)?.id == ids[1], "wraps around, skipping the task Bo holds")
        #expect(try await desk.nextTask(after: nil, for: bo)?.id == ids[0], "Bo's own claim does not hold him back")
        #expect(try await desk.nextTask(after: ids[0], for: lou) == nil)
        #expect(try await desk.desk(for: lou, filter: DeskFilter()).total == 0, "other credentials see nothing")
        #expect(await Self.refusal { _ = try await desk.desk(for: lou, filter: DeskFilter(credential: "agent")) }?.kind == .forbidden)
    }

    @Test func theSLAStateFollowsTheWarningTimerTheEscalationAndTheDeadline() {
        var task = ReviewTask(
            id: 1, instanceID: "i", template: "t", customer: nil, state: "review", credential: "agent", status: "open", subject: .null,
            decisions: [.approve], openedAt: 0, dueAt: 1_000, escalationLevel: 0, assigned: nil, decidedAt: nil, decision: nil, reviewer: nil)
        let pending: [(kind: String, dueAt: Int64)] = [(TimerFired.slaWarning, 750), (TimerFired.slaBreach, 1_000)]
        #expect(SLAState.of(task, pending: pending, now: 100) == .ok)
        #expect(SLAState.of(task, pending: pending, now: 750) == .warning, "the warning time is reached")
        #expect(SLAState.of(task, pending: [(TimerFired.slaBreach, 1_000)], now: 100) == .warning, "the warning timer fired")
        #expect(SLAState.of(task, pending: pending, now: 1_000) == .breached)
        task.escalationLevel = 1
        #expect(SLAState.of(task, pending: pending, now: 100) == .warning, "escalated")
        task.dueAt = nil
        #expect(SLAState.of(task, pending: [], now: 5_000) == .none)
    }

    @Test func theEditFormFollowsTheOutputContractAndNamesEachBadField() throws {
        let reply: JSONValue = ["subject": "Re: Lost card", "body": "Hello,\nwe blocked it.", "confidence": 0.8, "attempts": 2, "tags": ["a"]]
        let form = OutputForm(original: reply)
        #expect(form.fields.map(\.name) == ["field.subject", "field.body", "field.attempts", "field.confidence", "field.tags"])
        #expect(form.fields[0].control == .text(rows: 1) && form.fields[1].label == "Body")
        #expect(form.fields[2].control == .number(integer: true) && form.fields[3].control == .number(integer: false))
        if case .json = form.fields[4].control {} else { Issue.record("a list is edited as JSON, found \(form.fields[4].control)") }

        let edited = OutputForm.parse(
            ["field.subject": "Re: Your card", "field.body": "Hi,\r\nit is blocked.", "field.attempts": "3", "field.confidence": "0.9", "field.tags": "[\"b\"]"],
            original: reply)
        #expect(try edited.get() == ["subject": "Re: Your card", "body": "Hi,\nit is blocked.", "confidence": 0.9, "attempts": 3, "tags": ["b"]])

        let bad = OutputForm.parse(["field.body": "  ", "field.attempts": "three", "field.confidence": "high", "field.tags": "[b"], original: reply)
        guard case .failure(let problems) = bad else { Issue.record("bad fields were accepted"); return }
        #expect(problems.messages["field.body"] == "Body cannot be empty.")
        #expect(problems.messages["field.attempts"] == "Attempts must be a whole number, like 2; found 'three'.")
        #expect(problems.messages["field.confidence"] == "Confidence must be a number, like 0.8; found 'high'.")
        #expect(problems.messages["field.tags"]?.hasPrefix("Tags is not valid JSON") == true)
        #expect(problems.messages["field.subject"] == nil, "a field left out keeps its value")

        // A classification's label is chosen from its alternatives.
        let classification: JSONValue = ["label": "card_arrival", "confidence": 0.6, "alternatives": [["label": "lost_or_stolen_card", "confidence": 0.3]]]
        let choice = OutputForm(original: classification).fields.first { $0.key == "label" }
        #expect(choice?.control == .choice(options: ["card_arrival", "lost_or_stolen_card"]))
        #expect(try OutputForm.parse(["field.label": "lost_or_stolen_card"], original: classification).get()["label"] == "lost_or_stolen_card")
    }
}
