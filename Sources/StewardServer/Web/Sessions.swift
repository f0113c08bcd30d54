import Foundation
import Synchronization

/// A signed-in reviewer's browser session. The cookie carries only the random session id;
/// the bearer token stays in server memory and is re-checked against the store on every
/// request, so removing a reviewer ends their sessions too.
struct WebSession: Sendable {
    /// The cookie value.
    var id: String
    /// The reviewer's bearer token.
    var token: String
    /// The per-session token every form must carry back (CSRF).
    var csrf: String
    /// When the session ends, ms since 1970.
    var expiresAt: Int64
}

/// The sessions of this process. A restart signs everyone out, which is acceptable for a
/// review page and keeps tokens out of the database and the cookie.
final class SessionStore: Sendable {
    /// The cookie name.
    static let cookieName = "steward_session"
    /// How long a session lasts.
    static let lifetimeSeconds = 8 * 3_600

    private let sessions = Mutex<[String: WebSession]>([:])
    /// The sign-in rate limit.
    let signIns = SignInThrottle()
    /// Where failed sign-ins go besides the log (see `StewardServer.onFailedSignIn`).
    let failedSignInHook = Mutex<(@Sendable (FailedSignIn) async -> Void)?>(nil)

    /// Opens a session for `token`.
    func open(token: String, now: Int64) -> WebSession {
        let session = WebSession(
            id: Self.randomToken(), token: token, csrf: Self.randomToken(), expiresAt: now + Int64(Self.lifetimeSeconds) * 1000)
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value.expiresAt > now }
            sessions[session.id] = session
        }
        return session
    }

    /// The live session with `id`.
    func session(id: String, now: Int64) -> WebSession? {
        sessions.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            guard session.expiresAt > now else {
                sessions[id] = nil
                return nil
            }
            return session
        }
    }

    /// Ends a session.
    func close(id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// 32 random bytes as hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Compares two secrets in time independent of where they differ.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

/// `application/x-www-form-urlencoded` bodies.
enum FormData {
    /// The fields of a form body (the last value wins for a repeated name).
    static func parse(_ bytes: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: bytes, as: UTF8.self).split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            fields[name] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
