import StewardJSON

/// A stored notification, with what a delivery says about it.
public struct StoredNotification: Sendable, Hashable {
    /// Its id (the outbox order).
    public var id: Int64
    /// Who is told: a credential or role name.
    public var recipient: String
    /// What.
    public var message: String
    /// When it was recorded, ms since 1970.
    public var at: Int64
    /// The instance it is about, if any.
    public var instance: String?
    /// The review task it is about, if any.
    public var task: Int64?
    /// The instance's customer.
    public var customer: String?
    /// The instance's template.
    public var template: String?

    /// Creates a notification.
    public init(id: Int64, recipient: String, message: String, at: Int64, instance: String?, task: Int64?, customer: String?, template: String?) {
        self.id = id
        self.recipient = recipient
        self.message = message
        self.at = at
        self.instance = instance
        self.task = task
        self.customer = customer
        self.template = template
    }

    /// The JSON a webhook receives (`id`, `recipient`, `message`, `at`, `instance`, `task`, `customer`, `template`).
    public var json: JSONValue {
        [
            "id": .integer(id), "recipient": .string(recipient), "message": .string(message), "at": .string(Timestamps.rfc3339(at)),
            "instance": instance.map { .string($0) } ?? .null, "task": task.map { .integer($0) } ?? .null,
            "customer": customer.map { .string($0) } ?? .null, "template": template.map { .string($0) } ?? .null,
        ]
    }
}

/// One notification's delivery on one channel: its log.
public struct NotificationDelivery: Sendable, Hashable {
    /// The notification.
    public var notification: Int64
    /// The channel.
    public var channel: String
    /// `pending`, `delivered` or `dead` (attempts exhausted).
    public var status: String
    /// Attempts made.
    public var attempts: Int
    /// When the next attempt is due (pending only), ms since 1970.
    public var nextAttemptAt: Int64?
    /// The last failed attempt's error.
    public var lastError: String?
    /// The last HTTP status received.
    public var lastStatus: Int?
    /// When it was delivered, ms since 1970.
    public var deliveredAt: Int64?

    /// Creates a delivery.
    public init(
        notification: Int64, channel: String, status: String, attempts: Int, nextAttemptAt: Int64?, lastError: String? = nil,
        lastStatus: Int? = nil, deliveredAt: Int64? = nil
    ) {
        self.notification = notification
        self.channel = channel
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.lastStatus = lastStatus
        self.deliveredAt = deliveredAt
    }

    /// The log row as JSON.
    public var json: JSONValue {
        [
            "notification": .integer(notification), "channel": .string(channel), "status": .string(status), "attempts": .integer(Int64(attempts)),
            "next_attempt_at": nextAttemptAt.map { .string(Timestamps.rfc3339($0)) } ?? .null, "last_error": lastError.map { .string($0) } ?? .null,
            "last_status": lastStatus.map { .integer(Int64($0)) } ?? .null, "delivered_at": deliveredAt.map { .string(Timestamps.rfc3339($0)) } ?? .null,
        ]
    }
}

/// The durable outbox notifications are delivered from: each channel routes the notifications
/// recorded after its cursor into pending deliveries, and a deliverer attempts the due ones.
///
/// Contract: `enqueueDeliveries` writes the deliveries and moves the cursor in one
/// transaction (a crash re-routes nothing twice and loses nothing); a delivery's row is its log.
public protocol NotificationOutboxStore: Sendable {
    /// Notifications after `id`, oldest first, at most `limit`.
    func notifications(after id: Int64, limit: Int) async throws -> [StoredNotification]
    /// The newest `limit` notifications, newest first.
    func latestNotifications(limit: Int) async throws -> [StoredNotification]
    /// One notification.
    func notification(id: Int64) async throws -> StoredNotification?
    /// The last notification id `channel` has routed (0 at first).
    func deliveryCursor(channel: String) async throws -> Int64
    /// Pending deliveries of `notifications` on `channel`, due at `at`, and the cursor moved to `cursor`.
    func enqueueDeliveries(channel: String, notifications: [Int64], cursor: Int64, at: Int64) async throws
    /// Pending deliveries due at `now`, soonest first.
    func dueDeliveries(now: Int64, limit: Int) async throws -> [NotificationDelivery]
    /// Writes a delivery's new state after an attempt (or a retry request).
    func updateDelivery(_ delivery: NotificationDelivery) async throws
    /// The deliveries of one notification (nil: the newest `limit` of all), newest first.
    func deliveries(notification: Int64?, limit: Int) async throws -> [NotificationDelivery]
}

extension NotificationOutboxStore {
    /// Makes a notification's undelivered deliveries (on `channel`, or every channel) due at
    /// `now` with a fresh attempt budget.
    /// - Returns: The deliveries revived.
    public func retryDeliveries(notification id: Int64, channel: String? = nil, now: Int64) async throws -> [NotificationDelivery] {
        var revived: [NotificationDelivery] = []
        for var delivery in try await deliveries(notification: id, limit: 100)
        where delivery.status != "delivered" && (channel == nil || delivery.channel == channel) {
            delivery.status = "pending"
            delivery.attempts = 0
            delivery.nextAttemptAt = now
            try await updateDelivery(delivery)
            revived.append(delivery)
        }
        return revived
    }
}
