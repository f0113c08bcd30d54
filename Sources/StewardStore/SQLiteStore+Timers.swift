import GRDB
import StewardJSON
import StewardRuntime

/// A durable timer that is due.
public struct DueTimer: Sendable, Hashable {
    /// Timer id.
    public var id: Int64
    /// `sla_warning` or `sla_breach`.
    public var kind: String
    /// When it was due, ms since 1970.
    public var dueAt: Int64
    /// What was stored with it.
    public var payload: JSONValue
    /// The instance, its template and version (for the escalation ladder).
    public var instanceID: String
    /// Template name.
    public var template: String
    /// Template version.
    public var version: String
    /// Customer.
    public var customer: String?
    /// The review task it belongs to.
    public var task: Int64?
}

/// What firing a timer does, decided by the SLA service from the template's ladder.
public struct TimerFiring: Sendable {
    /// Audit entries tied to the instance (`sla_warning`, `sla_breach`, `escalated`).
    public var entries: [(kind: String, payload: JSONValue)]
    /// Notifications: (recipient, message).
    public var notifications: [(recipient: String, message: String)]
    /// The credential the task is reassigned to, if any.
    public var reassignTo: String?

    /// Creates a firing.
    public init(entries: [(kind: String, payload: JSONValue)], notifications: [(recipient: String, message: String)], reassignTo: String?) {
        self.entries = entries
        self.notifications = notifications
        self.reassignTo = reassignTo
    }
}

extension SQLiteStore {
    /// Timers due at or before `now` that have neither fired nor been cancelled, oldest first.
    public func dueTimers(now: Int64, limit: Int = 500) async throws -> [DueTimer] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT t.id, t.kind, t.due_at, t.payload, t.task, i.id AS instance_id, i.template, i.version, i.customer
                    FROM timers t JOIN instances i ON i.rowid = t.instance
                    WHERE t.fired_at IS NULL AND t.cancelled_at IS NULL AND t.due_at <= ? ORDER BY t.due_at, t.id LIMIT ?
                    """,
                arguments: [now, limit]
            ).map { row in
                let payload: String = row["payload"]
                return DueTimer(
                    id: row["id"], kind: row["kind"], dueAt: row["due_at"], payload: try JSONValue.parse(payload),
                    instanceID: row["instance_id"], template: row["template"], version: row["version"], customer: row["customer"],
                    task: row["task"])
            }
        }
    }

    /// Fires a timer: in one transaction marks it fired (only if it has not fired or been
    /// cancelled meanwhile), appends the audit entries, stores the notifications and applies
    /// the reassignment. Returns false when the timer was no longer pending.
    @discardableResult
    public func fire(_ timer: DueTimer, firing: TimerFiring, at now: Int64) async throws -> Bool {
        try await committer.fire(timer: timer, firing: firing, at: now)
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
    public func notifications(limit: Int = 100) async throws -> [(recipient: String, message: String, at: Int64, instance: String?)] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT n.recipient, n.message, n.at, i.id AS instance FROM notifications n LEFT JOIN instances i ON i.rowid = n.instance ORDER BY n.id DESC LIMIT ?",
                arguments: [limit]
            ).map { (recipient: $0["recipient"], message: $0["message"], at: $0["at"], instance: $0["instance"]) }
        }
    }
}
