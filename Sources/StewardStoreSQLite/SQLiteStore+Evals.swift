import Foundation
import GRDB
import StewardEngine
import StewardJSON

/// The eval tables: immutable runs, schedules, release blocks.
enum EvalSchema {
    static func create(_ db: Database) throws {
        // `due_key` makes a scheduled due time yield one run at most (unique when set).
        try db.execute(sql: """
            CREATE TABLE eval_runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                template TEXT NOT NULL,
                version TEXT NOT NULL,
                template_hash TEXT NOT NULL,
                customer TEXT NOT NULL DEFAULT '',
                dataset TEXT NOT NULL,
                dataset_hash TEXT NOT NULL,
                passed INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                trigger TEXT NOT NULL,
                due_key TEXT UNIQUE,
                summary TEXT NOT NULL,
                body TEXT NOT NULL
            );
            CREATE INDEX eval_runs_by_template ON eval_runs(template, customer, id);
            CREATE TRIGGER eval_runs_immutable_update BEFORE UPDATE ON eval_runs
                BEGIN SELECT RAISE(ABORT, 'eval runs are immutable'); END;
            CREATE TRIGGER eval_runs_immutable_delete BEFORE DELETE ON eval_runs
                BEGIN SELECT RAISE(ABORT, 'eval runs are immutable'); END;
            CREATE TABLE eval_schedules (
                template TEXT NOT NULL,
                customer TEXT NOT NULL DEFAULT '',
                cadence TEXT NOT NULL,
                next_due INTEGER NOT NULL,
                last_due INTEGER,
                last_run INTEGER REFERENCES eval_runs(id),
                PRIMARY KEY (template, customer)
            );
            CREATE TABLE release_blocks (
                id INTEGER PRIMARY KEY,
                template TEXT NOT NULL,
                version TEXT NOT NULL,
                template_hash TEXT NOT NULL,
                customer TEXT NOT NULL DEFAULT '',
                run INTEGER NOT NULL REFERENCES eval_runs(id),
                reason TEXT NOT NULL,
                blocked_at INTEGER NOT NULL,
                cleared_at INTEGER,
                cleared_by TEXT
            );
            """)
    }
}

extension SQLiteStore {
    /// Stores the run, advances its schedule, raises its block and records its notifications in
    /// one write transaction, journalled as `eval_run`; nil when its due time already has a run.
    public func commitEvalRun(_ commit: EvalRunCommit) async throws -> Int64? {
        let run = commit.run
        let summary = run.summary.jsonString
        let body = (run.body ?? run.summary).jsonString
        let dueKey = commit.due.map { "\($0.template)/\($0.customer ?? "")/\($0.dueAt)" }
        return try await pool.write { db -> Int64? in
            if let dueKey, try Bool.fetchOne(db, sql: "SELECT 1 FROM eval_runs WHERE due_key = ?", arguments: [dueKey]) != nil {
                return nil
            }
            try db.execute(
                sql: """
                    INSERT INTO eval_runs (template, version, template_hash, customer, dataset, dataset_hash, passed, created_at, trigger, due_key, summary, body)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    run.template, run.templateVersion, run.templateHash, run.customer ?? "", run.dataset, run.datasetHash, run.passed, run.createdAt,
                    run.trigger, dueKey, summary, body,
                ])
            let id = db.lastInsertedRowID
            if let due = commit.due {
                try db.execute(
                    sql: "UPDATE eval_schedules SET next_due = MAX(next_due, ?), last_due = ?, last_run = ? WHERE template = ? AND customer = ?",
                    arguments: [due.nextDue, due.dueAt, id, due.template, due.customer ?? ""])
            }
            var payload: [String: JSONValue] = [
                "run": .integer(id), "template": .string(run.template), "version": .string(run.templateVersion),
                "template_hash": .string(run.templateHash), "dataset_hash": .string(run.datasetHash), "passed": .bool(run.passed),
                "trigger": .string(run.trigger),
            ]
            if let customer = run.customer { payload["customer"] = .string(customer) }
            if let block = commit.block {
                try db.execute(
                    sql: "INSERT INTO release_blocks (template, version, template_hash, customer, run, reason, blocked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    arguments: [block.template, block.version, block.templateHash, block.customer ?? "", id, block.reason, block.blockedAt])
                payload["blocked"] = .string(block.reason)
            }
            try Journal.insertNotifications(commit.notifications, db: db)
            try Journal.appendStandalone(db, kind: "eval_run", actor: commit.actor, at: run.createdAt, payload: .object(payload))
            return id
        }
    }

    /// One run with its cases.
    public func evalRun(id: Int64) async throws -> EvalRunRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM eval_runs WHERE id = ?", arguments: [id]).map { try Self.evalRun($0, withBody: true) }
        }
    }

    /// Runs without cases, newest first.
    public func evalRuns(template: String?, customer: String?, limit: Int) async throws -> [EvalRunRecord] {
        try await pool.read { db in
            var sql = "SELECT id, template, version, template_hash, customer, dataset, dataset_hash, passed, created_at, trigger, summary FROM eval_runs"
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let template {
                clauses.append("template = ?")
                arguments += [template]
            }
            if let customer {
                clauses.append("customer = ?")
                arguments += [customer]
            }
            if !clauses.isEmpty { sql += " WHERE " + clauses.joined(separator: " AND ") }
            sql += " ORDER BY id DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { try Self.evalRun($0, withBody: false) }
        }
    }

    static func evalRun(_ row: Row, withBody: Bool) throws -> EvalRunRecord {
        let customer: String = row["customer"]
        return EvalRunRecord(
            id: row["id"], template: row["template"], templateVersion: row["version"], templateHash: row["template_hash"],
            customer: customer.isEmpty ? nil : customer, dataset: row["dataset"], datasetHash: row["dataset_hash"], passed: row["passed"],
            createdAt: row["created_at"], trigger: row["trigger"], summary: try JSONValue.parse(row["summary"] as String),
            // Spelled out: JSONValue is ExpressibleByNilLiteral, so a bare nil would become .null.
            body: withBody ? Optional.some(try JSONValue.parse(row["body"] as String)) : Optional<JSONValue>.none)
    }

    /// Every schedule.
    public func evalSchedules() async throws -> [EvalSchedule] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM eval_schedules ORDER BY template, customer").map { row in
                let customer: String = row["customer"]
                return EvalSchedule(
                    template: row["template"], customer: customer.isEmpty ? nil : customer, cadence: row["cadence"], nextDue: row["next_due"],
                    lastDue: row["last_due"], lastRun: row["last_run"])
            }
        }
    }

    /// Creates or updates a schedule; the same cadence keeps its due time.
    public func setEvalSchedule(_ schedule: EvalSchedule) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO eval_schedules (template, customer, cadence, next_due) VALUES (?, ?, ?, ?)
                    ON CONFLICT (template, customer) DO UPDATE SET
                        next_due = CASE WHEN cadence = excluded.cadence THEN next_due ELSE excluded.next_due END,
                        cadence = excluded.cadence
                    """,
                arguments: [schedule.template, schedule.customer ?? "", schedule.cadence, schedule.nextDue])
        }
    }

    /// Removes a schedule.
    public func removeEvalSchedule(template: String, customer: String?) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM eval_schedules WHERE template = ? AND customer = ?", arguments: [template, customer ?? ""])
        }
    }

    /// Release blocks, newest first.
    public func releaseBlocks(template: String?, includeCleared: Bool) async throws -> [ReleaseBlock] {
        try await pool.read { db in
            var sql = "SELECT * FROM release_blocks WHERE (? IS NULL OR template = ?)"
            if !includeCleared { sql += " AND cleared_at IS NULL" }
            sql += " ORDER BY id DESC"
            return try Row.fetchAll(db, sql: sql, arguments: [template, template]).map { row in
                let customer: String = row["customer"]
                return ReleaseBlock(
                    id: row["id"], template: row["template"], version: row["version"], templateHash: row["template_hash"],
                    customer: customer.isEmpty ? nil : customer, run: row["run"], reason: row["reason"], blockedAt: row["blocked_at"],
                    clearedAt: row["cleared_at"], clearedBy: row["cleared_by"])
            }
        }
    }

    /// Clears an open block, journalled as `release_unblocked`.
    public func clearReleaseBlock(id: Int64, by actor: String, at: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE release_blocks SET cleared_at = ?, cleared_by = ? WHERE id = ? AND cleared_at IS NULL", arguments: [at, actor, id])
            guard db.changesCount == 1 else { return false }
            try Journal.appendStandalone(db, kind: "release_unblocked", actor: actor, at: at, payload: ["block": .integer(id)])
            return true
        }
    }
}
