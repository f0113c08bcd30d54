import PostgresNIO
import StewardEngine
import StewardJSON

extension PostgresStore {
    /// Records one shadow call.
    public func recordShadowObservation(_ observation: ShadowObservation) async throws {
        try await run(
            """
            INSERT INTO shadow_observations (migration, customer, instance, state, agreed, error, latency_us, at)
            VALUES (\(observation.migration), \(observation.customer), \(observation.instance), \(observation.state), \(observation.agreed),
                    \(observation.error), \(observation.latencyMicroseconds), \(observation.at))
            """)
    }

    /// A customer's shadow observations since `since`, oldest first.
    public func shadowObservations(migration: String, customer: String, since: Int64) async throws -> [ShadowObservation] {
        try await rows(
            "SELECT * FROM shadow_observations WHERE migration = \(migration) AND customer = \(customer) AND at >= \(since) ORDER BY at, id"
        ).map {
            ShadowObservation(
                migration: try $0["migration"], customer: try $0["customer"], instance: try $0["instance"], state: try $0["state"],
                agreed: try $0["agreed"], error: try $0["error"], latencyMicroseconds: try $0["latency_us"], at: try $0["at"])
        }
    }

    /// Stores a migration and its customers, journalled as `migration_started`.
    /// - Throws: `PostgresStoreError` when a migration of that name exists (names are used once).
    public func insertMigration(_ migration: MigrationRecord, progress: [MigrationProgress], actor: String, at: Int64) async throws {
        try await journalTransaction { journal in
            guard try await journal.rows("SELECT 1 AS one FROM migrations WHERE name = \(migration.name)").isEmpty else {
                throw PostgresStoreError(
                    .server, "a migration named '\(migration.name)' already exists; migrations are never restarted, start one with a new name")
            }
            try await journal.run(
                """
                INSERT INTO migrations (name, template, plan, status, started_at, started_by)
                VALUES (\(migration.name), \(migration.template), \(migration.plan), \(migration.status), \(migration.startedAt), \(migration.startedBy))
                """)
            for (position, row) in progress.enumerated() {
                try await journal.run(
                    """
                    INSERT INTO migration_progress (migration, position, customer, stage, state, share, stage_started_at, evidence)
                    VALUES (\(row.migration), \(position), \(row.customer), \(row.stage), \(row.state), \(row.share), \(row.stageStartedAt), \(row.evidence.jsonString))
                    """)
            }
            let payload: JSONValue = [
                "migration": .string(migration.name), "template": .string(migration.template), "customers": .array(progress.map { .string($0.customer) }),
            ]
            try await journal.append(
                kind: "migration_started", instance: nil, instanceID: nil, seq: nil, at: at, actor: actor, payload: payload.jsonString, authority: nil)
        }
    }

    /// Every migration.
    public func migrations() async throws -> [MigrationRecord] {
        try await rows("SELECT * FROM migrations ORDER BY started_at, name").map {
            MigrationRecord(
                name: try $0["name"], template: try $0["template"], plan: try $0["plan"], status: try $0["status"], startedAt: try $0["started_at"],
                startedBy: try $0["started_by"])
        }
    }

    /// One migration's customers, in plan order.
    public func migrationProgress(_ name: String) async throws -> [MigrationProgress] {
        try await rows("SELECT * FROM migration_progress WHERE migration = \(name) ORDER BY position").map {
            MigrationProgress(
                migration: try $0["migration"], customer: try $0["customer"], stage: try $0["stage"], state: try $0["state"], share: try $0["share"],
                stageStartedAt: try $0["stage_started_at"], evidence: try JSONValue.parse($0["evidence"] as String))
        }
    }

    /// Writes a customer's progress, journalled as `migration_<action>` with the evidence.
    /// - Throws: `PostgresStoreError` when the migration has no such customer.
    public func updateMigrationProgress(
        _ progress: MigrationProgress, action: String, actor: String, evidence: JSONValue, at: Int64, notifications: [NotificationRecord]
    ) async throws {
        try await journalTransaction { journal in
            let updated = try await journal.rows(
                """
                UPDATE migration_progress SET stage = \(progress.stage), state = \(progress.state), share = \(progress.share),
                    stage_started_at = \(progress.stageStartedAt), evidence = \(progress.evidence.jsonString)
                WHERE migration = \(progress.migration) AND customer = \(progress.customer) RETURNING position
                """)
            guard updated.count == 1 else { throw PostgresStoreError(.server, "no customer '\(progress.customer)' in migration '\(progress.migration)'") }
            try await journal.insertNotifications(notifications)
            let payload: JSONValue = [
                "migration": .string(progress.migration), "customer": .string(progress.customer), "stage": .integer(Int64(progress.stage)),
                "state": .string(progress.state), "share": .double(progress.share), "evidence": evidence,
            ]
            try await journal.append(
                kind: "migration_" + action, instance: nil, instanceID: nil, seq: nil, at: at, actor: actor, payload: payload.jsonString, authority: nil)
        }
    }

    /// Sets a migration's status, journalled as `migration_<status>`.
    /// - Throws: `PostgresStoreError` when there is no such migration.
    public func setMigrationStatus(_ name: String, status: String, actor: String, at: Int64) async throws {
        try await journalTransaction { journal in
            let updated = try await journal.rows("UPDATE migrations SET status = \(status) WHERE name = \(name) RETURNING name")
            guard updated.count == 1 else { throw PostgresStoreError(.server, "no migration '\(name)'") }
            try await journal.append(
                kind: "migration_" + status, instance: nil, instanceID: nil, seq: nil, at: at, actor: actor,
                payload: JSONValue.object(["migration": .string(name)]).jsonString, authority: nil)
        }
    }
}
