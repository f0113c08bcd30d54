import Crypto
import Foundation
import StewardEngine
import StewardJSON
import StewardTemplates

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why the deliverer cannot be set up: a channel whose key is missing from the environment.
public struct NotifyError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// Sends one webhook request; injected so tests can see what is sent without a network.
public protocol WebhookTransport: Sendable {
    /// POSTs `body` with `headers` to `url` and returns the HTTP status.
    /// - Throws: when no answer came (refused, timed out, TLS).
    func post(url: String, headers: [String: String], body: [UInt8]) async throws -> Int
}

/// `WebhookTransport` over URLSession (FoundationNetworking on Linux), with a per-request timeout.
public struct URLSessionTransport: WebhookTransport {
    /// Seconds a request may take.
    public let timeout: Double

    /// Creates a transport.
    public init(timeout: Double = 10) { self.timeout = timeout }

    public func post(url: String, headers: [String: String], body: [UInt8]) async throws -> Int {
        guard let target = URL(string: url) else { throw NotifyError("not a URL: \(url)") }
        var request = URLRequest(url: target, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let (_, response) = try await session.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }
}

/// Delivers the outbox's notifications to webhook and e-mail channels, at least once: each tick routes the
/// notifications recorded since a channel's cursor into pending deliveries (in one
/// transaction with the cursor), then attempts the due ones. A delivery is a JSON POST signed
/// `Steward-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the channel's
/// key; a 2xx answer delivers it, anything else (or no answer) is retried after a backoff that
/// doubles per attempt with jitter, and after the channel's `max_attempts` the delivery is dead
/// (`steward notifications retry` revives it). An e-mail channel sends a plain-text message over
/// SMTP (`SMTPTransport`): a 4xx reply or a broken connection is retried the same way, a 5xx
/// reply dead-letters at once. Transitions never wait for any of this: the
/// engine only records notifications; this runs on `steward serve`'s tick.
///
/// Thread rules: one tick at a time per process (the outbox tolerates two: a delivery may then
/// be sent twice, which at-least-once allows and the `Steward-Notification` header lets a
/// receiver drop).
public struct WebhookDeliverer: Sendable {
    /// The outbox.
    public let store: any NotificationOutboxStore
    /// The channels.
    public let channels: [NotificationChannel]
    /// Each channel's key bytes (`SymmetricKey` is not `Sendable`; one is made per signature).
    let keys: [String: [UInt8]]
    let transport: any WebhookTransport
    let mail: any MailTransport
    /// A number in [0.5, 1] multiplying each backoff (injected for tests).
    let jitter: @Sendable () -> Double

    /// Creates a deliverer, reading each channel's key from `environment`.
    /// - Throws: `NotifyError` naming a channel whose `secret_env` variable is unset or empty.
    public init(
        store: any NotificationOutboxStore, channels: [NotificationChannel], environment: [String: String] = ProcessInfo.processInfo.environment,
        transport: any WebhookTransport = URLSessionTransport(), mail: any MailTransport = SMTPTransport(),
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0.5...1) }
    ) throws {
        var keys: [String: [UInt8]] = [:]
        for channel in channels {
            guard case .webhook(_, let variable) = channel.target else { continue }
            guard let secret = environment[variable], !secret.isEmpty else {
                throw NotifyError("\(channel.location): channel '\(channel.name)' signs with the key in $\(variable), which is not set")
            }
            keys[channel.name] = Array(secret.utf8)
        }
        self.mail = mail
        self.store = store
        self.channels = channels
        self.keys = keys
        self.transport = transport
        self.jitter = jitter
    }

    /// The signature header's value for `body` sent at `timestamp` (unix seconds).
    public static func signature(key: SymmetricKey, timestamp: Int64, body: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).".utf8) + body, using: key)
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// The wait before attempt `attempt + 1` after `attempt` failed ones: `backoff × 2^(attempt-1)`,
    /// at most `maxBackoff`, times the jitter.
    public static func backoff(after attempt: Int, channel: NotificationChannel, jitter: Double) -> Int64 {
        let doubled = Double(channel.backoff) * pow(2, Double(max(attempt - 1, 0)))
        return Int64((min(doubled, Double(channel.maxBackoff)) * jitter).rounded())
    }

    /// Routes new notifications, then attempts the due deliveries.
    /// - Returns: The deliveries attempted, as they are after the attempt.
    @discardableResult
    public func tick(now: Int64, limit: Int = 100) async throws -> [NotificationDelivery] {
        try await route(now: now)
        return try await deliverDue(now: now, limit: limit)
    }

    /// Turns the notifications each channel has not routed yet into pending deliveries (for the
    /// channels that carry them), due now.
    public func route(now: Int64) async throws {
        for channel in channels {
            var cursor = try await store.deliveryCursor(channel: channel.name)
            while true {
                let batch = try await store.notifications(after: cursor, limit: 500)
                guard let last = batch.last else { break }
                let carried = batch.filter { channel.carries(recipient: $0.recipient, customer: $0.customer) }.map(\.id)
                try await store.enqueueDeliveries(channel: channel.name, notifications: carried, cursor: last.id, at: now)
                cursor = last.id
                if batch.count < 500 { break }
            }
        }
    }

    /// Attempts every pending delivery due at `now` (at most `limit`).
    public func deliverDue(now: Int64, limit: Int = 100) async throws -> [NotificationDelivery] {
        var attempted: [NotificationDelivery] = []
        for due in try await store.dueDeliveries(now: now, limit: limit) {
            guard let channel = channels.first(where: { $0.name == due.channel }) else { continue }
            guard let notification = try await store.notification(id: due.notification) else { continue }
            var delivery = due
            delivery.attempts += 1
            var permanent = false
            switch channel.target {
            case .webhook(let url, _):
                guard let key = keys[channel.name] else { continue }
                var object = notification.json.objectValue ?? [:]
                object["channel"] = .string(channel.name)
                object["attempt"] = .integer(Int64(delivery.attempts))
                let body = JSONValue.object(object).jsonBytes
                let headers = [
                    "Content-Type": "application/json", "Steward-Notification": "\(notification.id)", "Steward-Attempt": "\(delivery.attempts)",
                    "Steward-Signature": Self.signature(key: SymmetricKey(data: key), timestamp: now / 1000, body: body),
                ]
                do {
                    let status = try await transport.post(url: url, headers: headers, body: body)
                    delivery.lastStatus = status
                    if (200..<300).contains(status) { delivery.status = "delivered" } else { delivery.lastError = "HTTP \(status)" }
                } catch {
                    delivery.lastError = "\(error)"
                    delivery.lastStatus = nil
                }
            case .email(let target):
                let context = [
                    ("Instance", notification.instance), ("Template", notification.template), ("Customer", notification.customer),
                    ("Task", notification.task.map { "\($0)" }), ("Notification", "\(notification.id)"),
                ].compactMap { name, value in value.map { (name, $0) } }
                let message = MailMessage.render(
                    StoredNotificationText(id: notification.id, recipient: notification.recipient, message: notification.message, context: context),
                    target: target, at: notification.at)
                do {
                    try await mail.send(message, to: target)
                    delivery.status = "delivered"
                    delivery.lastStatus = 250
                } catch let refusal as MailRefusal {
                    delivery.lastError = refusal.description
                    delivery.lastStatus = refusal.code > 0 ? refusal.code : nil
                    permanent = refusal.isPermanent
                } catch {
                    delivery.lastError = "\(error)"
                }
            }
            if delivery.status == "delivered" {
                delivery.deliveredAt = now
                delivery.nextAttemptAt = nil
                delivery.lastError = nil
            }
            // A 5xx SMTP reply will not change by asking again: dead at once.
            if permanent, delivery.status == "pending" {
                delivery.status = "dead"
                delivery.nextAttemptAt = nil
            }
            if delivery.status == "pending" {
                if delivery.attempts >= channel.maxAttempts {
                    delivery.status = "dead"
                    delivery.nextAttemptAt = nil
                } else {
                    delivery.nextAttemptAt = now + Self.backoff(after: delivery.attempts, channel: channel, jitter: jitter())
                }
            }
            try await store.updateDelivery(delivery)
            attempted.append(delivery)
        }
        return attempted
    }

    /// The channels of `workflows/notifications.yaml` under `workflows` (none when the file is absent).
    /// - Throws: `TemplateErrors` with located problems; `NotifyError` when it cannot be read.
    public static func channels(inWorkflows workflows: String) throws -> NotificationChannels {
        let path = (workflows as NSString).appendingPathComponent("notifications.yaml")
        guard FileManager.default.fileExists(atPath: path) else { return NotificationChannels(channels: [], file: path) }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw NotifyError("cannot read \(path)") }
        return try TemplateParser.parseNotificationChannels(text, file: path)
    }
}

/// `WebhookDeliverer.tick` on a task of its own, one at a time, so slow receivers never hold up
/// the timers that share `steward serve`'s tick.
public typealias DeliveryTicker = SerialTicker<[NotificationDelivery]>

extension SerialTicker where Value == [NotificationDelivery] {
    /// A ticker over `deliverer`; `report` hears each finished tick.
    public init(
        deliverer: WebhookDeliverer, clock: @escaping @Sendable () -> Int64,
        report: @escaping @Sendable (Result<[NotificationDelivery], any Error>) -> Void = { _ in }
    ) {
        self.init(clock: clock, work: { now in try await deliverer.tick(now: now) }, report: report)
    }
}
