import Foundation
import GRDB
import StewardCore
import StewardDigest
import StewardEngine
import StewardJSON
import StewardReview
@testable import StewardStoreSQLite
import Testing

/// Each attack of someone who can write the database file, reproduced against a store with
/// reviewers, decided and open tasks and refused decisions; each must be reported, by the
/// chain and table checks or, for a consistently re-hashed journal, by a signed head.
@Suite struct AuditTrailTests {
    typealias Fixture = SQLiteStoreTests.Fixture

    /// A store where Ana approved a1, Lou (no credential) was refused on a2, and a2 waits.
    struct Scene {
        let fixture: Fixture
        let ana: Reviewer
        let lou: Reviewer
        let key = AuditSigningKey()
        var store: SQLiteStore { fixture.store }

        init() async throws {
            fixture = try Fixture()
            _ = try await fixture.engine.submit(template: "test-template", input: ["q": 1], id: "a1")
            _ = try await fixture.engine.submit(template: "test-template", input: ["q": 2], id: "a2")
            (ana, _) = try await fixture.store.addReviewer(name: "Ana", credentials: ["agent"], at: 5)
            (lou, _) = try await fixture.store.addReviewer(name: "Lou", credentials: ["attorney"], at: 6)
            let desk = ReviewDesk(engine: fixture.engine)
            let tasks = try await fixture.store.openTasks()
            let first = try #require(tasks.first { $0.instanceID == "a1" })
            let second = try #require(tasks.first { $0.instanceID == "a2" })
            _ = try await desk.decide(task: first.id, by: ana, decision: .approve)
            _ = try? await desk.decide(task: second.id, by: lou, decision: .approve)
            #expect(try await fixture.store.auditEntries().contains { $0.kind == "decision_refused" })
        }

        /// A head signed now, as an operator would export it.
        func signedHead() async throws -> SignedAuditHead { try key.sign(try await store.journalHead(), at: 1_000) }

        /// The full audit (chain, tables, replay) against `head`.
        func audit(expecting head: SignedAuditHead? = nil) async throws -> [String] {
            try await Auditor(engine: fixture.engine).verify(expecting: head, publicKey: head.map { _ in key.publicKey }).problems
        }

        func sql(_ text: String) async throws { try await store.pool.write { db in try db.execute(sql: text) } }

        /// Rewrites every deflated payload and snapshot as plain text (which the store reads
        /// as well), so an attack can edit them with SQL's `replace`, as an attacker would
        /// after inflating them.
        func storeAsPlainText() async throws {
            try await store.pool.write { db in
                for row in try Row.fetchAll(db, sql: "SELECT id, payload FROM journal WHERE typeof(payload) = 'blob'") {
                    try db.execute(sql: "UPDATE journal SET payload = ? WHERE id = ?", arguments: [try StoredText.text(row, "payload"), row["id"] as Int64])
                }
                for row in try Row.fetchAll(db, sql: "SELECT rowid, state FROM instances WHERE typeof(state) = 'blob'") {
                    try db.execute(sql: "UPDATE instances SET state = ? WHERE rowid = ?", arguments: [try StoredText.text(row, "state"), row["rowid"] as Int64])
                }
            }
        }

        /// What an attacker who knows the algorithm does after editing: renumber the journal
        /// 1...n and recompute every hash and the recorded end, so the chain is consistent.
        func rehash() async throws {
            try await store.pool.write { db in
                let rows = try Row.fetchAll(db, sql: "SELECT j.*, i.id AS instance_id FROM journal j LEFT JOIN instances i ON i.rowid = j.instance ORDER BY j.id")
                try db.execute(sql: "DELETE FROM journal")
                var chain = ChainHead(lastID: 0, lastHash: ChainHead.genesis)
                for row in rows {
                    try Journal.append(
                        kind: row["kind"], instance: row["instance"], instanceID: row["instance_id"], seq: row["seq"], at: row["at"],
                        actor: row["actor"], payload: try StoredText.text(row, "payload"), authority: row["authority"], chain: &chain, db: db)
                }
                try db.execute(sql: "DELETE FROM chain_head")
                try chain.save(db)
            }
        }

        func cleanUp() { try? FileManager.default.removeItem(at: fixture.directory) }
    }

    @Test func anUntouchedStoreVerifiesWithAndWithoutItsSignedHead() async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        let head = try await scene.signedHead()
        #expect(try await scene.audit().isEmpty)
        #expect(try await scene.audit(expecting: head).isEmpty)
        // Work after the head was taken does not break it.
        _ = try await scene.fixture.engine.submit(template: "test-template", input: ["q": 3], id: "a3")
        #expect(try await scene.audit(expecting: head).isEmpty)
    }

    @Test func anOperatorInsertedIntoReviewersIsReported() async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        try await scene.sql("""
            INSERT INTO reviewers (id, name, token_hash, credentials, role, created_at)
            VALUES ('rv-evil', 'Eve', '\(SHA256.hex(Array("stw_evil".utf8)))', '["agent"]', 'operator', 7)
            """)
        let problems = try await scene.audit()
        #expect(problems.contains { $0.contains("reviewer rv-evil") && $0.contains("no journal entry added it") }, "\(problems)")
    }

    @Test func aReviewerGivenAnotherTokenOrMoreCredentialsIsReported() async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        try await scene.sql("UPDATE reviewers SET token_hash = '\(SHA256.hex(Array("stw_stolen".utf8)))' WHERE id = '\(scene.ana.id)'")
        try await scene.sql("UPDATE reviewers SET credentials = '[\"attorney\",\"agent\"]', role = 'operator' WHERE id = '\(scene.lou.id)'")
        let problems = try await scene.audit()
        #expect(problems.contains { $0.contains("reviewer \(scene.ana.id): token hash differ") }, "\(problems)")
        #expect(problems.contains { $0.contains("reviewer \(scene.lou.id): credentials, role differ") }, "\(problems)")
        // Deleting a reviewer's row without a reviewer_removed entry is a difference too.
        try await scene.sql("DELETE FROM reviewers WHERE id = '\(scene.ana.id)'")
        #expect(try await scene.audit().contains { $0.contains("reviewer \(scene.ana.id) was added in the journal") })
    }

    @Test(arguments: [
        ("UPDATE review_tasks SET status = 'decided', decision = 'approve', reviewer = 'rv-x', decided_at = 9 WHERE status = 'open'",
         "status, decided_at, decision, reviewer differ"),
        ("UPDATE review_tasks SET reviewer = 'rv-x' WHERE status = 'decided'", "reviewer differ"),
        ("UPDATE review_tasks SET credential = 'intern' WHERE status = 'open'", "credential differ"),
        ("UPDATE review_tasks SET assigned = 'intern', escalation_level = 2 WHERE status = 'open'", "escalation_level, assigned differ"),
        ("UPDATE review_tasks SET subject = '{\"answer\":1}' WHERE status = 'open'", "subject differ"),
        ("DELETE FROM review_tasks WHERE status = 'open'", "missing from the review_tasks table"),
        ("INSERT INTO review_tasks (instance, state, credential, status, subject, decisions, opened_at) VALUES (1, 'other', 'agent', 'open', '{}', 'approve', 1)",
         "was opened by no journal entry"),
    ])
    func anEditedReviewTaskIsReported(_ attack: String, reported: String) async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        try await scene.sql(attack)
        let problems = try await scene.audit()
        #expect(problems.contains { $0.contains("review task") && $0.contains(reported) }, "\(attack): \(problems)")
    }

    @Test(arguments: [
        ("UPDATE audit_verdicts SET judgements = replace(judgements, 'wrong', 'correct')", "verdict 1 on audit item 1: judgements differ"),
        ("UPDATE audit_verdicts SET reviewer = 'rv-x'", "verdict 1 on audit item 1: reviewer differ"),
        ("DELETE FROM audit_verdicts", "verdict 1 on audit item 1 was journalled but is missing from the audit_verdicts table"),
        ("INSERT INTO audit_verdicts (item, ordinal, reviewer, credential, judgements, at) VALUES (1, 2, 'rv-x', 'agent', '[]', 9)",
         "verdict 2 on audit item 1 (by rv-x) was recorded by no journal entry"),
        ("UPDATE audit_items SET items = replace(items, 'card_arrival', 'card_swallowed')", "audit item 1 (s1 at review): items, bindings, input or rate differ"),
        ("UPDATE audit_items SET needed_reviews = 2, credential = 'intern'", "audit item 1 (s1 at review): credential, needed_reviews differ"),
        ("DELETE FROM audit_verdicts; DELETE FROM audit_items", "audit item 1 was sampled in the journal but is missing from the audit_items table"),
        ("""
            INSERT INTO audit_items (instance, state, visit, template, version, customer, credential, items, bindings, input, rate, needed_reviews, created_at)
            SELECT instance, state, visit + 1, template, version, customer, credential, items, bindings, input, rate, needed_reviews, created_at FROM audit_items
            """, "audit item 2 (s1 at review) was sampled by no journal entry"),
    ])
    func anEditedAuditItemOrVerdictIsReported(_ attack: String, reported: String) async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        var sampled = InstanceCommit(state: InstanceState(id: "s1", template: "test-template", templateVersion: "1.0.0", customer: nil), event: .started(input: [:]), actor: "engine", at: 10)
        sampled.state.sequence = 1
        sampled.state.status = .completed
        sampled.auditSamples = [AuditRequest(
            state: "review", visit: 1, credential: "agent", items: [AuditedValue(path: "work.label", value: "card_arrival")], neededReviews: 1,
            rate: 0.5, bindings: [:], input: [:])]
        try await scene.store.commit(sampled)
        try await scene.store.recordVerdict(
            AuditVerdict(reviewer: scene.ana.id, credential: "agent", at: 11, judgements: [AuditJudgement(path: "work.label", correct: false, correction: "x")]),
            item: 1)
        // The journal and table checks (the instance is written by hand, so replay is not asked).
        #expect(try await scene.store.verifyJournal().problems.isEmpty)
        try await scene.sql(attack)
        let problems = try await scene.store.verifyJournal().problems
        #expect(problems.contains { $0.contains(reported) }, "\(attack): \(problems)")
    }

    @Test func aDecisionReCreditedAndReHashedIsReportedByTheSignedHead() async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        let head = try await scene.signedHead()
        // Lou takes Ana's decision: the event, the task's journalled change and the table.
        let (ana, lou) = (scene.ana.id, scene.lou.id)
        try await scene.storeAsPlainText()
        try await scene.sql("""
            UPDATE journal SET payload = replace(payload, '\(ana)', '\(lou)'), actor = replace(actor, '\(ana)', '\(lou)'),
                               authority = replace(authority, '\(ana)', '\(lou)')
            WHERE kind = 'checkpoint_decided'
            """)
        try await scene.sql("UPDATE review_tasks SET reviewer = '\(lou)' WHERE reviewer = '\(ana)'")
        try await scene.sql("UPDATE instances SET state = replace(state, '\(ana)', '\(lou)')")
        #expect(try await scene.audit().contains { $0.contains("does not match its hash") }, "before the re-hash the chain sees it")
        try await scene.rehash()
        #expect(try await scene.store.verifyJournal().problems.isEmpty, "a consistent re-hash fools the chain alone")
        let problems = try await scene.audit(expecting: head)
        #expect(problems.contains { $0.contains("has another hash than the signed head") }, "\(problems)")
    }

    @Test func erasingEveryRefusalAndReHashingIsReportedByTheSignedHead() async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        let head = try await scene.signedHead()
        try await scene.sql("DELETE FROM journal WHERE kind = 'decision_refused'")
        // The refusal is the newest row: the recorded end catches its deletion.
        #expect(try await scene.audit().contains { $0.contains("rows were deleted from the end") })
        try await scene.rehash()
        #expect(try await scene.store.verifyJournal().problems.isEmpty, "a consistent re-hash fools the chain alone")
        let problems = try await scene.audit(expecting: head)
        #expect(!problems.isEmpty, "\(problems)")
        #expect(problems.contains { $0.contains("signed head") }, "\(problems)")
    }

    @Test func aForgedRowAppendedIsReported() async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        // A reviewer_added entry with a made-up hash, and the reviewer it claims.
        try await scene.sql("""
            INSERT INTO journal (id, kind, at, actor, payload, hash)
            SELECT MAX(id) + 1, 'reviewer_added', 7, 'operator',
                   '{"id":"rv-evil","name":"Eve","credentials":["agent"],"role":"operator","token_hash":"00","created_at":7}', zeroblob(32)
            FROM journal
            """)
        try await scene.sql("INSERT INTO reviewers (id, name, token_hash, credentials, role, created_at) VALUES ('rv-evil', 'Eve', '00', '[\"agent\"]', 'operator', 7)")
        let problems = try await scene.audit()
        #expect(problems.contains { $0.contains("does not match its hash") }, "\(problems)")
        #expect(problems.contains { $0.contains("recorded end") }, "\(problems)")
    }

    @Test func aWipedStoreIsReportedByTheSignedHead() async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        let head = try await scene.signedHead()
        for table in ["journal", "chain_head", "timers", "notifications", "labelled_examples", "review_tasks", "reviewers", "instances"] {
            try await scene.sql("DELETE FROM \(table)")
        }
        #expect(try await scene.audit().isEmpty, "an empty store is consistent on its own")
        let problems = try await scene.audit(expecting: head)
        #expect(problems.contains { $0.contains("the store ends at row 0") && $0.contains("truncated or wiped") }, "\(problems)")
    }

    @Test func truncatingTheNewestRowsAndFixingTheHeadIsReportedByTheSignedHead() async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        let head = try await scene.signedHead()
        // The newest rows are the decision and the refusal; the attacker rolls the instance back too.
        try await scene.sql("DELETE FROM journal WHERE id > \(head.head.lastID - 2)")
        try await scene.sql("UPDATE chain_head SET last_id = (SELECT MAX(id) FROM journal), last_hash = (SELECT hash FROM journal ORDER BY id DESC LIMIT 1)")
        #expect(try await !scene.store.verifyJournal().problems.contains { $0.contains("deleted from the end") }, "the fixed head fools the end check")
        let problems = try await scene.audit(expecting: head)
        #expect(problems.contains { $0.contains("rows were deleted") }, "\(problems)")
    }

    @Test func aHeadThatWasEditedOrSignedByAnotherKeyDoesNotVerify() async throws {
        let scene = try await Scene()
        defer { scene.cleanUp() }
        var head = try await scene.signedHead()
        // Round trip through the JSON an operator stores.
        #expect(try SignedAuditHead(json: JSONValue.parse(head.json.jsonString)) == head)
        head.head.lastID -= 1
        #expect(try await scene.audit(expecting: head).contains { $0.contains("signature does not verify") })
        let stranger = try AuditSigningKey().sign(try await scene.store.journalHead(), at: 1_000)
        let problems = try await Auditor(engine: scene.fixture.engine).verify(expecting: stranger, publicKey: scene.key.publicKey).problems
        #expect(problems.contains { $0.contains("signature does not verify") }, "\(problems)")
    }

    @Test func keysReadFromHexOrBase64AndRejectOtherText() throws {
        let key = AuditSigningKey()
        let again = try AuditSigningKey(seed: "  " + key.seedHex + "\n")
        #expect(again.publicKey == key.publicKey)
        let base64 = Data(try #require(Hex.decode(key.seedHex))).base64EncodedString()
        #expect(try AuditSigningKey(seed: base64).publicKey == key.publicKey)
        #expect(try AuditPublicKey(key.publicKey.hex) == key.publicKey)
        #expect(throws: AuditKeyError.self) { try AuditSigningKey(seed: "abc") }
        #expect(throws: AuditKeyError.self) { try AuditPublicKey(String(repeating: "z", count: 64)) }
    }
}
