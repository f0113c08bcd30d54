import Foundation
import StewardJSON
import Synchronization
import Testing

@testable import StewardServer

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The reviewer page's sign-in under attack (issue 17): login CSRF and a flood of wrong tokens,
/// against the real server.
@Suite struct SignInHardeningTests {
    static let form = WebPageTests.form

    // MARK: Login CSRF (item 8)

    /// Headers a browser would add, and what the sign-in must answer.
    static let senders: [(String, [String: String], Int)] = [
        ("a cross-site form", ["Origin": "https://attacker.example"], 403),
        ("a cross-site form through the same port", ["Origin": "http://attacker.example:PORT"], 403),
        ("an opaque origin", ["Origin": "null"], 403),
        ("a cross-site Referer without Origin", ["Referer": "https://attacker.example/login.html"], 403),
        ("no Origin and no Referer", [:], 403),
        ("this server's own page", ["Origin": "http://127.0.0.1:PORT"], 303),
        ("this server's page by Referer (an older browser)", ["Referer": "http://127.0.0.1:PORT/review/sign-in"], 303),
    ]

    @Test(arguments: senders)
    func signInOnlyFromThisServersPages(name: String, headers: [String: String], status: Int) async throws {
        let harness = try await ServerHarness.start()
        let port = String(harness.base.port ?? 0)
        let sent = Self.form.merging(headers.mapValues { $0.replacingOccurrences(of: "PORT", with: port) }) { $1 }
        // The attacker's own valid token: signing the victim in as the attacker is the attack.
        let reply = try await harness.send("POST", "/review/sign-in", body: Data("token=\(harness.outsiderToken)".utf8), headers: sent)
        #expect(reply.status == status, "\(name): \(reply.status) \(reply.text)")
        if status == 403 {
            #expect(reply.header("Set-Cookie") == nil, "\(name): no session")
            #expect(reply.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(reply.text.contains("This form was refused"), "\(reply.text)")
        } else {
            #expect(reply.header("Set-Cookie")?.hasPrefix("steward_session=") == true)
        }
        try await harness.stop()
    }

    @Test func signOutOnlyFromThisServersPages() async throws {
        let harness = try await ServerHarness.start()
        let cookie = try await WebPageTests.signIn(harness, token: harness.agentToken)
        let queue = try await harness.send("GET", "/review", headers: ["Cookie": cookie])
        let csrf = try WebPageTests.csrf(in: queue.text)
        let headers = Self.form.merging(["Cookie": cookie]) { $1 }
        let forged = try await harness.send(
            "POST", "/review/sign-out", body: Data("csrf=\(csrf)".utf8), headers: headers.merging(["Origin": "https://attacker.example"]) { $1 })
        #expect(forged.status == 403)
        #expect(try await harness.send("GET", "/review", headers: ["Cookie": cookie]).status == 200, "still signed in")
        let out = try await harness.send(
            "POST", "/review/sign-out", body: Data("csrf=\(csrf)".utf8), headers: headers.merging(["Origin": WebPageTests.origin(harness)]) { $1 })
        #expect(out.status == 303)
        try await harness.stop()
    }

    @Test func pagesAskForSameOriginReferrers() async throws {
        let harness = try await ServerHarness.start()
        let page = try await harness.send("GET", "/review/sign-in")
        #expect(page.header("Referrer-Policy") == "same-origin", "so the browser's Origin on our own forms is not 'null'")
        try await harness.stop()
    }

    // MARK: Sign-in rate limit (item 9)

    @Test func aBurstOfWrongTokensIsThrottledWhileAnotherAddressSignsIn() async throws {
        let logs = LogCapture()
        let harness = try await ServerHarness.start(logs: logs)
        let audited = Mutex<[FailedSignIn]>([])
        harness.server.onFailedSignIn = { failure in audited.withLock { $0.append(failure) } }
        // A first wait of a minute, so a loaded machine cannot reach the end of it mid-burst.
        harness.server.signInRateLimit.baseDelayMilliseconds = 60_000
        let headers = WebPageTests.sameOriginForm(harness)
        var statuses: [Int] = []
        var retryAfter: String?
        for attempt in 0..<12 {
            let guess = "stw_deadbeef" + String(format: "%056x", attempt)
            let reply = try await harness.send("POST", "/review/sign-in", body: Data("token=\(guess)".utf8), headers: headers)
            statuses.append(reply.status)
            // The first refusal's wait: later ones count down while the burst goes on (on a
            // loaded machine the twelve requests take seconds).
            if reply.status == 429, retryAfter == nil { retryAfter = reply.header("Retry-After") }
        }
        let allowance = SignInRateLimit().freeFailures
        #expect(statuses == Array(repeating: 401, count: allowance) + Array(repeating: 429, count: 12 - allowance), "\(statuses)")
        #expect(Int(retryAfter ?? "") ?? 0 > 50, "the first wait is the base delay: \(retryAfter ?? "none")")
        // Even the right token waits on this address: the throttle answers before looking.
        let sameAddress = try await harness.send("POST", "/review/sign-in", body: Data("token=\(harness.agentToken)".utf8), headers: headers)
        #expect(sameAddress.status == 429)
        // Another address is not throttled: a reviewer elsewhere signs in.
        let elsewhere = try await RawHTTP.postOffThePool(
            port: harness.base.port ?? 0, from: "127.0.0.2", path: "/review/sign-in", origin: WebPageTests.origin(harness), body: "token=\(harness.agentToken)")
        #expect(elsewhere.hasPrefix("HTTP/1.1 303"), "\(elsewhere.prefix(300))")
        #expect(elsewhere.contains("steward_session="))
        try await harness.stop()

        let failures = audited.withLock { $0 }
        #expect(failures.count == 13)
        #expect(failures.filter(\.throttled).count == 8)
        #expect(failures.allSatisfy { $0.clientAddress == "127.0.0.1" && $0.tokenPrefix.count == 8 })
        #expect(failures.first?.tokenPrefix == "stw_dead")
        #expect(failures.map(\.failures).prefix(allowance) == [1, 2, 3, 4, 5])
        let text = logs.text
        #expect(text.contains("sign-in failed client=127.0.0.1 failures=1 throttled=false token_prefix=stw_dead"), "\(text.suffix(2_000))")
        #expect(!text.contains(harness.agentToken) && !text.contains("stw_deadbeef"), "no token reaches the log")
    }

    @Test func failedSignInsAreAuditedInTheJournal() async throws {
        let harness = try await ServerHarness.start()
        let headers = WebPageTests.sameOriginForm(harness)
        for attempt in 0..<2 {
            let guess = "stw_cafef00d" + String(format: "%056x", attempt)
            let reply = try await harness.send("POST", "/review/sign-in", body: Data("token=\(guess)".utf8), headers: headers)
            #expect(reply.status == 401)
        }
        let entries = try await harness.store.auditEntries().filter { $0.kind == "sign_in_failed" }
        #expect(entries.count == 2)
        #expect(entries.allSatisfy { $0.actor == "client 127.0.0.1" && $0.payload["token_prefix"] == "stw_cafe" })
        #expect(try await harness.store.verifyJournal().problems.isEmpty)
        try await harness.stop()
    }

    @Test func theThrottleCountsAddressesAndPrefixesApart() {
        let throttle = SignInThrottle(policy: .init(freeFailures: 2, baseDelayMilliseconds: 1_000, maxDelayMilliseconds: 8_000))
        let guess = "stw_00000000aaaa"
        // Two free failures per address, then 1 s, 2 s, 4 s, 8 s, 8 s.
        #expect(throttle.begin(address: "a", token: guess, now: 0).retryAfter == nil)
        #expect(throttle.begin(address: "a", token: guess + "1", now: 0).retryAfter == nil)
        #expect(throttle.begin(address: "a", token: "stw_11111111", now: 0).retryAfter == 1_000, "the address waits, whatever the token")
        #expect(throttle.begin(address: "a", token: "stw_11111111", now: 1_000).retryAfter == nil)
        #expect(throttle.begin(address: "a", token: "stw_22222222", now: 1_000).retryAfter == 2_000)
        // Guesses at one prefix from many addresses are slowed too.
        #expect(throttle.begin(address: "b", token: guess + "2", now: 500).retryAfter == 500, "the prefix has failed twice already")
        // A different address and prefix is untouched; a good token is refunded.
        #expect(throttle.begin(address: "c", token: "stw_33333333", now: 1_000).retryAfter == nil)
        throttle.succeeded(address: "c", token: "stw_33333333")
        #expect(throttle.begin(address: "c", token: "stw_33333333", now: 1_000).retryAfter == nil)
        #expect(throttle.begin(address: "c", token: "stw_44444444", now: 1_000).retryAfter == nil, "the refund left one failure")
        // Quiet for an hour, everything is forgotten.
        #expect(throttle.begin(address: "a", token: "stw_11111111", now: 1_000 + 3_600_001).retryAfter == nil)
        // The wait grows to the cap and stays there.
        #expect((2...8).map { throttle.delay(after: $0) } == [1_000, 2_000, 4_000, 8_000, 8_000, 8_000, 8_000])
    }
}

/// One HTTP/1.1 request over a socket bound to a chosen loopback address, for a client that
/// URLSession cannot be (another address on this machine: Linux routes all of 127/8 to lo).
enum RawHTTP {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends a url-encoded POST from `source` to 127.0.0.1:`port` and returns the whole reply.
    /// `post` on a thread of its own: a blocking socket read on the cooperative pool can starve
    /// the server that must answer it (two cores: two pool threads).
    static func postOffThePool(port: Int, from source: String, path: String, origin: String, body: String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try post(port: port, from: source, path: path, origin: origin, body: body) })
            }
        }
    }

    static func post(port: Int, from source: String, path: String, origin: String, body: String) throws -> String {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func address(_ text: String, _ port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, text, &address.sin_addr)
            return address
        }
        var local = address(source, 0)
        var remote = address("127.0.0.1", port)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw Failure(description: "bind \(source): \(errno)") }
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw Failure(description: "connect: \(errno)") }
        let request = [
            "POST \(path) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Origin: \(origin)", "Content-Type: application/x-www-form-urlencoded",
            "Content-Length: \(body.utf8.count)", "Connection: close", "", body,
        ].joined(separator: "\r\n")
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, 0) }) == bytes.count else { throw Failure(description: "send: \(errno)") }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            reply += buffer.prefix(count)
        }
        return String(decoding: reply, as: UTF8.self)
    }
}
