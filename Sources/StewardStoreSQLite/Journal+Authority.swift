import Foundation
import GRDB
import StewardCore
import StewardEngine
import StewardJSON

// The authority records and their replay are shared with every backend (StewardEngine's
// JournalRecords.swift); here: reading them from SQLite rows, and the v6 baseline.

extension ReviewerRecord {
    /// A row of `reviewers`.
    init(row: Row) throws {
        let reviewer = try SQLiteStore.reviewer(row)
        self.init(reviewer, tokenHash: row["token_hash"])
    }
}

extension TaskRecord {
    /// A row of `review_tasks` joined with its instance's id as `instance_id`.
    init(row: Row) {
        self.init(
            id: row["id"], instance: row["instance_id"], state: row["state"], credential: row["credential"], status: row["status"],
            subjectText: row["subject"], decisions: row["decisions"], openedAt: row["opened_at"], dueAt: row["due_at"],
            escalationLevel: row["escalation_level"], assigned: row["assigned"], decidedAt: row["decided_at"], decision: row["decision"],
            reviewer: row["reviewer"])
    }
}

extension AuthorityReplay {
    static let taskSelect = "SELECT t.*, i.id AS instance_id FROM review_tasks t JOIN instances i ON i.rowid = t.instance"

    /// Every difference between the tables and what the journal says, at most `limit`.
    func problems(_ db: Database, limit: Int = 20) throws -> [String] {
        problems(
            reviewers: try Row.fetchAll(db, sql: "SELECT * FROM reviewers ORDER BY id").map(ReviewerRecord.init(row:)),
            tasks: try Row.fetchAll(db, sql: Self.taskSelect + " ORDER BY t.id").map(TaskRecord.init(row:)),
            items: try Row.fetchAll(db, sql: AuditReplay.itemSelect + " ORDER BY a.id").map(AuditItemRecord.init(row:)),
            verdicts: try Row.fetchAll(db, sql: "SELECT * FROM audit_verdicts ORDER BY item, ordinal").map(AuditVerdictRecord.init(row:)),
            limit: limit)
    }
}

extension Journal {
    /// Appends the baseline entry when the authority tables hold anything (schema migration):
    /// the tables as they were, so rows written before they were journalled are not reported.
    static func appendBaseline(_ db: Database, at: Int64) throws {
        let reviewers = try Row.fetchAll(db, sql: "SELECT * FROM reviewers ORDER BY id").map { try ReviewerRecord(row: $0).payload }
        let tasks = try Row.fetchAll(db, sql: AuthorityReplay.taskSelect + " ORDER BY t.id").map { TaskRecord(row: $0).payload }
        guard !reviewers.isEmpty || !tasks.isEmpty else { return }
        try appendStandalone(
            db, kind: JournalChain.baselineKind, actor: "migration", at: at, payload: ["reviewers": .array(reviewers), "tasks": .array(tasks)])
    }
}
