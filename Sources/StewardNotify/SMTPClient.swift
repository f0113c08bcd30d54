import Foundation
import StewardTemplates

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An SMTP server's answer that ends a delivery attempt: 4xx is worth retrying, 5xx is not.
public struct MailRefusal: Error, Sendable, CustomStringConvertible {
    /// The reply code (0: the connection failed or broke).
    public let code: Int
    /// The server's line, or what went wrong.
    public let line: String
    /// Whether trying again cannot help (a 5xx reply).
    public var isPermanent: Bool { code >= 500 }
    /// `SMTP 550 mailbox unavailable`.
    public var description: String { code > 0 ? "SMTP \(line)" : line }

    /// Creates a refusal.
    public init(code: Int, line: String) {
        self.code = code
        self.line = line
    }
}

/// Sends one message; injected so tests can swap the network.
public protocol MailTransport: Sendable {
    /// Sends `message` (RFC 5322 text with CRLF line ends) from `target.from` to `target.to`.
    /// - Throws: `MailRefusal` when the server refuses or the connection fails.
    func send(_ message: String, to target: EmailTarget) async throws
}

/// Plain SMTP (RFC 5321: EHLO, MAIL, RCPT, DATA, QUIT) over a TCP socket, on a thread of its own
/// so the blocking reads never hold a cooperative thread. No STARTTLS and no authentication:
/// for a relay on the deployment's own network.
///
/// Written by hand: none of the Swift packages this project resolves speaks SMTP.
public struct SMTPTransport: MailTransport {
    /// Seconds each read or write may take.
    public let timeout: Int
    /// The name this client gives in EHLO.
    public let heloName: String

    /// Creates a transport.
    public init(timeout: Int = 10, heloName: String = "steward") {
        self.timeout = timeout
        self.heloName = heloName
    }

    public func send(_ message: String, to target: EmailTarget) async throws {
        let (timeout, helo) = (timeout, heloName)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread {
                continuation.resume(with: Result {
                    var session = try SMTPSession(host: target.host, port: target.port, timeout: timeout)
                    try session.deliver(message, target: target, helo: helo)
                })
            }.start()
        }
    }
}

/// One blocking SMTP conversation.
struct SMTPSession {
    let socket: Int32
    var buffer: [UInt8] = []

    init(host: String, port: Int, timeout: Int) throws {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else {
            throw MailRefusal(code: 0, line: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(result) }
        let fd = Glibc.socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw MailRefusal(code: 0, line: "socket: \(errno)") }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            close(fd)
            throw MailRefusal(code: 0, line: "cannot connect to \(host):\(port) (errno \(errno))")
        }
        socket = fd
    }

    /// The next reply: its code and last line (multi-line replies are `250-...` then `250 ...`).
    mutating func reply() throws -> (Int, String) {
        while true {
            guard let end = buffer.firstIndex(of: 10) else {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { throw MailRefusal(code: 0, line: "the server closed the connection or timed out") }
                buffer += chunk[0..<count]
                continue
            }
            let line = String(decoding: buffer[..<end], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            buffer.removeFirst(end + 1)
            let code = Int(line.prefix(3)) ?? 0
            if line.count > 3, line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
            return (code, line)
        }
    }

    func write(_ text: String) throws {
        var bytes = Array(text.utf8)
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw MailRefusal(code: 0, line: "the connection broke while sending") }
            bytes.removeFirst(sent)
        }
    }

    /// Sends `command` and expects a reply in `accepted`.
    mutating func expect(_ accepted: ClosedRange<Int>, after command: String?) throws {
        if let command { try write(command + "\r\n") }
        let (code, line) = try reply()
        guard accepted.contains(code) else { throw MailRefusal(code: code, line: line) }
    }

    mutating func deliver(_ message: String, target: EmailTarget, helo: String) throws {
        defer { close(socket) }
        try expect(220...220, after: nil)
        try expect(250...250, after: "EHLO \(helo)")
        try expect(250...250, after: "MAIL FROM:<\(target.from)>")
        for address in target.to { try expect(250...251, after: "RCPT TO:<\(address)>") }
        try expect(354...354, after: "DATA")
        // Dot-stuffing: a line that starts with "." gets another.
        let body = message.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line -> String in
                let text = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
                return text.hasPrefix(".") ? "." + text : text
            }
            .joined(separator: "\r\n")
        try expect(250...250, after: body + "\r\n.")
        try? write("QUIT\r\n")
    }
}

/// The message an e-mail channel sends for a notification: headers and a plain-text body.
enum MailMessage {
    static func render(_ notification: StoredNotificationText, target: EmailTarget, at milliseconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let date = formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
        // Header values are single lines: a message with line breaks keeps them in the body only.
        let summary = notification.message.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let subject = "[Steward] \(notification.recipient): " + (summary.count > 80 ? String(summary.prefix(77)) + "..." : summary)
        var lines = [
            "From: \(target.from)", "To: \(target.to.joined(separator: ", "))", "Subject: \(subject)", "Date: \(date)",
            "Message-ID: <steward-notification-\(notification.id)@\(target.host)>", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "",
            notification.message, "",
        ]
        for (name, value) in notification.context { lines.append("\(name): \(value)") }
        return lines.joined(separator: "\r\n")
    }
}

/// What a message says about a notification (kept apart so the renderer needs no store types).
struct StoredNotificationText {
    let id: Int64
    let recipient: String
    let message: String
    let context: [(String, String)]
}
