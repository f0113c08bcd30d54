import Foundation
import PostgresNIO
import StewardCore
import StewardDigest
import StewardEngine
import StewardJSON

extension PostgresStore {
    static let entrySelect = "SELECT j.id, i.id AS instance, j.seq, j.kind, j.at, j.actor, j.payload FROM journal j"

    static func entry(_ row: Row) throws -> JournalEntry {
        JournalEntry(
            id: try row["id"], instance: try row["instance"], sequence: try row["seq"], kind: try row["kind"], at: try row["at"],
            actor: try row["actor"], payload: try JSONValue.parse(row["payload"] as String))
    }

    /// The journal entries of one instance, in order.
    public func history(of id: String) async throws -> [JournalEntry] {
        try await rows("\(unescaped: Self.entrySelect) JOIN instances i ON i.rowid = j.instance WHERE i.id = \(id) ORDER BY j.id").map(Self.entry)
    }

    /// Audit entries not tied to an instance sequence (refused decisions, reviewer changes), newest first.
    public func auditEntries(limit: Int) async throws -> [JournalEntry] {
        try await rows(
            "\(unescaped: Self.entrySelect) LEFT JOIN instances i ON i.rowid = j.instance WHERE j.seq IS NULL ORDER BY j.id DESC LIMIT \(limit)"
        ).map(Self.entry)
    }

    /// Recomputes the hash chain over the whole journal (streamed, in id order) and compares the
    /// reviewers, review tasks, audit items and verdicts with what the journal says, all in one
    /// read snapshot. Every edited, inserted or deleted row is a problem.
    public func verifyJournal() async throws -> JournalVerification {
        try await transaction(readOnly: true) { connection in
            var verifier = JournalVerifier()
            let journal = try await connection.query(
                """
                SELECT j.id, i.id AS instance_id, j.seq, j.kind, j.at, j.actor, j.payload, j.authority, j.hash
                FROM journal j LEFT JOIN instances i ON i.rowid = j.instance ORDER BY j.id
                """, logger: logger)
            for try await raw in journal {
                let row = Row(raw)
                let payload: String = try row["payload"]
                let more = verifier.check(
                    id: try row["id"], instance: try row["instance_id"], seq: try row["seq"], kind: try row["kind"], at: try row["at"],
                    actor: try row["actor"], payload: { payload }, authority: try row["authority"], hash: try row.bytes("hash"))
                if !more { break }
            }
            let head = try await connection.rows("SELECT last_id, last_hash FROM chain_head WHERE one = 1", logger: logger).first
            verifier.checkEnd(try head.map { (lastID: try $0["last_id"], lastHash: try $0.bytes("last_hash")) })
            let problems = verifier.authority.problems(
                reviewers: try await connection.rows("SELECT * FROM reviewers ORDER BY id", logger: logger).map(Self.reviewerRecord),
                tasks: try await connection.rows("\(unescaped: Self.taskRecordSelect) ORDER BY t.id", logger: logger).map(Self.taskRecord),
                items: try await connection.rows("\(unescaped: Self.itemSelect) ORDER BY a.id", logger: logger).map(Self.itemRecord),
                verdicts: try await connection.rows("SELECT * FROM audit_verdicts ORDER BY item, ordinal", logger: logger).map(Self.verdictRecord))
            return verifier.verification(tableProblems: problems)
        }
    }

    /// The newest journal row and the table sizes, from one read snapshot.
    public func journalHead() async throws -> JournalHead {
        // One statement, one snapshot. As SQLite's: the head is the journal's newest row (whether
        // the recorded end agrees is verification's business).
        let row = try await rows(
            """
            SELECT (SELECT id FROM journal ORDER BY id DESC LIMIT 1) AS last_id, (SELECT hash FROM journal ORDER BY id DESC LIMIT 1) AS last_hash,
                   (SELECT COUNT(*) FROM journal) AS rows, (SELECT COUNT(*) FROM reviewers) AS reviewers, (SELECT COUNT(*) FROM review_tasks) AS tasks
            """
        ).first
        let lastID: Int64? = try row?["last_id"]
        let lastHash = lastID == nil ? JournalChain.genesis : try row?.bytes("last_hash") ?? JournalChain.genesis
        return JournalHead(
            lastID: lastID ?? 0, lastHash: Hex.encode(lastHash), rows: try row?["rows"] ?? 0, reviewers: try row?["reviewers"] ?? 0,
            tasks: try row?["tasks"] ?? 0)
    }

    /// The stored chain hash of row `id`, hex.
    public func journalHash(id: Int64) async throws -> String? {
        try await rows("SELECT hash FROM journal WHERE id = \(id)").first.map { Hex.encode(try $0.bytes("hash")) }
    }

    /// Every stored instance snapshot with all its journal events (for replay verification), in
    /// pages. The snapshot reflects the first `snapshot.sequence` events.
    public func instancesWithEvents(after: String?, limit: Int) async throws -> [(InstanceState, [Event])] {
        try await transaction(readOnly: true) { connection in
            let rows = try await connection.rows(
                "SELECT rowid, state FROM instances WHERE id > \(after ?? "") ORDER BY id LIMIT \(limit)", logger: logger)
            return try await Self.withTails(rows, snapshots: false, connection: connection, logger: logger)
        }
    }

    // MARK: Authority rows

    static let taskRecordSelect = "SELECT t.*, i.id AS instance_id FROM review_tasks t JOIN instances i ON i.rowid = t.instance"
    static let itemSelect = "SELECT a.*, i.id AS instance_id FROM audit_items a JOIN instances i ON i.rowid = a.instance"

    static func reviewerRecord(_ row: Row) throws -> ReviewerRecord {
        ReviewerRecord(try reviewer(row), tokenHash: try row["token_hash"])
    }

    static func taskRecord(_ row: Row) throws -> TaskRecord {
        TaskRecord(
            id: try row["id"], instance: try row["instance_id"], state: try row["state"], credential: try row["credential"],
            status: try row["status"], subjectText: try row["subject"], decisions: try row["decisions"], openedAt: try row["opened_at"],
            dueAt: try row["due_at"], escalationLevel: try row["escalation_level"], assigned: try row["assigned"],
            decidedAt: try row["decided_at"], decision: try row["decision"], reviewer: try row["reviewer"])
    }

    static func itemRecord(_ row: Row) throws -> AuditItemRecord {
        AuditItemRecord(
            id: try row["id"], instance: try row["instance_id"], state: try row["state"], visit: try row["visit"], template: try row["template"],
            version: try row["version"], customer: try row["customer"], credential: try row["credential"],
            neededReviews: try row["needed_reviews"], createdAt: try row["created_at"], items: try row["items"],
            bindings: try row["bindings"], input: try row["input"], rate: try row["rate"])
    }

    static func verdictRecord(_ row: Row) throws -> AuditVerdictRecord {
        AuditVerdictRecord(
            item: try row["item"], ordinal: try row["ordinal"], reviewer: try row["reviewer"], credential: try row["credential"],
            judgements: try row["judgements"], at: try row["at"])
    }
}
