import GRDB
import StewardEngine
import StewardJSON

/// The notification outbox on SQLite: `notification_deliveries` (one row per notification and
/// channel, its log) and `notification_cursors` (how far each channel has routed).
extension SQLiteStore {
    static let notificationSelect = """
        SELECT n.id, n.recipient, n.message, n.at, n.task, i.id AS instance_id, i.customer, i.template
        FROM notifications n LEFT JOIN instances i ON i.rowid = n.instance
        """

    static func notification(_ row: Row) -> StoredNotification {
        StoredNotification(
            id: row["id"], recipient: row["recipient"], message: row["message"], at: row["at"], instance: row["instance_id"], task: row["task"],
            customer: row["customer"], template: row["template"])
    }

    static func delivery(_ row: Row) -> NotificationDelivery {
        NotificationDelivery(
            notification: row["notification"], channel: row["channel"], status: row["status"], attempts: row["attempts"],
            nextAttemptAt: row["next_attempt_at"], lastError: row["last_error"], lastStatus: row["last_status"], deliveredAt: row["delivered_at"])
    }

    public func notifications(after id: Int64, limit: Int) async throws -> [StoredNotification] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: Self.notificationSelect + " WHERE n.id > ? ORDER BY n.id LIMIT ?", arguments: [id, limit]).map(Self.notification)
        }
    }

    public func latestNotifications(limit: Int) async throws -> [StoredNotification] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: Self.notificationSelect + " ORDER BY n.id DESC LIMIT ?", arguments: [limit]).map(Self.notification)
        }
    }

    public func notification(id: Int64) async throws -> StoredNotification? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: Self.notificationSelect + " WHERE n.id = ?", arguments: [id]).map(Self.notification)
        }
    }

    public func deliveryCursor(channel: String) async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT last_id FROM notification_cursors WHERE channel = ?", arguments: [channel]) ?? 0
        }
    }

    public func enqueueDeliveries(channel: String, notifications: [Int64], cursor: Int64, at: Int64) async throws {
        try await pool.write { db in
            for id in notifications {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO notification_deliveries (notification, channel, status, attempts, next_attempt_at) VALUES (?, ?, 'pending', 0, ?)",
                    arguments: [id, channel, at])
            }
            try db.execute(
                sql: "INSERT INTO notification_cursors (channel, last_id) VALUES (?, ?) ON CONFLICT(channel) DO UPDATE SET last_id = MAX(last_id, excluded.last_id)",
                arguments: [channel, cursor])
        }
    }

    public func dueDeliveries(now: Int64, limit: Int) async throws -> [NotificationDelivery] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM notification_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, notification LIMIT ?",
                arguments: [now, limit]
            ).map(Self.delivery)
        }
    }

    public func updateDelivery(_ delivery: NotificationDelivery) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE notification_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, last_status = ?, delivered_at = ?
                    WHERE notification = ? AND channel = ?
                    """,
                arguments: [delivery.status, delivery.attempts, delivery.nextAttemptAt, delivery.lastError, delivery.lastStatus, delivery.deliveredAt,
                            delivery.notification, delivery.channel])
        }
    }

    public func deliveries(notification: Int64?, limit: Int) async throws -> [NotificationDelivery] {
        try await pool.read { db in
            if let notification {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM notification_deliveries WHERE notification = ? ORDER BY channel", arguments: [notification]
                ).map(Self.delivery)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM notification_deliveries ORDER BY notification DESC, channel LIMIT ?", arguments: [limit])
                .map(Self.delivery)
        }
    }
}
