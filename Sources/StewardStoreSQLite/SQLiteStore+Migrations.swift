import Foundation
import GRDB
import StewardEngine
import StewardJSON

/// The migration tables: one row per migration (its plan text as started) and one per customer.
enum MigrationSchema {
    static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE migrations (
                name TEXT PRIMARY KEY,
                template TEXT NOT NULL,
                plan TEXT NOT NULL,
                status TEXT NOT NULL,
                started_at INTEGER NOT NULL,
                started_by TEXT NOT NULL
            );
            CREATE TABLE migration_progress (
                migration TEXT NOT NULL REFERENCES migrations(name),
                position INTEGER NOT NULL,
                customer TEXT NOT NULL,
                stage INTEGER NOT NULL,
                state TEXT NOT NULL,
                share REAL NOT NULL,
                stage_started_at INTEGER NOT NULL,
                evidence TEXT NOT NULL,
                PRIMARY KEY (migration, customer)
            );
            """)
    }
}

extension MigrationSchema {
    /// Shadow calls: the candidate beside the current binding on live input.
    static func createShadow(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE shadow_observations (
                id INTEGER PRIMARY KEY,
                migration TEXT NOT NULL,
                customer TEXT NOT NULL,
                instance TEXT NOT NULL,
                state TEXT NOT NULL,
                agreed INTEGER NOT NULL,
                error TEXT,
                latency_us INTEGER NOT NULL,
                at INTEGER NOT NULL
            );
            CREATE INDEX shadow_by_customer ON shadow_observations(migration, customer, at);
            """)
    }
}

extension SQLiteStore {
    /// Records one shadow call.
    public func recordShadowObservation(_ observation: ShadowObservation) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO shadow_observations (migration, customer, instance, state, agreed, error, latency_us, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    observation.migration, observation.customer, observation.instance, observation.state, observation.agreed, observation.error,
                    observation.latencyMicroseconds, observation.at,
                ])
        }
    }

    /// A customer's shadow observations since `since`, oldest first.
    public func shadowObservations(migration: String, customer: String, since: Int64) async throws -> [ShadowObservation] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM shadow_observations WHERE migration = ? AND customer = ? AND at >= ? ORDER BY at, id",
                arguments: [migration, customer, since]
            ).map {
                ShadowObservation(
                    migration: $0["migration"], customer: $0["customer"], instance: $0["instance"], state: $0["state"], agreed: $0["agreed"],
                    error: $0["error"], latencyMicroseconds: $0["latency_us"], at: $0["at"])
            }
        }
    }

    /// Stores a migration and its customers, journalled as `migration_started`.
    public func insertMigration(_ migration: MigrationRecord, progress: [MigrationProgress], actor: String, at: Int64) async throws {
        try await pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM migrations WHERE name = ?", arguments: [migration.name]) != nil {
                throw StoreError("a migration named '\(migration.name)' already exists; migrations are never restarted, start one with a new name")
            }
            try db.execute(
                sql: "INSERT INTO migrations (name, template, plan, status, started_at, started_by) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [migration.name, migration.template, migration.plan, migration.status, migration.startedAt, migration.startedBy])
            for (position, row) in progress.enumerated() {
                try db.execute(
                    sql: "INSERT INTO migration_progress (migration, position, customer, stage, state, share, stage_started_at, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [row.migration, position, row.customer, row.stage, row.state, row.share, row.stageStartedAt, row.evidence.jsonString])
            }
            try Journal.appendStandalone(
                db, kind: "migration_started", actor: actor, at: at,
                payload: ["migration": .string(migration.name), "template": .string(migration.template), "customers": .array(progress.map { .string($0.customer) })])
        }
    }

    /// Every migration.
    public func migrations() async throws -> [MigrationRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM migrations ORDER BY started_at, name").map {
                MigrationRecord(name: $0["name"], template: $0["template"], plan: $0["plan"], status: $0["status"], startedAt: $0["started_at"], startedBy: $0["started_by"])
            }
        }
    }

    /// One migration's customers, in plan order.
    public func migrationProgress(_ name: String) async throws -> [MigrationProgress] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM migration_progress WHERE migration = ? ORDER BY position", arguments: [name]).map {
                MigrationProgress(
                    migration: $0["migration"], customer: $0["customer"], stage: $0["stage"], state: $0["state"], share: $0["share"],
                    stageStartedAt: $0["stage_started_at"], evidence: try JSONValue.parse($0["evidence"] as String))
            }
        }
    }

    /// Writes a customer's progress, journalled as `migration_<action>` with the evidence.
    public func updateMigrationProgress(
        _ progress: MigrationProgress, action: String, actor: String, evidence: JSONValue, at: Int64, notifications: [NotificationRecord]
    ) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE migration_progress SET stage = ?, state = ?, share = ?, stage_started_at = ?, evidence = ? WHERE migration = ? AND customer = ?",
                arguments: [progress.stage, progress.state, progress.share, progress.stageStartedAt, progress.evidence.jsonString, progress.migration, progress.customer])
            guard db.changesCount == 1 else { throw StoreError("no customer '\(progress.customer)' in migration '\(progress.migration)'") }
            try Journal.insertNotifications(notifications, db: db)
            try Journal.appendStandalone(
                db, kind: "migration_" + action, actor: actor, at: at,
                payload: [
                    "migration": .string(progress.migration), "customer": .string(progress.customer), "stage": .integer(Int64(progress.stage)),
                    "state": .string(progress.state), "share": .double(progress.share), "evidence": evidence,
                ])
        }
    }

    /// Sets a migration's status, journalled as `migration_<status>`.
    public func setMigrationStatus(_ name: String, status: String, actor: String, at: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE migrations SET status = ? WHERE name = ?", arguments: [status, name])
            guard db.changesCount == 1 else { throw StoreError("no migration '\(name)'") }
            try Journal.appendStandalone(db, kind: "migration_" + status, actor: actor, at: at, payload: ["migration": .string(name)])
        }
    }
}
