import Foundation
import GRDB
import StewardDigest
import StewardJSON
import StewardReview
import StewardCore
import StewardEngine
import StewardReview
@testable import StewardStoreSQLite
import StewardTemplates
import StewardTesting
import Testing

@Suite struct SHA256Tests {
    // FIPS 180-4 / NIST test vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (String(repeating: "a", count: 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ])
    func knownDigests(message: String, hex: String) {
        #expect(SHA256.hex(Array(message.utf8)) == hex)
    }

    /// 55, 56, 63, 64... bytes straddle the padding boundaries; coreutils' sha256sum is the oracle.
    @Test func paddingBoundariesAgreeWithTheSystemTool() throws {
        for length in [55, 56, 63, 64, 65, 119, 120] {
            let message = String(repeating: "x", count: length)
            // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess.
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-sha-\(UUID().uuidString)")
            defer { for suffix in ["", ".out"] { try? FileManager.default.removeItem(atPath: scratch.path + suffix) } }
            try Data(message.utf8).write(to: scratch)
            _ = try ChildProcess.run("sha256sum", [scratch.path], stdout: scratch.path + ".out")
            let text = String(decoding: FileManager.default.contents(atPath: scratch.path + ".out") ?? Data(), as: UTF8.self)
            #expect(SHA256.hex(Array(message.utf8)) == String(text.prefix(64)), "length \(length)")
        }
    }
}

/// The SQLite store on its own: sequence checks, idempotent submission, group commit, the
/// hash chain, review tasks and reviewers.
@Suite struct SQLiteStoreTests {
    static let template = TestPlans.templateText("""
        plugins: [test]
        states:
          work: {kind: step, step: test.work, next: review}
          review:
            kind: checkpoint
            credential: agent
            subject: work
            decisions: {approve: done, edit: done, reject: refused}
          done: {kind: end}
          refused: {kind: end, status: rejected}
        """)

    struct Fixture {
        let store: SQLiteStore
        let engine: Engine
        let plan: Plan
        let directory: URL

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-store-\(UUID().uuidString)")
            store = try SQLiteStore(path: directory.appendingPathComponent("s.db").path)
            plan = try Plan(validating: TemplateParser.parse(SQLiteStoreTests.template, file: "t.yaml"), catalog: nil)
            let invoker = ScriptedStepInvoker(["test.work": [.output(["answer": 42, "note": "draft"])]])
            engine = Engine(store: store, plans: PlanLibrary([plan]), invoker: invoker, clock: ManualEngineClock(milliseconds: 1_000), sleeper: RecordingSleeper())
        }
    }

    @Test func createsItsFileAndSchemaOnFirstUse() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let tables = try fixture.store.pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") }
        for table in ["instances", "journal", "labelled_examples", "notifications", "review_tasks", "reviewers", "timers"] {
            #expect(tables.contains(table), "\(table)")
        }
        let mode = try fixture.store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        // The writer's setting is the one that matters (GRDB's WAL set-up would leave it NORMAL).
        let synchronous = try fixture.store.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(synchronous == 2, "FULL: an acknowledged commit is on disk")
        // Opening again migrates nothing and keeps the data.
        _ = try SQLiteStore(path: fixture.store.path)
    }

    @Test func aCommitWithAStaleSequenceIsAConflictAndChangesNothing() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let state = try await fixture.engine.submit(template: "test-template", input: ["q": 1], id: "i1")
        #expect(state.status == .waiting)
        let before = try await fixture.store.history(of: "i1")
        var stale = state
        stale.sequence = state.sequence // should be stored + 1
        await #expect(throws: StoreConflict.self) {
            try await fixture.store.commit(InstanceCommit(state: stale, event: .stepSucceeded(state: "work", attempt: 1, output: [:]), actor: "engine", at: 2))
        }
        #expect(try await fixture.store.history(of: "i1") == before)
        #expect(try await fixture.store.instance(id: "i1") == state)
    }

    @Test func submissionWithAClientKeyIsIdempotent() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let first = try await fixture.engine.submit(template: "test-template", input: ["q": 1], id: "a", clientKey: "order-7")
        let second = try await fixture.engine.submit(template: "test-template", input: ["q": 2], id: "b", clientKey: "order-7")
        #expect(second.id == first.id)
        #expect(try await fixture.store.instances().count == 1)
    }

    @Test func concurrentCommitsShareTransactionsAndAllLand() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<300 {
                group.addTask { _ = try await fixture.engine.submit(template: "test-template", input: ["n": .integer(Int64(index))], id: "c\(index)") }
            }
            try await group.waitForAll()
        }
        #expect(try await fixture.store.countByStatus()[.waiting] == 300)
        let rows = try await fixture.store.verifyJournal()
        #expect(rows.rowsChecked == 600)
        #expect(rows.problems.isEmpty)
        #expect(try await fixture.store.openTasks(credentials: nil, limit: 1_000).count == 300)
    }

    @Test func theChainDetectsAnEditedADeletedAndAnInsertedRow() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        for index in 0..<3 { _ = try await fixture.engine.submit(template: "test-template", input: ["n": .integer(Int64(index))], id: "h\(index)") }
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)

        try await fixture.store.pool.write { db in try db.execute(sql: "UPDATE journal SET payload = replace(payload, '42', '43') WHERE id = 2") }
        var report = try await fixture.store.verifyJournal()
        #expect(report.problems.first?.contains("journal row 2") == true, "\(report.problems)")

        try await fixture.store.pool.write { db in try db.execute(sql: "UPDATE journal SET payload = replace(payload, '43', '42') WHERE id = 2") }
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)

        try await fixture.store.pool.write { db in try db.execute(sql: "DELETE FROM journal WHERE id = 3") }
        report = try await fixture.store.verifyJournal()
        #expect(report.problems.contains { $0.contains("3...3 are missing") }, "\(report.problems)")
    }

    @Test func deletingTheNewestRowsIsDetectedToo() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        _ = try await fixture.engine.submit(template: "test-template", input: ["n": 1], id: "t1")
        _ = try await fixture.store.addReviewer(name: "Ana", credentials: ["agent"], at: 5)
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)
        // The newest row is an audit entry, which no instance replay would miss.
        try await fixture.store.pool.write { db in try db.execute(sql: "DELETE FROM journal WHERE id = (SELECT MAX(id) FROM journal)") }
        let report = try await fixture.store.verifyJournal()
        #expect(report.problems.contains { $0.contains("rows were deleted from the end") }, "\(report.problems)")
    }

    @Test func anInstanceKeepsTheConfigItStartedWith() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let text = TestPlans.templateText("""
            plugins: [test]
            config: {greeting: hello}
            states:
              wait:
                kind: checkpoint
                credential: agent
                decisions: {approve: done}
              done: {kind: end, output: {greeting: config.greeting}}
            """, name: "pinned")
        let original = try Plan(validating: TemplateParser.parse(text, file: "p.yaml"), catalog: nil)
        let engine = Engine(store: fixture.store, plans: PlanLibrary([original]), invoker: ScriptedStepInvoker(), sleeper: RecordingSleeper())
        let started = try await engine.submit(template: "pinned", input: [:], id: "p1")
        #expect(started.configHash?.count == 32)

        // The template's config changes (without a version bump) while p1 waits.
        let changed = try Plan(validating: TemplateParser.parse(text.replacingOccurrences(of: "greeting: hello", with: "greeting: bonjour"), file: "p.yaml"), catalog: nil)
        let later = Engine(store: fixture.store, plans: PlanLibrary([changed]), invoker: ScriptedStepInvoker(), sleeper: RecordingSleeper())
        let final = try await later.decide(instance: "p1", CheckpointDecision(state: "wait", decision: .approve, reviewer: "rv", credential: "agent"))
        #expect(final.output?["greeting"] == "hello", "p1 runs with the config it started with")
        let fresh = try await later.submit(template: "pinned", input: [:], id: "p2")
        #expect(fresh.configHash != started.configHash)
        // And it replays with it.
        let report = try await Auditor(engine: later).verify()
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    @Test func reviewTasksOpenAndCloseWithTheirEventsAndEditsBecomeLabelledExamples() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        _ = try await fixture.engine.submit(template: "test-template", input: ["q": "why?"], id: "r1")
        let task = try #require(try await fixture.store.openTasks(credentials: ["agent"]).first)
        #expect(task.subject == ["answer": 42, "note": "draft"])
        #expect(task.decisions == [.approve, .edit, .reject])
        #expect(try await fixture.store.openTasks(credentials: ["attorney"]).isEmpty)

        let (agent, token) = try await fixture.store.addReviewer(name: "Ana", credentials: ["agent"], at: 5)
        // The token is stored hashed: it appears nowhere in the database file.
        let stored = try await fixture.store.pool.read { db in try String.fetchAll(db, sql: "SELECT token_hash FROM reviewers") }
        #expect(!stored.contains(token))
        #expect(try await fixture.store.reviewer(token: token)?.id == agent.id)
        #expect(try await fixture.store.reviewer(token: token + "x") == nil)

        let desk = ReviewDesk(engine: fixture.engine)
        let final = try await desk.decide(task: task.id, by: agent, decision: .edit, output: ["answer": 41, "note": "fixed"])
        #expect(final.status == .completed)
        #expect(try await fixture.store.task(id: task.id)?.status == "decided")
        let examples = try await fixture.store.labelledExamples()
        #expect(examples.count == 1)
        #expect(examples.first?["model_output"] == ["answer": 42, "note": "draft"])
        #expect(examples.first?["human_output"] == ["answer": 41, "note": "fixed"])
        #expect(examples.first?["input"] == ["q": "why?"])
        #expect(examples.first?["reviewer"] == .string(agent.id))

        // Removing a reviewer revokes the token at once, and the journal says who did it.
        #expect(try await fixture.store.removeReviewer(id: agent.id, by: "operator", at: 9))
        #expect(try await fixture.store.reviewer(token: token) == nil)
        #expect(try await fixture.store.removeReviewer(id: agent.id, by: "operator", at: 9) == false)
        #expect(try await fixture.store.auditEntries().contains { $0.kind == "reviewer_removed" && $0.payload["id"] == .string(agent.id) })
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)
    }

    @Test func refusedDecisionsChangeNothingButAreAudited() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        _ = try await fixture.engine.submit(template: "test-template", input: ["q": 1], id: "d1")
        let task = try #require(try await fixture.store.openTasks().first)
        let (agent, _) = try await fixture.store.addReviewer(name: "Ana", credentials: ["agent"], at: 5)
        let (lawyer, _) = try await fixture.store.addReviewer(name: "Lou", credentials: ["attorney"], at: 5)
        let desk = ReviewDesk(engine: fixture.engine)
        let before = try await fixture.store.instance(id: "d1")

        #expect(await Self.refusal { try await desk.decide(task: task.id, by: lawyer, decision: .approve) } == .forbidden)
        #expect(await Self.refusal { try await desk.decide(task: task.id, by: agent, decision: .edit, output: ["answer": "x"]) } == .invalid)
        #expect(await Self.refusal { try await desk.decide(task: task.id, by: agent, decision: .edit, output: nil) } == .invalid)
        #expect(await Self.refusal { try await desk.decide(task: task.id, by: agent, decision: .reject, reason: "  ") } == .invalid)
        #expect(try await fixture.store.instance(id: "d1") == before, "refusals change nothing")
        let audit = try await fixture.store.auditEntries()
        #expect(audit.contains { $0.kind == "decision_refused" && $0.actor == lawyer.id && $0.payload["needs"] == "agent" })

        _ = try await desk.decide(task: task.id, by: agent, decision: .approve)
        #expect(await Self.refusal { try await desk.decide(task: task.id, by: agent, decision: .approve) } == .conflict)
        #expect(await Self.refusal { try await desk.decide(task: 999, by: agent, decision: .approve) } == .notFound)
    }
}

extension SQLiteStoreTests {
    /// The kind of the `ReviewError` `body` throws (nil when it succeeds or throws another error).
    static func refusal(_ body: () async throws -> InstanceState) async -> ReviewError.Kind? {
        do {
            _ = try await body()
            return nil
        } catch {
            return (error as? ReviewError)?.kind
        }
    }
}
