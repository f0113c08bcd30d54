import GRDB
import StewardJSON
import StewardEngine

extension SQLiteStore {
    /// Timers due at or before `now` that have neither fired nor been cancelled, oldest first.
    public func dueTimers(now: Int64, limit: Int) async throws -> [DueTimer] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT t.id, t.kind, t.due_at, t.payload, t.task, t.state, i.id AS instance_id
                    FROM timers t JOIN instances i ON i.rowid = t.instance
                    WHERE t.fired_at IS NULL AND t.cancelled_at IS NULL AND t.due_at <= ? ORDER BY t.due_at, t.id LIMIT ?
                    """,
                arguments: [now, limit]
            ).map { row in
                let payload: String = row["payload"]
                return DueTimer(
                    id: row["id"], kind: row["kind"], dueAt: row["due_at"], payload: try JSONValue.parse(payload),
                    instanceID: row["instance_id"], state: row["state"], task: row["task"])
            }
        }
    }

    /// Marks a pending timer cancelled without an event.
    public func discardTimer(id: Int64, at: Int64) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE timers SET cancelled_at = ? WHERE id = ? AND fired_at IS NULL AND cancelled_at IS NULL", arguments: [at, id])
        }
    }

    /// Pending timers of one instance (for `instances show` and tests).
    public func pendingTimers(of instance: String) async throws -> [(kind: String, dueAt: Int64)] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT t.kind, t.due_at FROM timers t JOIN instances i ON i.rowid = t.instance
                    WHERE i.id = ? AND t.fired_at IS NULL AND t.cancelled_at IS NULL ORDER BY t.due_at
                    """,
                arguments: [instance]
            ).map { (kind: $0["kind"], dueAt: $0["due_at"]) }
        }
    }

    /// Notifications, newest first.
    public func notifications(limit: Int) async throws -> [NotificationRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT n.recipient, n.message, n.at, i.id AS instance FROM notifications n LEFT JOIN instances i ON i.rowid = n.instance ORDER BY n.id DESC LIMIT ?",
                arguments: [limit]
            ).map { NotificationRecord(recipient: $0["recipient"], message: $0["message"], at: $0["at"], instance: $0["instance"]) }
        }
    }
}
