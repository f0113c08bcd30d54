import Foundation
import StewardJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One request as the server read it off the socket.
struct RecordedRequest: Sendable {
    let method: String
    let path: String
    /// Header names lowercased.
    let headers: [String: String]
    let body: Data
    let receivedAt: ContinuousClock.Instant

    /// The body as JSON (nil when it is not).
    var json: JSONValue? { try? JSONValue.parse(Array(body)) }
    /// `messages[index].content`.
    func message(_ index: Int) -> String? { json?["messages"]?.arrayValue?[safe: index]?["content"]?.stringValue }
}

/// What the server answers to one request.
struct ScriptedReply: Sendable {
    var status: Int
    var headers: [String: String] = [:]
    var body: String
    /// How long the server waits before answering.
    var delayMilliseconds: Int = 0

    /// A chat completion whose `choices[0].message.content` is `content`, with usage.
    static func completion(_ content: String, promptTokens: Int = 11, completionTokens: Int = 7) -> ScriptedReply {
        let body: JSONValue = [
            "id": "chatcmpl-test", "object": "chat.completion", "model": "test-model",
            "choices": [["index": 0, "finish_reason": "stop", "message": ["role": "assistant", "content": .string(content)]]],
            "usage": [
                "prompt_tokens": .integer(Int64(promptTokens)), "completion_tokens": .integer(Int64(completionTokens)),
                "total_tokens": .integer(Int64(promptTokens + completionTokens)),
            ],
        ]
        return ScriptedReply(status: 200, body: body.jsonString)
    }

    /// An error status with an OpenAI-style error body.
    static func error(_ status: Int, _ message: String = "scripted failure", headers: [String: String] = [:]) -> ScriptedReply {
        let body: JSONValue = ["error": ["message": .string(message), "type": "test_error"]]
        return ScriptedReply(status: status, headers: headers, body: body.jsonString)
    }
}

/// A small HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for the adapter tests: POSIX
/// sockets, one thread accepting and one per connection, one request per connection
/// (answers carry `Connection: close`). It answers from a script and records every request.
final class FakeChatServer: Sendable {
    let port: UInt16
    private let listener: Int32
    private let responder: @Sendable (Int, RecordedRequest) -> ScriptedReply
    private let recorded = Mutex<[RecordedRequest]>([])
    private let inFlight = Mutex<(now: Int, most: Int)>((0, 0))
    private let stopped = Atomic<Bool>(false)

    /// Answers the n-th request with `replies[n]`; past the end, with a 500 saying so.
    convenience init(_ replies: [ScriptedReply]) throws {
        try self.init { index, _ in
            index < replies.count ? replies[index] : .error(500, "the test script has no reply for request \(index + 1)")
        }
    }

    /// Answers each request with `responder(index, request)`.
    init(responder: @escaping @Sendable (Int, RecordedRequest) -> ScriptedReply) throws {
        self.responder = responder
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SetupError(description: "socket() failed: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw SetupError(description: "cannot listen on 127.0.0.1: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { stop() }

    /// `http://127.0.0.1:<port>/v1`.
    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// Every request so far, in arrival order.
    var requests: [RecordedRequest] { recorded.withLock { $0 } }

    /// The most connections the server handled at once.
    var mostConcurrent: Int { inFlight.withLock { $0.most } }

    /// Stops accepting; connections being served finish on their own threads.
    func stop() {
        guard !stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .sequentiallyConsistent) {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            Thread.detachNewThread { [self] in serve(client) }
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        inFlight.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
        defer { inFlight.withLock { $0.now -= 1 } }
        guard let request = readRequest(client) else { return }
        let index = recorded.withLock { list in
            list.append(request)
            return list.count - 1
        }
        let reply = responder(index, request)
        if reply.delayMilliseconds > 0 { usleep(UInt32(reply.delayMilliseconds) * 1000) }
        var head = "HTTP/1.1 \(reply.status) \(Self.reason(reply.status))\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(reply.body.utf8.count)\r\nConnection: close\r\n"
        for (name, value) in reply.headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        send(client, Array((head + "\r\n" + reply.body).utf8))
        shutdown(client, Int32(SHUT_WR))
    }

    /// Reads the head and a Content-Length body; answers `Expect: 100-continue` first.
    private func readRequest(_ client: Int32) -> RecordedRequest? {
        var buffer: [UInt8] = []
        let separator = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            guard receive(client, into: &buffer) else { return nil }
            headEnd = buffer.firstRange(of: separator)?.lowerBound
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if headers["expect"]?.lowercased() == "100-continue" {
            send(client, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = headEnd! + separator.count
        while buffer.count - bodyStart < length {
            guard receive(client, into: &buffer) else { return nil }
        }
        return RecordedRequest(
            method: String(requestLine[0]), path: String(requestLine[1]), headers: headers,
            body: Data(buffer[bodyStart..<(bodyStart + length)]), receivedAt: .now)
    }

    private func receive(_ client: Int32, into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer += chunk[..<count]
        return true
    }

    private func send(_ client: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a client that gave up (a timeout test) must not kill the test process.
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 422: return "Unprocessable Entity"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    /// A port on 127.0.0.1 nothing listens on (bound, then closed), for connection failures.
    static func closedPort() throws -> UInt16 {
        let server = try FakeChatServer([])
        let port = server.port
        server.stop()
        return port
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
