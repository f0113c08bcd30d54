import Crypto
import Foundation
import Hummingbird
import ServiceLifecycle
import Logging
import StewardCore
import StewardEngine
import StewardJSON
import StewardNotify
import StewardStoreSQLite
import StewardTemplates
import Synchronization
import Testing

/// Notifications delivered to webhooks the test starts: a receiver that fails the first two
/// deliveries gets the third, each signed with the channel's key; one that always fails sees
/// the delivery dead-lettered after the channel's attempts, and a retry revives it; channels
/// carry only their recipients and customers; a missing key stops the set-up with its name.
@Suite(.serialized) struct WebhookDeliveryTests {
    /// What a receiver saw: each request's headers and body.
    final class Received: Sendable {
        let requests = Mutex<[(headers: [String: String], body: [UInt8])]>([])
        var count: Int { requests.withLock { $0.count } }
    }

    /// A webhook receiver on a free port: `/flaky` answers 500 to the first two requests for each
    /// notification and 200 after; `/down` always answers 503.
    static func receiver() async throws -> (port: Int, flaky: Received, down: Received, group: ServiceGroup, task: Task<Void, any Error>) {
        let flaky = Received()
        let down = Received()
        let router = Router()
        /// Records the request; returns how many requests this notification has had so far.
        @Sendable func record(_ request: Request, into received: Received) async throws -> Int {
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            return received.requests.withLock { requests in
                requests.append((headers, Array(body.readableBytesView)))
                return requests.filter { $0.headers["steward-notification"] == headers["steward-notification"] }.count
            }
        }
        router.post("/flaky") { request, _ -> HTTPResponse.Status in
            try await record(request, into: flaky) <= 2 ? .internalServerError : .ok
        }
        router.post("/down") { request, _ -> HTTPResponse.Status in
            _ = try await record(request, into: down)
            return .serviceUnavailable
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "receiver") { _ in SwiftLogNoOpLogHandler() })
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "receiver") { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        return (port, flaky, down, group, task)
    }

    static func channels(port: Int) throws -> [NotificationChannel] {
        try TemplateParser.parseNotificationChannels(
            """
            channels:
              - name: ops
                webhook: http://127.0.0.1:\(port)/flaky
                secret_env: TEST_OPS_SECRET
                recipients: [support-lead]
                max_attempts: 5
                backoff: 1s
              - name: pager
                webhook: http://127.0.0.1:\(port)/down
                secret_env: TEST_PAGER_SECRET
                customers: [acme-bank]
                max_attempts: 2
                backoff: 10s
            """, file: "notifications.yaml"
        ).channels
    }

    /// An instance of `customer` whose first commit records `notifications` (the outbox's real write path).
    static func notify(_ store: SQLiteStore, id: String, customer: String?, _ notifications: [(String, String)]) async throws {
        var state = InstanceState(id: id, template: "support-ticket-triage", templateVersion: "1.1.0", customer: customer)
        state.sequence = 1
        state.status = .running
        state.current = "intake"
        state.attempt = 1
        var commit = InstanceCommit(state: state, event: .started(input: ["subject": "x"]), actor: "engine", at: 1_000)
        commit.notifications = notifications.map { NewNotification(recipient: $0.0, message: $0.1, task: nil) }
        try await store.commit(commit)
    }

    @Test(.timeLimit(.minutes(3)))
    func aFlakyReceiverGetsItOnTheThirdAttemptAndADeadOneIsDeadLettered() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-webhooks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("s.db").path)
        let receiver = try await Self.receiver()
        defer { receiver.task.cancel() }
        let channels = try Self.channels(port: receiver.port)
        let environment = ["TEST_OPS_SECRET": "ops-key", "TEST_PAGER_SECRET": "pager-key"]

        // A channel whose key is not in the environment stops the set-up, naming the variable.
        #expect(throws: NotifyError.self) { _ = try WebhookDeliverer(store: store, channels: channels, environment: ["TEST_OPS_SECRET": "k"]) }
        let deliverer = try WebhookDeliverer(store: store, channels: channels, environment: environment, jitter: { 1 })

        try await Self.notify(store, id: "i-1", customer: "acme-bank", [("support-lead", "Task 7 breached its SLA"), ("senior-agent", "Task 7 reassigned")])
        try await Self.notify(store, id: "i-2", customer: "harbour-credit", [("support-lead", "Migration stopped for harbour-credit")])
        let ids = try await store.notifications(after: 0, limit: 10).map(\.id)
        #expect(ids.count == 3)

        // Routing: ops carries support-lead (both customers), pager every recipient of acme-bank.
        var now: Int64 = 1_800_000_000_000
        var attempted = try await deliverer.tick(now: now)
        let routed = try await store.deliveries(notification: nil, limit: 10).map { "\($0.notification)@\($0.channel)" }.sorted()
        #expect(routed == ["\(ids[0])@ops", "\(ids[0])@pager", "\(ids[1])@pager", "\(ids[2])@ops"].sorted(), "\(routed)")
        #expect(attempted.allSatisfy { $0.status == "pending" && $0.attempts == 1 }, "every first attempt failed: \(attempted)")

        // ops: 500, 500, then 200; backoff 1 s then 2 s (jitter fixed at 1).
        #expect(attempted.first { $0.channel == "ops" }?.nextAttemptAt == now + 1_000)
        now += 1_000
        attempted = try await deliverer.tick(now: now)
        #expect(attempted.filter { $0.channel == "ops" }.map(\.attempts) == [2, 2], "\(attempted)")
        #expect(attempted.first { $0.channel == "ops" }?.nextAttemptAt == now + 2_000)
        #expect(try await deliverer.tick(now: now + 1_999).isEmpty, "nothing is due before its backoff")
        now += 2_000
        attempted = try await deliverer.tick(now: now)
        let ops = try await store.deliveries(notification: ids[0], limit: 10).first { $0.channel == "ops" }
        #expect(ops?.status == "delivered" && ops?.attempts == 3 && ops?.lastStatus == 200, "\(String(describing: ops))")

        // Each request was signed with the channel's key over "<t>.<body>".
        let requests = receiver.flaky.requests.withLock { $0 }
        #expect(requests.count >= 5)
        for request in requests {
            let signature = try #require(request.headers["steward-signature"])
            let timestamp = try #require(signature.split(separator: ",").first?.dropFirst(2)).description
            let expected = WebhookDeliverer.signature(key: SymmetricKey(data: Array("ops-key".utf8)), timestamp: Int64(timestamp) ?? 0, body: request.body)
            #expect(signature == expected)
            let body = try JSONValue.parse(request.body)
            #expect(body["recipient"] == "support-lead" && body["channel"] == "ops" && request.headers["steward-notification"] == "\(body["id"]?.integerValue ?? -1)")
        }

        // pager: two 503s (the second after its 10 s backoff) and it is dead; a retry makes it due
        // again with a fresh budget.
        now += 10_000
        _ = try await deliverer.tick(now: now)
        let pager = try await store.deliveries(notification: ids[0], limit: 10).first { $0.channel == "pager" }
        #expect(pager?.status == "dead" && pager?.attempts == 2 && pager?.lastError == "HTTP 503", "\(String(describing: pager))")
        let revived = try await store.retryDeliveries(notification: ids[0], channel: "pager", now: now)
        #expect(revived.map(\.status) == ["pending"])
        #expect(try await store.retryDeliveries(notification: ids[0], channel: "ops", now: now).isEmpty, "a delivered one is not retried")
        let again = try await deliverer.tick(now: now)
        #expect(again.contains { $0.notification == ids[0] && $0.channel == "pager" && $0.attempts == 1 }, "\(again)")

        // A new notification after a restart is routed once, from the cursor.
        try await Self.notify(store, id: "i-3", customer: nil, [("support-lead", "Scheduled eval failed")])
        let restarted = try WebhookDeliverer(store: try SQLiteStore(path: store.path), channels: channels, environment: environment, jitter: { 1 })
        try await restarted.route(now: now)
        let all = try await store.deliveries(notification: nil, limit: 20)
        #expect(all.count == 5, "the new one on ops only (pager carries acme-bank's): \(all.map { "\($0.notification)@\($0.channel)" })")
        await receiver.group.triggerGracefulShutdown()
    }

    @Test func aChannelFileWithMistakesIsRefusedWithLocations() {
        let result = Result { () throws(TemplateErrors) -> NotificationChannels in
            try TemplateParser.parseNotificationChannels(
                """
                channels:
                  - name: ops
                    webhook: ftp://example.com
                    secret_env: X
                    backoff: soon
                  - name: ops
                    webhook: https://example.com/hook
                    secret_env: Y
                  - name: nokey
                    webhook: https://example.com/hook
                """, file: "n.yaml")
        }
        guard case .failure(let errors) = result else {
            Issue.record("a broken channel file parsed")
            return
        }
        let lines = errors.diagnostics.map(\.description)
        #expect(lines.contains { $0.hasPrefix("n.yaml:3:") && $0.contains("must be an http:// or https:// URL") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("n.yaml:5:") && $0.contains("expected a duration") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("n.yaml:6:") && $0.contains("duplicate channel name 'ops'") }, "\(lines)")
        #expect(lines.contains { $0.contains("missing 'secret_env'") }, "\(lines)")
    }
}
