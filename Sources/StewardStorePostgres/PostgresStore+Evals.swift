import PostgresNIO
import StewardEngine
import StewardJSON

extension PostgresStore {
    /// Stores the run, advances its schedule, raises its block and records its notifications in
    /// one write transaction, journalled as `eval_run`; nil when its due time already has a run.
    public func commitEvalRun(_ commit: EvalRunCommit) async throws -> Int64? {
        let run = commit.run
        let summary = run.summary.jsonString
        let body = (run.body ?? run.summary).jsonString
        let dueKey = commit.due.map { "\($0.template)/\($0.customer ?? "")/\($0.dueAt)" }
        return try await journalTransaction { journal -> Int64? in
            if let dueKey, !(try await journal.rows("SELECT 1 AS one FROM eval_runs WHERE due_key = \(dueKey)").isEmpty) { return nil }
            let id: Int64 = try await journal.rows(
                """
                INSERT INTO eval_runs (template, version, template_hash, customer, dataset, dataset_hash, passed, created_at, trigger, due_key, summary, body)
                VALUES (\(run.template), \(run.templateVersion), \(run.templateHash), \(run.customer ?? ""), \(run.dataset), \(run.datasetHash),
                        \(run.passed), \(run.createdAt), \(run.trigger), \(dueKey), \(summary), \(body))
                RETURNING id
                """
            ).first?["id"] ?? 0
            if let due = commit.due {
                try await journal.run(
                    """
                    UPDATE eval_schedules SET next_due = GREATEST(next_due, \(due.nextDue)), last_due = \(due.dueAt), last_run = \(id)
                    WHERE template = \(due.template) AND customer = \(due.customer ?? "")
                    """)
            }
            var payload: [String: JSONValue] = [
                "run": .integer(id), "template": .string(run.template), "version": .string(run.templateVersion),
                "template_hash": .string(run.templateHash), "dataset_hash": .string(run.datasetHash), "passed": .bool(run.passed),
                "trigger": .string(run.trigger),
            ]
            if let customer = run.customer { payload["customer"] = .string(customer) }
            if let block = commit.block {
                try await journal.run(
                    """
                    INSERT INTO release_blocks (template, version, template_hash, customer, run, reason, blocked_at)
                    VALUES (\(block.template), \(block.version), \(block.templateHash), \(block.customer ?? ""), \(id), \(block.reason), \(block.blockedAt))
                    """)
                payload["blocked"] = .string(block.reason)
            }
            try await journal.insertNotifications(commit.notifications)
            try await journal.append(
                kind: "eval_run", instance: nil, instanceID: nil, seq: nil, at: run.createdAt, actor: commit.actor,
                payload: JSONValue.object(payload).jsonString, authority: nil)
            return id
        }
    }

    /// One run with its cases.
    public func evalRun(id: Int64) async throws -> EvalRunRecord? {
        try await rows("SELECT * FROM eval_runs WHERE id = \(id)").first.map { try Self.evalRun($0, withBody: true) }
    }

    /// Runs without cases, newest first.
    public func evalRuns(template: String?, customer: String?, limit: Int) async throws -> [EvalRunRecord] {
        var statement = Statement(
            "SELECT id, template, version, template_hash, customer, dataset, dataset_hash, passed, created_at, trigger, summary FROM eval_runs")
        var clauses: [String] = []
        if let template { clauses.append("template = \(try statement.bind(template))") }
        if let customer { clauses.append("customer = \(try statement.bind(customer))") }
        if !clauses.isEmpty { statement.append(" WHERE " + clauses.joined(separator: " AND ")) }
        statement.append(" ORDER BY id DESC LIMIT \(try statement.bind(limit))")
        return try await rows(statement.query).map { try Self.evalRun($0, withBody: false) }
    }

    static func evalRun(_ row: Row, withBody: Bool) throws -> EvalRunRecord {
        let customer: String = try row["customer"]
        return EvalRunRecord(
            id: try row["id"], template: try row["template"], templateVersion: try row["version"], templateHash: try row["template_hash"],
            customer: customer.isEmpty ? nil : customer, dataset: try row["dataset"], datasetHash: try row["dataset_hash"], passed: try row["passed"],
            createdAt: try row["created_at"], trigger: try row["trigger"], summary: try JSONValue.parse(row["summary"] as String),
            // Spelled out: JSONValue is ExpressibleByNilLiteral, so a bare nil would become .null.
            body: withBody ? Optional.some(try JSONValue.parse(row["body"] as String)) : Optional<JSONValue>.none)
    }

    /// Every schedule.
    public func evalSchedules() async throws -> [EvalSchedule] {
        try await rows("SELECT * FROM eval_schedules ORDER BY template, customer").map { row in
            let customer: String = try row["customer"]
            return EvalSchedule(
                template: try row["template"], customer: customer.isEmpty ? nil : customer, cadence: try row["cadence"],
                nextDue: try row["next_due"], lastDue: try row["last_due"], lastRun: try row["last_run"])
        }
    }

    /// Creates or updates a schedule; the same cadence keeps its due time.
    public func setEvalSchedule(_ schedule: EvalSchedule) async throws {
        try await run(
            """
            INSERT INTO eval_schedules (template, customer, cadence, next_due) VALUES (\(schedule.template), \(schedule.customer ?? ""), \(schedule.cadence), \(schedule.nextDue))
            ON CONFLICT (template, customer) DO UPDATE SET
                next_due = CASE WHEN eval_schedules.cadence = excluded.cadence THEN eval_schedules.next_due ELSE excluded.next_due END,
                cadence = excluded.cadence
            """)
    }

    /// Removes a schedule.
    public func removeEvalSchedule(template: String, customer: String?) async throws {
        try await run("DELETE FROM eval_schedules WHERE template = \(template) AND customer = \(customer ?? "")")
    }

    /// Release blocks, newest first.
    public func releaseBlocks(template: String?, includeCleared: Bool) async throws -> [ReleaseBlock] {
        var statement = Statement("SELECT * FROM release_blocks")
        var clauses: [String] = []
        if let template { clauses.append("template = \(try statement.bind(template))") }
        if !includeCleared { clauses.append("cleared_at IS NULL") }
        if !clauses.isEmpty { statement.append(" WHERE " + clauses.joined(separator: " AND ")) }
        statement.append(" ORDER BY id DESC")
        return try await rows(statement.query).map { row in
            let customer: String = try row["customer"]
            return ReleaseBlock(
                id: try row["id"], template: try row["template"], version: try row["version"], templateHash: try row["template_hash"],
                customer: customer.isEmpty ? nil : customer, run: try row["run"], reason: try row["reason"], blockedAt: try row["blocked_at"],
                clearedAt: try row["cleared_at"], clearedBy: try row["cleared_by"])
        }
    }

    /// Clears an open block, journalled as `release_unblocked`; false when it is not open.
    public func clearReleaseBlock(id: Int64, by actor: String, at: Int64) async throws -> Bool {
        try await journalTransaction { journal in
            let cleared = try await journal.rows(
                "UPDATE release_blocks SET cleared_at = \(at), cleared_by = \(actor) WHERE id = \(id) AND cleared_at IS NULL RETURNING id")
            guard !cleared.isEmpty else { return false }
            try await journal.append(
                kind: "release_unblocked", instance: nil, instanceID: nil, seq: nil, at: at, actor: actor,
                payload: JSONValue.object(["block": .integer(id)]).jsonString, authority: nil)
            return true
        }
    }
}
