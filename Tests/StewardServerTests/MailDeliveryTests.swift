import Foundation
import StewardEngine
import StewardNotify
import StewardStoreSQLite
import StewardTemplates
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Notifications delivered by e-mail to an SMTP sink the test starts: a 451 at DATA is retried
/// and the next attempt is delivered, the message's headers and dot-stuffed body arrive intact,
/// and a recipient the server refuses with 550 is dead at once.
@Suite(.serialized) struct MailDeliveryTests {
    /// A minimal SMTP server on 127.0.0.1, one thread per connection: it refuses `RCPT` for
    /// `rejected` addresses with 550, answers `DATA` of its first `temporaryFailures` sessions
    /// with 451, and keeps every message it accepts (dot-stuffing undone).
    final class Sink: Sendable {
        let port: Int
        let listener: Int32
        let messages = Mutex<[String]>([])
        let sessions = Atomic<Int>(0)
        let rejected: Set<String>
        let temporaryFailures: Int

        init(rejected: Set<String>, temporaryFailures: Int) throws {
            self.rejected = rejected
            self.temporaryFailures = temporaryFailures
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            guard bound == 0, listen(fd, 16) == 0 else { throw MailRefusal(code: 0, line: "sink cannot listen") }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            listener = fd
            port = Int(UInt16(bigEndian: address.sin_port))
            let sink = self
            Thread.detachNewThread { sink.acceptLoop() }
        }

        func acceptLoop() {
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                let session = sessions.add(1, ordering: .relaxed).newValue
                Thread.detachNewThread { self.serve(client, session: session) }
            }
        }

        func serve(_ client: Int32, session: Int) {
            defer { close(client) }
            var buffer: [UInt8] = []
            func say(_ text: String) { _ = Array((text + "\r\n").utf8).withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
            func line() -> String? {
                while true {
                    if let end = buffer.firstIndex(of: 10) {
                        let text = String(decoding: buffer[..<end], as: UTF8.self)
                        buffer.removeFirst(end + 1)
                        return text.hasSuffix("\r") ? String(text.dropLast()) : text
                    }
                    var chunk = [UInt8](repeating: 0, count: 4096)
                    let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    guard count > 0 else { return nil }
                    buffer += chunk[0..<count]
                }
            }
            say("220 sink ESMTP")
            while let command = line() {
                let verb = command.prefix(4).uppercased()
                switch verb {
                case "EHLO": say("250-sink"); say("250 8BITMIME")
                case "MAIL": say("250 ok")
                case "RCPT":
                    let address = command.drop { $0 != "<" }.dropFirst().prefix { $0 != ">" }
                    say(rejected.contains(String(address)) ? "550 no such mailbox" : "250 ok")
                case "DATA":
                    if session <= temporaryFailures {
                        say("451 try again later")
                        continue
                    }
                    say("354 go ahead")
                    var body: [String] = []
                    while let text = line(), text != "." { body.append(text.hasPrefix("..") ? String(text.dropFirst()) : text) }
                    messages.withLock { $0.append(body.joined(separator: "\n")) }
                    say("250 queued")
                case "QUIT": say("221 bye"); return
                default: say("502 unknown")
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aTemporaryFailureIsRetriedAndARefusedRecipientIsDeadAtOnce() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-mail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("s.db").path)
        let sink = try Sink(rejected: ["nobody@example.com"], temporaryFailures: 1)
        let channels = try TemplateParser.parseNotificationChannels(
            """
            channels:
              - name: mail
                email: {host: 127.0.0.1, port: \(sink.port), from: steward@example.com, to: [lead@example.com, ops@example.com]}
                recipients: [support-lead]
                backoff: 5s
              - name: bounce
                email: {host: 127.0.0.1, port: \(sink.port), from: steward@example.com, to: [nobody@example.com]}
                recipients: [senior-agent]
            """, file: "notifications.yaml"
        ).channels
        let deliverer = try WebhookDeliverer(store: store, channels: channels, environment: [:], jitter: { 1 })
        try await WebhookDeliveryTests.notify(
            store, id: "m-1", customer: "acme-bank",
            [("support-lead", "Task 7 breached its SLA\n.a line that starts with a dot"), ("senior-agent", "Task 7 reassigned")])
        let ids = try await store.notifications(after: 0, limit: 10).map(\.id)

        var now: Int64 = 1_800_000_000_000
        _ = try await deliverer.tick(now: now)
        var mail = try await store.deliveries(notification: ids[0], limit: 10).first { $0.channel == "mail" }
        #expect(mail?.status == "pending" && mail?.lastStatus == 451 && mail?.nextAttemptAt == now + 5_000, "\(String(describing: mail))")
        let bounce = try await store.deliveries(notification: ids[1], limit: 10).first { $0.channel == "bounce" }
        #expect(bounce?.status == "dead" && bounce?.attempts == 1 && bounce?.lastStatus == 550, "a 5xx is not retried: \(String(describing: bounce))")

        now += 5_000
        _ = try await deliverer.tick(now: now)
        mail = try await store.deliveries(notification: ids[0], limit: 10).first { $0.channel == "mail" }
        #expect(mail?.status == "delivered" && mail?.attempts == 2, "\(String(describing: mail))")
        let received = try #require(sink.messages.withLock { $0 }.first)
        #expect(received.contains("Subject: [Steward] support-lead: Task 7 breached its SLA"), "\(received)")
        #expect(received.contains("To: lead@example.com, ops@example.com") && received.contains("Message-ID: <steward-notification-\(ids[0])@127.0.0.1>"), "\(received)")
        #expect(received.contains("\n.a line that starts with a dot\n"), "dot-stuffing is undone by the server: \(received)")
        #expect(received.contains("Instance: m-1") && received.contains("Customer: acme-bank"), "\(received)")
        close(sink.listener)
    }
}
