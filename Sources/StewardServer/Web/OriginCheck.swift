import Foundation
import Hummingbird

/// Login CSRF protection for the forms that exist before a session does (sign-in) or end one
/// (sign-out): the browser must say the form came from a page of this server.
///
/// Browsers send `Origin` with every form POST (the pages' `Referrer-Policy: same-origin`
/// keeps it the real origin rather than `null`), and `Referer` from older ones; another site
/// cannot forge either. The server compares it with the `Host` the request was sent to.
enum OriginCheck {
    /// Why `request` may not have come from a page of this server, or nil when it did: the
    /// host and port of `Origin` (or, without one, of `Referer`) must be those of `Host`. A
    /// request with neither header, with `Origin: null`, or without `Host` is refused.
    static func problem(_ request: Request) -> String? {
        guard let host = request.head.authority.flatMap(Authority.init(hostHeader:)) else {
            return "the request has no Host header, so the server cannot tell whether the form came from one of its pages"
        }
        let header: String
        let sender: String
        if let origin = request.headers[.origin] {
            (header, sender) = ("Origin", origin)
        } else if let referer = request.headers[.referer] {
            (header, sender) = ("Referer", referer)
        } else {
            return "the browser did not say which page sent this form (no Origin or Referer header); sign in from this server's reviewer page"
        }
        guard let from = Authority(url: sender) else {
            return "the form came from '\(sender)' (\(header)), not from a page of this server"
        }
        guard from.matches(host) else {
            return "the form came from \(from) (\(header)), another site than this server (\(host)); sign in from this server's reviewer page"
        }
        return nil
    }

    /// Host and port, compared case-insensitively, with a URL's default port filled in.
    struct Authority: CustomStringConvertible {
        var host: String
        /// Nil: the `Host` header gave none (the scheme's default applies).
        var port: Int?
        var defaultPort: Int?

        /// From a `Host` header: `name`, `name:port`, `[v6]`, `[v6]:port`.
        init?(hostHeader text: String) {
            var rest = Substring(text)
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                host = String(rest[rest.index(after: rest.startIndex)..<close]).lowercased()
                rest = rest[rest.index(after: close)...]
            } else {
                let name = rest.prefix { $0 != ":" }
                host = String(name).lowercased()
                rest = rest.dropFirst(name.count)
            }
            if rest.isEmpty {
                port = nil
            } else {
                guard rest.first == ":", let number = Int(rest.dropFirst()), (1...65_535).contains(number) else { return nil }
                port = number
            }
            guard !host.isEmpty else { return nil }
        }

        /// From an `Origin` or `Referer` URL (`null` and non-http(s) URLs give nil).
        init?(url text: String) {
            guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
                scheme == "http" || scheme == "https", let name = components.host, !name.isEmpty
            else { return nil }
            host = name.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            port = components.port
            defaultPort = scheme == "https" ? 443 : 80
        }

        /// Whether this sender authority names the server at `server` (a `Host` authority).
        func matches(_ server: Authority) -> Bool {
            host == server.host && (port ?? defaultPort) == (server.port ?? defaultPort)
        }

        var description: String {
            let name = host.contains(":") ? "[\(host)]" : host
            return port.map { "\(name):\($0)" } ?? name
        }
    }
}
