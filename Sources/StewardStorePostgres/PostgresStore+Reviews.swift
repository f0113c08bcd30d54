import PostgresNIO
import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates

extension PostgresStore {
    /// Stores a reviewer with their token's hash; audited in the same transaction.
    public func insertReviewer(_ reviewer: Reviewer, tokenHash: String, by actor: String) async throws {
        try await writer.submit(.reviewerAdded(reviewer, tokenHash: tokenHash, actor: actor))
    }

    /// Removes a reviewer, audited in the same transaction. Returns false when there is none.
    public func deleteReviewer(id: String, by actor: String, at: Int64) async throws -> Bool {
        do {
            try await writer.submit(.reviewerRemoved(id: id, actor: actor, at: at))
            return true
        } catch is ReviewerMissing {
            return false
        }
    }

    /// Every reviewer, oldest first.
    public func reviewers() async throws -> [Reviewer] {
        try await rows("SELECT * FROM reviewers ORDER BY created_at, id").map(Self.reviewer)
    }

    /// The reviewer whose token has this hash.
    public func reviewer(tokenHash hash: String) async throws -> Reviewer? {
        try await first("SELECT * FROM reviewers WHERE token_hash = \(hash)", Self.reviewer)
    }

    static func reviewer(_ row: Row) throws -> Reviewer {
        Reviewer(
            id: try row["id"], name: try row["name"],
            credentials: try JSONValue.parse(row["credentials"] as String).arrayValue?.compactMap(\.stringValue) ?? [], role: try row["role"],
            createdAt: try row["created_at"])
    }

    static let taskSelect = """
        SELECT t.*, i.id AS instance_id, i.template AS template, i.customer AS customer
        FROM review_tasks t JOIN instances i ON i.rowid = t.instance
        """

    static func task(_ row: Row) throws -> ReviewTask {
        let decisions: String = try row["decisions"]
        return ReviewTask(
            id: try row["id"], instanceID: try row["instance_id"], template: try row["template"], customer: try row["customer"],
            state: try row["state"], credential: try row["credential"], status: try row["status"],
            subject: try JSONValue.parse(row["subject"] as String), decisions: decisions.split(separator: ",").compactMap { Decision(rawValue: String($0)) },
            openedAt: try row["opened_at"], dueAt: try row["due_at"], escalationLevel: try row["escalation_level"], assigned: try row["assigned"],
            decidedAt: try row["decided_at"], decision: try row["decision"], reviewer: try row["reviewer"])
    }

    /// Open review tasks, soonest deadline first, optionally only those needing (or reassigned to) one of `credentials`.
    public func openTasks(credentials: [String]?, limit: Int) async throws -> [ReviewTask] {
        var statement = Statement(Self.taskSelect + " WHERE t.status = 'open'")
        if let credentials {
            let list = try statement.bind(credentials)
            statement.append(" AND (t.credential = ANY(\(list)) OR t.assigned = ANY(\(list)))")
        }
        statement.append(" ORDER BY t.due_at IS NULL, t.due_at, t.opened_at, t.id LIMIT \(try statement.bind(limit))")
        return try await rows(statement.query).map(Self.task)
    }

    /// One review task.
    public func task(id: Int64) async throws -> ReviewTask? {
        try await first("\(unescaped: Self.taskSelect) WHERE t.id = \(id)", Self.task)
    }

    /// The labelled examples reviewers' edits produced, oldest first.
    public func labelledExamples(template: String?) async throws -> [JSONValue] {
        var statement = Statement("SELECT l.*, i.id AS instance_id FROM labelled_examples l JOIN instances i ON i.rowid = l.instance")
        if let template { statement.append(" WHERE l.template = \(try statement.bind(template))") }
        statement.append(" ORDER BY l.id")
        return try await rows(statement.query).map { row in
            [
                "instance": .string(try row["instance_id"]), "state": .string(try row["state"]), "template": .string(try row["template"]),
                "input": try JSONValue.parse(row["input"] as String), "model_output": try JSONValue.parse(row["model_output"] as String),
                "human_output": try JSONValue.parse(row["human_output"] as String), "reviewer": .string(try row["reviewer"]),
                "at": .integer(try row["at"]),
            ]
        }
    }

    /// Open tasks per credential and how many are overdue at `now`.
    public func queueDepths(now: Int64) async throws -> [QueueDepth] {
        try await rows(
            """
            SELECT credential, COUNT(*) AS open, SUM(CASE WHEN due_at IS NOT NULL AND due_at < \(now) THEN 1 ELSE 0 END)::bigint AS overdue
            FROM review_tasks WHERE status = 'open' GROUP BY credential ORDER BY credential
            """
        ).map { QueueDepth(credential: try $0["credential"], open: try $0["open"], overdue: try $0["overdue"]) }
    }

    /// The stored claims of `tasks` (lapsed ones too).
    public func claims(tasks: [Int64]) async throws -> [Int64: ReviewClaim] {
        guard !tasks.isEmpty else { return [:] }
        var found: [Int64: ReviewClaim] = [:]
        for row in try await rows("SELECT * FROM review_claims WHERE task = ANY(\(tasks))") {
            let claim = try Self.claim(row)
            found[claim.task] = claim
        }
        return found
    }

    /// Compares the stored claim of `task` with `expected` and, when they are equal and the
    /// task is open, writes `claim` (nil: removes it), in one transaction that holds the task's
    /// row: of two writers racing, the second waits and then sees the first one's claim.
    public func replaceClaim(task: Int64, expected: ReviewClaim?, with claim: ReviewClaim?) async throws -> Bool {
        try await transaction { connection in
            let status: String? = try await connection.rows("SELECT status FROM review_tasks WHERE id = \(task) FOR UPDATE", logger: logger)
                .first?["status"]
            guard status == "open" else { return false }
            let stored = try await connection.rows("SELECT * FROM review_claims WHERE task = \(task)", logger: logger).first
            let current = try stored.map(Self.claim)
            guard current == expected else { return false }
            if let claim {
                try await connection.run(
                    """
                    INSERT INTO review_claims (task, reviewer, claimed_at, until) VALUES (\(task), \(claim.reviewer), \(claim.claimedAt), \(claim.until))
                    ON CONFLICT (task) DO UPDATE SET reviewer = excluded.reviewer, claimed_at = excluded.claimed_at, until = excluded.until
                    """, logger: logger)
            } else {
                try await connection.run("DELETE FROM review_claims WHERE task = \(task)", logger: logger)
            }
            return true
        }
    }

    static func claim(_ row: Row) throws -> ReviewClaim {
        ReviewClaim(task: try row["task"], reviewer: try row["reviewer"], claimedAt: try row["claimed_at"], until: try row["until"])
    }
}
