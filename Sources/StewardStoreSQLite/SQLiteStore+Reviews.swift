import Foundation
import GRDB
import StewardDigest
import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates

extension SQLiteStore {
    /// Stores a reviewer with their token's hash; audited in the same transaction.
    public func insertReviewer(_ reviewer: Reviewer, tokenHash: String, by actor: String) async throws {
        try await committer.submit(.reviewerAdded(reviewer, tokenHash: tokenHash, actor: actor))
    }

    /// Removes a reviewer, audited in the same transaction. Returns false when there is none.
    public func deleteReviewer(id: String, by actor: String, at: Int64) async throws -> Bool {
        do {
            try await committer.submit(.reviewerRemoved(id: id, actor: actor, at: at))
            return true
        } catch is ReviewerMissing {
            return false
        }
    }

    /// Every reviewer.
    public func reviewers() async throws -> [Reviewer] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM reviewers ORDER BY created_at, id").map(Self.reviewer) }
    }

    /// The reviewer whose token has this hash.
    public func reviewer(tokenHash hash: String) async throws -> Reviewer? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM reviewers WHERE token_hash = ?", arguments: [hash]).map(Self.reviewer)
        }
    }

    static func reviewer(_ row: Row) throws -> Reviewer {
        let credentials: String = row["credentials"]
        return Reviewer(
            id: row["id"], name: row["name"], credentials: try JSONValue.parse(credentials).arrayValue?.compactMap(\.stringValue) ?? [],
            role: row["role"], createdAt: row["created_at"])
    }

    /// Open review tasks, soonest deadline first, optionally only those needing one of `credentials`.
    public func openTasks(credentials: [String]?, limit: Int) async throws -> [ReviewTask] {
        try await pool.read { db in
            var sql = Self.taskSelect + " WHERE t.status = 'open'"
            var arguments: StatementArguments = []
            if let credentials {
                let marks = credentials.map { _ in "?" }.joined(separator: ",")
                sql += " AND (t.credential IN (\(marks)) OR t.assigned IN (\(marks)))"
                _ = arguments.append(contentsOf: StatementArguments(credentials + credentials))
            }
            sql += " ORDER BY t.due_at IS NULL, t.due_at, t.opened_at LIMIT ?"
            _ = arguments.append(contentsOf: [limit])
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.task)
        }
    }

    /// One review task.
    public func task(id: Int64) async throws -> ReviewTask? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: Self.taskSelect + " WHERE t.id = ?"), arguments: [id]).map(Self.task)
        }
    }

    /// The labelled examples reviewers' edits produced (for evaluation).
    public func labelledExamples(template: String?) async throws -> [JSONValue] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT l.*, i.id AS instance_id FROM labelled_examples l JOIN instances i ON i.rowid = l.instance WHERE ? IS NULL OR l.template = ? ORDER BY l.id",
                arguments: [template, template]
            ).map { row in
                let input: String = row["input"], model: String = row["model_output"], human: String = row["human_output"]
                return [
                    "instance": .string(row["instance_id"]), "state": .string(row["state"]), "template": .string(row["template"]),
                    "input": try JSONValue.parse(input), "model_output": try JSONValue.parse(model),
                    "human_output": try JSONValue.parse(human), "reviewer": .string(row["reviewer"]), "at": .integer(row["at"]),
                ]
            }
        }
    }

    /// The stored claims of `tasks` (lapsed ones too).
    public func claims(tasks: [Int64]) async throws -> [Int64: ReviewClaim] {
        guard !tasks.isEmpty else { return [:] }
        return try await pool.read { db in
            var found: [Int64: ReviewClaim] = [:]
            // In chunks, under SQLite's limit on bound parameters.
            for start in stride(from: 0, to: tasks.count, by: 500) {
                let chunk = Array(tasks[start..<min(start + 500, tasks.count)])
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                for row in try Row.fetchAll(db, sql: "SELECT * FROM review_claims WHERE task IN (\(marks))", arguments: StatementArguments(chunk)) {
                    let claim = Self.claim(row)
                    found[claim.task] = claim
                }
            }
            return found
        }
    }

    /// Compares the stored claim of `task` with `expected` and, when they are equal and the
    /// task is open, writes `claim` (nil: removes it), in one write transaction.
    public func replaceClaim(task: Int64, expected: ReviewClaim?, with claim: ReviewClaim?) async throws -> Bool {
        try await pool.write { db in
            guard try String.fetchOne(db, sql: "SELECT status FROM review_tasks WHERE id = ?", arguments: [task]) == "open" else { return false }
            let current = try Row.fetchOne(db, sql: "SELECT * FROM review_claims WHERE task = ?", arguments: [task]).map(Self.claim)
            guard current == expected else { return false }
            if let claim {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO review_claims (task, reviewer, claimed_at, until) VALUES (?, ?, ?, ?)",
                    arguments: [task, claim.reviewer, claim.claimedAt, claim.until])
            } else {
                try db.execute(sql: "DELETE FROM review_claims WHERE task = ?", arguments: [task])
            }
            return true
        }
    }

    static func claim(_ row: Row) -> ReviewClaim {
        ReviewClaim(task: row["task"], reviewer: row["reviewer"], claimedAt: row["claimed_at"], until: row["until"])
    }

    static let taskSelect = """
        SELECT t.*, i.id AS instance_id, i.template AS template, i.customer AS customer
        FROM review_tasks t JOIN instances i ON i.rowid = t.instance
        """

    static func task(_ row: Row) throws -> ReviewTask {
        let subject: String = row["subject"]
        let decisions: String = row["decisions"]
        return ReviewTask(
            id: row["id"], instanceID: row["instance_id"], template: row["template"], customer: row["customer"], state: row["state"],
            credential: row["credential"], status: row["status"], subject: try JSONValue.parse(subject),
            decisions: decisions.split(separator: ",").compactMap { Decision(rawValue: String($0)) }, openedAt: row["opened_at"],
            dueAt: row["due_at"], escalationLevel: row["escalation_level"], assigned: row["assigned"], decidedAt: row["decided_at"],
            decision: row["decision"],
            reviewer: row["reviewer"])
    }

    /// Recomputes the hash chain over the whole journal; any edited, inserted or deleted row
    /// shows up as a problem naming the first row where the chain breaks. Then rebuilds the
    /// reviewers and review tasks from the journal (`reviewer_added`/`reviewer_removed` and
    /// each row's `authority`) and reports every table row that differs, is missing or was
    /// introduced by no entry. All of it reads one snapshot.
    public func verifyJournal() async throws -> JournalVerification {
        try await pool.read { db in
            var verifier = JournalVerifier()
            let cursor = try Row.fetchCursor(
                db, sql: "SELECT j.*, i.id AS instance_id FROM journal j LEFT JOIN instances i ON i.rowid = j.instance ORDER BY j.id")
            while let row = try cursor.next() {
                let stored: Data = row["hash"]
                let more = verifier.check(
                    id: row["id"], instance: row["instance_id"], seq: row["seq"], kind: row["kind"], at: row["at"], actor: row["actor"],
                    payload: { try StoredText.text(row, "payload") }, authority: row["authority"], hash: Array(stored))
                if !more { break }
            }
            // The recorded end of the chain must be the last row: catches deleted newest rows.
            let head = try Row.fetchOne(db, sql: "SELECT last_id, last_hash FROM chain_head").map { head -> (lastID: Int64, lastHash: [UInt8]) in
                let lastHash: Data = head["last_hash"]
                return (head["last_id"], Array(lastHash))
            }
            verifier.checkEnd(head)
            return verifier.verification(tableProblems: try verifier.authority.problems(db))
        }
    }

    /// The newest journal row and the table sizes, from one read snapshot.
    public func journalHead() async throws -> JournalHead {
        try await pool.read { db in
            let head = try ChainHead.load(db)
            return JournalHead(
                lastID: head.lastID, lastHash: Hex.encode(head.lastHash),
                rows: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal") ?? 0,
                reviewers: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM reviewers") ?? 0,
                tasks: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM review_tasks") ?? 0)
        }
    }

    /// The stored chain hash of row `id`, hex.
    public func journalHash(id: Int64) async throws -> String? {
        try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT hash FROM journal WHERE id = ?", arguments: [id]).map { Hex.encode($0) }
        }
    }

    /// Every stored instance snapshot with its journal events (for replay verification), in
    /// pages. The snapshot reflects the first `snapshot.sequence` events.
    public func instancesWithEvents(after: String?, limit: Int) async throws -> [(InstanceState, [Event])] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT rowid, state FROM instances WHERE id > ? ORDER BY id LIMIT ?", arguments: [after ?? "", limit])
            return try rows.map { row in
                (try Self.decodeState(row), try Self.tail(db, rowid: row["rowid"], after: 0))
            }
        }
    }
}
