import Dispatch
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One blocking HTTP POST: the ABI call is synchronous, so the calling thread waits on a
/// semaphore while URLSession works on its own threads (it never needs the caller's).
enum HTTP {
    /// What came back from one request.
    struct Reply: Sendable {
        let status: Int
        let body: Data
        /// From `Retry-After` (seconds or an HTTP date) or `retry-after-ms`, when present.
        let retryAfterMilliseconds: Int?
    }

    /// How one request ended.
    enum Outcome: Sendable {
        case reply(Reply)
        /// No complete answer within the timeout.
        case timedOut
        /// Could not connect, or the connection broke: worth retrying.
        case unreachable(String)
        /// A transport failure retrying cannot fix (unsupported URL, TLS refused).
        case refused(String)
    }

    /// One session for every call: thread-safe, keeps connections alive, no cookies or cache.
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        return URLSession(configuration: configuration)
    }()

    /// Posts `body` and waits for the answer, at most `timeoutMilliseconds` for the whole
    /// exchange (URLSession's own timeout only counts idle time, so the wait is bounded here).
    static func post(_ url: URL, headers: [String: String], body: Data, timeoutMilliseconds: Int) -> Outcome {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = body
        // URLSession is only the backstop: swift-corelibs-foundation truncates the interval to
        // whole seconds (0.3 s becomes an immediate timeout), so it gets the next whole second
        // after ours and the semaphore below enforces the real limit.
        request.timeoutInterval = Double(timeoutMilliseconds / 1000 + 2)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let exchange = Exchange()
        let task = session.dataTask(with: request) { data, response, error in
            exchange.finish(outcome(data, response, error))
        }
        task.resume()
        guard let outcome = exchange.wait(milliseconds: timeoutMilliseconds) else {
            task.cancel()
            return .timedOut
        }
        return outcome
    }

    static func outcome(_ data: Data?, _ response: URLResponse?, _ error: (any Error)?) -> Outcome {
        if let error {
            guard let urlError = error as? URLError else { return .unreachable(error.localizedDescription) }
            switch urlError.code {
            case .timedOut:
                return .timedOut
            case .badURL, .unsupportedURL:
                return .refused("the URL is not supported (\(urlError.code.rawValue))")
            case .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
                .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid, .clientCertificateRejected,
                .clientCertificateRequired:
                return .refused("the TLS connection was refused (\(urlError.localizedDescription))")
            default:
                return .unreachable(urlError.localizedDescription)
            }
        }
        guard let http = response as? HTTPURLResponse else { return .unreachable("the answer is not HTTP") }
        return .reply(Reply(status: http.statusCode, body: data ?? Data(), retryAfterMilliseconds: retryAfter(http)))
    }

    /// `retry-after-ms`, else `Retry-After` in seconds or as an HTTP date.
    static func retryAfter(_ response: HTTPURLResponse) -> Int? {
        if let text = response.value(forHTTPHeaderField: "retry-after-ms"), let value = Double(text.trimmingCharacters(in: .whitespaces)),
            value.isFinite, value >= 0
        {
            return Int(min(value, 86_400_000))
        }
        guard let text = response.value(forHTTPHeaderField: "Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 {
            return Int(min(seconds, 86_400) * 1000)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return Int(max(0, min(date.timeIntervalSinceNow, 86_400)) * 1000)
    }
}

/// Hands one request's outcome from URLSession's thread to the waiting caller. A late
/// outcome (after the caller gave up) is stored and dropped with the object.
final class Exchange: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let outcome = Mutex<HTTP.Outcome?>(nil)

    func finish(_ value: HTTP.Outcome) {
        outcome.withLock { $0 = value }
        done.signal()
    }

    /// The outcome, or nil when none arrived within `milliseconds`.
    func wait(milliseconds: Int) -> HTTP.Outcome? {
        guard done.wait(timeout: .now() + .milliseconds(milliseconds)) == .success else { return nil }
        return outcome.withLock { $0 }
    }
}
