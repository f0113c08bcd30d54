import Foundation
import GRDB
import StewardCore
import StewardEngine
import StewardJSON
@testable import StewardStoreSQLite
import StewardTemplates
import StewardTesting
import Testing

/// Snapshots and journal payloads are stored deflated when that pays; reads, replay and the
/// hash chain see the same text as before, rows written as plain text still read, and a
/// damaged stored document is a finding of `audit verify`, not a crash.
@Suite struct StoredTextTests {
    static let template = TestPlans.templateText("""
        plugins: [test]
        states:
          work: {kind: step, step: test.work, output: drafted, next: review}
          review:
            kind: checkpoint
            credential: agent
            subject: drafted
            decisions: {approve: done}
          done: {kind: end, output: {reply: drafted}}
        """)

    /// A reply of 1.2 KB of ordinary prose, like a long drafted answer (journal payloads of 1 KiB and more are deflated).
    static let reply: JSONValue = [
        "subject": "Re: my card was stolen",
        "body": .string(String(repeating: "Thank you for telling us. We have blocked the card ending 4821 and ordered a new one. ", count: 14)),
        "confidence": 0.93,
    ]

    struct Fixture {
        let store: SQLiteStore
        let engine: Engine
        let directory: URL

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-stored-\(UUID().uuidString)")
            store = try SQLiteStore(path: directory.appendingPathComponent("s.db").path)
            let plan = try Plan(validating: TemplateParser.parse(StoredTextTests.template, file: "t.yaml"), catalog: nil)
            let invoker = ScriptedStepInvoker(["test.work": Array(repeating: .output(StoredTextTests.reply), count: 4)])
            engine = Engine(store: store, plans: PlanLibrary([plan]), invoker: invoker, clock: ManualEngineClock(milliseconds: 1_000), sleeper: RecordingSleeper())
        }

        func sql(_ statement: String) async throws {
            try await store.pool.write { db in try db.execute(sql: statement) }
        }

        func value<T: DatabaseValueConvertible & Sendable & SendableMetatype>(_ query: String) async throws -> T? {
            try await store.pool.read { db in try T.fetchOne(db, sql: query) }
        }
    }

    @Test func shortAndIncompressibleTextStaysTextAndTheRestRoundTrips() throws {
        #expect(StoredText("{\"n\":1}", threshold: StoredText.snapshotThreshold).isText)
        var generator = SystemRandomNumberGenerator()
        let noise = String((0..<400).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7e, using: &generator))) })
        #expect(StoredText(noise, threshold: StoredText.snapshotThreshold).isText, "400 random printable bytes do not deflate by an eighth")
        let long = StoredTextTests.reply.jsonString
        #expect(StoredText(long, threshold: long.utf8.count + 1).isText, "under its threshold a document stays text")
        let stored = StoredText(long, threshold: StoredText.payloadThreshold)
        guard case .deflated(let blob) = stored else {
            Issue.record("a \(long.utf8.count)-byte reply stayed text")
            return
        }
        #expect(blob.count < long.utf8.count / 2, "\(blob.count) of \(long.utf8.count) bytes")
        #expect(try stored.decoded() == long)
        let unicode = String(repeating: "Grüße aus Zürich, 東京 and 🚀 ", count: 20)
        #expect(try StoredText(unicode, threshold: StoredText.snapshotThreshold).decoded() == unicode)
    }

    @Test func aFinishedInstanceIsStoredDeflatedAndReadsReplaysAndVerifiesAsBefore() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let waiting = try await fixture.engine.submit(template: "test-template", input: ["ticket": .string(String(repeating: "help ", count: 250))], id: "d1")
        #expect(waiting.status == .waiting)
        #expect(try await fixture.value("SELECT typeof(state) FROM instances WHERE id = 'd1'") == "blob", "a waiting snapshot is deflated")
        let reviewer = try await fixture.store.addReviewer(name: "Ana", credentials: ["agent"], at: 1).0
        let done = try await fixture.engine.decide(
            instance: "d1", CheckpointDecision(state: "review", decision: .approve, reviewer: reviewer.id, credential: "agent"))
        #expect(done.status == .completed)

        #expect(try await fixture.value("SELECT typeof(state) FROM instances WHERE id = 'd1'") == "blob")
        let deflatedRows: Int? = try await fixture.value("SELECT count(*) FROM journal WHERE typeof(payload) = 'blob'")
        #expect((deflatedRows ?? 0) >= 2, "the start and the drafted reply are deflated")
        #expect(try await fixture.store.instance(id: "d1") == done)
        #expect(try await fixture.engine.currentState(id: "d1") == done)
        let history = try await fixture.store.history(of: "d1")
        #expect(history.map(\.kind) == ["started", "step_succeeded", "checkpoint_decided"])
        #expect(history[1].payload["output"] == StoredTextTests.reply)
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)

        // A fresh replay of the stored events rebuilds the stored snapshot exactly.
        let plan = try Plan(validating: TemplateParser.parse(StoredTextTests.template, file: "t.yaml"), catalog: nil)
        let (snapshot, events) = try #require(try await fixture.store.instancesWithEvents(after: nil, limit: 10).first)
        let pending = InstanceState(id: "d1", template: plan.name, templateVersion: plan.version, customer: nil)
        let replayed = try await fixture.engine.replay(events, onto: pending, plan: plan, config: .object([:])).state
        #expect(replayed == snapshot)
    }

    @Test func rowsWrittenAsPlainTextByEarlierVersionsStillRead() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let waiting = try await fixture.engine.submit(template: "test-template", input: ["ticket": .string(String(repeating: "help ", count: 250))], id: "p1")
        // Rewrite every stored document as an earlier version wrote it: plain TEXT.
        let rows = try await fixture.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, payload FROM journal").map { row -> (Int64, String) in (row["id"], try StoredText.text(row, "payload")) }
        }
        let state = try await fixture.store.pool.read { db in
            try StoredText.text(try #require(try Row.fetchOne(db, sql: "SELECT state FROM instances WHERE id = 'p1'")), "state")
        }
        try await fixture.store.pool.write { db in
            for (id, text) in rows { try db.execute(sql: "UPDATE journal SET payload = ? WHERE id = ?", arguments: [text, id]) }
            try db.execute(sql: "UPDATE instances SET state = ? WHERE id = 'p1'", arguments: [state])
        }
        #expect(try await fixture.value("SELECT count(*) FROM journal WHERE typeof(payload) = 'blob'") == 0)
        #expect(try await fixture.store.instance(id: "p1") == waiting)
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)
        #expect(try await fixture.store.history(of: "p1").count == 2)
    }

    @Test func aDamagedDeflatedPayloadIsReportedByVerification() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        _ = try await fixture.engine.submit(template: "test-template", input: ["ticket": .string(String(repeating: "help ", count: 250))], id: "x1")
        let id: Int64 = try #require(try await fixture.value("SELECT id FROM journal WHERE typeof(payload) = 'blob' AND kind = 'step_succeeded'"))
        #expect(try await fixture.store.verifyJournal().problems.isEmpty)

        // Truncate the deflate stream: it no longer inflates to its recorded length.
        try await fixture.sql("UPDATE journal SET payload = substr(payload, 1, length(payload) - 9) WHERE id = \(id)")
        let report = try await fixture.store.verifyJournal()
        #expect(report.problems.contains { $0.contains("journal row \(id)") && $0.contains("damaged") }, "\(report.problems)")
        #expect(report.rowsChecked == 2, "the check went on past the damaged row")
        await #expect(throws: StoredTextError.self) { _ = try await fixture.store.history(of: "x1") }
    }
}

extension StoredText {
    var isText: Bool {
        if case .text = self { return true }
        return false
    }
}
