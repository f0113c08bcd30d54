import PostgresNIO
import StewardEngine
import StewardJSON

extension PostgresStore {
    /// Timers due at or before `now` that have neither fired nor been cancelled, oldest first.
    /// Another engine may be firing one of them at this moment: the firing commit decides
    /// (`InstanceCommit.firedTimer` is a conditional update, refused once the timer fired).
    public func dueTimers(now: Int64, limit: Int) async throws -> [DueTimer] {
        try await rows(
            """
            SELECT t.id, t.kind, t.due_at, t.payload, t.task, t.state, i.id AS instance_id
            FROM timers t JOIN instances i ON i.rowid = t.instance
            WHERE t.fired_at IS NULL AND t.cancelled_at IS NULL AND t.due_at <= \(now) ORDER BY t.due_at, t.id LIMIT \(limit)
            """
        ).map { row in
            DueTimer(
                id: try row["id"], kind: try row["kind"], dueAt: try row["due_at"], payload: try JSONValue.parse(row["payload"] as String),
                instanceID: try row["instance_id"], state: try row["state"] ?? "", task: try row["task"])
        }
    }

    /// Marks a pending timer cancelled without an event; does nothing when it is no longer pending.
    public func discardTimer(id: Int64, at: Int64) async throws {
        try await run("UPDATE timers SET cancelled_at = \(at) WHERE id = \(id) AND fired_at IS NULL AND cancelled_at IS NULL")
    }

    /// Pending timers of one instance, soonest first.
    public func pendingTimers(of instance: String) async throws -> [(kind: String, dueAt: Int64)] {
        try await rows(
            """
            SELECT t.kind, t.due_at FROM timers t JOIN instances i ON i.rowid = t.instance
            WHERE i.id = \(instance) AND t.fired_at IS NULL AND t.cancelled_at IS NULL ORDER BY t.due_at, t.id
            """
        ).map { (kind: try $0["kind"], dueAt: try $0["due_at"]) }
    }

    /// Notifications, newest first.
    public func notifications(limit: Int) async throws -> [NotificationRecord] {
        try await rows(
            """
            SELECT n.recipient, n.message, n.at, i.id AS instance FROM notifications n LEFT JOIN instances i ON i.rowid = n.instance
            ORDER BY n.id DESC LIMIT \(limit)
            """
        ).map { NotificationRecord(recipient: try $0["recipient"], message: try $0["message"], at: try $0["at"], instance: try $0["instance"]) }
    }
}

/// The notification outbox: `notification_deliveries` (one row per notification and channel,
/// its log) and `notification_cursors` (how far each channel has routed). Notifications are
/// inserted only by transactions that hold the chain head, so their ids commit in order and a
/// cursor never skips one that commits late.
extension PostgresStore {
    static let notificationSelect = """
        SELECT n.id, n.recipient, n.message, n.at, n.task, i.id AS instance_id, i.customer, i.template
        FROM notifications n LEFT JOIN instances i ON i.rowid = n.instance
        """

    static func notification(_ row: Row) throws -> StoredNotification {
        StoredNotification(
            id: try row["id"], recipient: try row["recipient"], message: try row["message"], at: try row["at"], instance: try row["instance_id"],
            task: try row["task"], customer: try row["customer"], template: try row["template"])
    }

    static func delivery(_ row: Row) throws -> NotificationDelivery {
        NotificationDelivery(
            notification: try row["notification"], channel: try row["channel"], status: try row["status"], attempts: try row["attempts"],
            nextAttemptAt: try row["next_attempt_at"], lastError: try row["last_error"], lastStatus: try row["last_status"],
            deliveredAt: try row["delivered_at"])
    }

    /// Notifications with an id after `id`, oldest first.
    public func notifications(after id: Int64, limit: Int) async throws -> [StoredNotification] {
        try await rows("\(unescaped: Self.notificationSelect) WHERE n.id > \(id) ORDER BY n.id LIMIT \(limit)").map(Self.notification)
    }

    /// The newest notifications, newest first.
    public func latestNotifications(limit: Int) async throws -> [StoredNotification] {
        try await rows("\(unescaped: Self.notificationSelect) ORDER BY n.id DESC LIMIT \(limit)").map(Self.notification)
    }

    /// One notification.
    public func notification(id: Int64) async throws -> StoredNotification? {
        try await first("\(unescaped: Self.notificationSelect) WHERE n.id = \(id)", Self.notification)
    }

    /// How far `channel` has routed (0: not at all).
    public func deliveryCursor(channel: String) async throws -> Int64 {
        try await rows("SELECT last_id FROM notification_cursors WHERE channel = \(channel)").first?["last_id"] ?? 0
    }

    /// Queues a delivery of each notification to `channel` (once: queuing again changes nothing)
    /// and moves its cursor forward to `cursor` (never back), in one transaction.
    public func enqueueDeliveries(channel: String, notifications: [Int64], cursor: Int64, at: Int64) async throws {
        try await transaction { connection in
            try await connection.run(
                """
                INSERT INTO notification_deliveries (notification, channel, status, attempts, next_attempt_at)
                SELECT n, \(channel), 'pending', 0, \(at) FROM unnest(\(notifications)::bigint[]) AS n ON CONFLICT DO NOTHING
                """, logger: logger)
            try await connection.run(
                """
                INSERT INTO notification_cursors (channel, last_id) VALUES (\(channel), \(cursor))
                ON CONFLICT (channel) DO UPDATE SET last_id = GREATEST(notification_cursors.last_id, excluded.last_id)
                """, logger: logger)
        }
    }

    /// Pending deliveries due at `now`, soonest first.
    public func dueDeliveries(now: Int64, limit: Int) async throws -> [NotificationDelivery] {
        try await rows(
            """
            SELECT * FROM notification_deliveries WHERE status = 'pending' AND next_attempt_at <= \(now)
            ORDER BY next_attempt_at, notification LIMIT \(limit)
            """
        ).map(Self.delivery)
    }

    /// Writes a delivery's new state.
    public func updateDelivery(_ delivery: NotificationDelivery) async throws {
        try await run(
            """
            UPDATE notification_deliveries SET status = \(delivery.status), attempts = \(delivery.attempts), next_attempt_at = \(delivery.nextAttemptAt),
                last_error = \(delivery.lastError), last_status = \(delivery.lastStatus), delivered_at = \(delivery.deliveredAt)
            WHERE notification = \(delivery.notification) AND channel = \(delivery.channel)
            """)
    }

    /// The deliveries of one notification by channel, or the newest ones of all.
    public func deliveries(notification: Int64?, limit: Int) async throws -> [NotificationDelivery] {
        if let notification {
            return try await rows("SELECT * FROM notification_deliveries WHERE notification = \(notification) ORDER BY channel").map(Self.delivery)
        }
        return try await rows("SELECT * FROM notification_deliveries ORDER BY notification DESC, channel LIMIT \(limit)").map(Self.delivery)
    }
}
