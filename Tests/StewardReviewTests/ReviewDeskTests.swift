import Foundation
import StewardCore
import StewardEngine
import StewardJSON
import StewardReview
import StewardStoreSQLite
import StewardTemplates
import StewardTesting
import Testing

/// The reviewer desk over a real SQLite store and a manual clock: claims and their expiry.
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
}
