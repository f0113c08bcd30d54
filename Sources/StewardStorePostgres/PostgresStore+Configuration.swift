import Foundation
import PostgresNIO

extension PostgresStore {
    /// Where the store is and how to log in: parsed from a `postgres://` URL, with libpq's
    /// environment variables for what the URL leaves out.
    ///
    /// `description` (and `redacted`) print it without the password.
    public struct Configuration: Sendable, Equatable, CustomStringConvertible {
        /// Whether to encrypt the connection.
        public enum SSLMode: String, Sendable, Equatable {
            /// Plain TCP.
            case disable
            /// TLS or no connection. As libpq's `require`: the connection is encrypted, the
            /// server's certificate is not verified (`verify-full` is not supported yet).
            case require
        }

        /// The server's host name or address, or (starting with `/`) the folder of its Unix-domain
        /// socket (`<folder>/.s.PGSQL.<port>`, as libpq reads it; never encrypted).
        public var host: String
        /// Its port.
        public var port: Int
        /// The user to log in as.
        public var user: String
        /// The password (nil: none; trust or peer authentication).
        public var password: String?
        /// The database.
        public var database: String
        /// Whether to encrypt.
        public var sslMode: SSLMode
        /// Pooled connections at most (reads and writes; the wake-up listener has one more of its own).
        public var poolSize = 8

        /// A configuration of every field.
        public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String, sslMode: SSLMode? = nil) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.sslMode = sslMode ?? (Self.isLoopback(host) ? .disable : .require)
        }

        /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=disable|require]`
        /// (also `postgresql://`; user, password and database percent-decoded; an IPv6 address
        /// in brackets). What the URL leaves out comes from `environment`: `PGHOST`, `PGPORT`,
        /// `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, then the defaults: localhost,
        /// 5432, the OS user (`USER`), a database named as the user. `sslmode` defaults to
        /// `disable` for a loopback host and `require` for any other.
        /// - Parameters:
        ///   - url: The URL.
        ///   - environment: The variables to fall back on (default: the process's).
        /// - Throws: `PostgresStoreError` (`.configuration`) naming what is wrong, never the password.
        public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            func fail(_ message: String) -> PostgresStoreError { PostgresStoreError(.configuration, "invalid PostgreSQL URL: \(message)") }
            guard let schemeEnd = url.range(of: "://") else { throw fail("it must start with postgres:// or postgresql://") }
            let scheme = url[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "postgres" || scheme == "postgresql" else {
                throw fail("the scheme is '\(scheme)', not postgres or postgresql")
            }
            var rest = Substring(url[schemeEnd.upperBound...])
            var query: Substring = ""
            if let mark = rest.firstIndex(of: "?") {
                query = rest[rest.index(after: mark)...]
                rest = rest[..<mark]
            }
            var path: Substring = ""
            if let slash = rest.firstIndex(of: "/") {
                path = rest[rest.index(after: slash)...]
                rest = rest[..<slash]
            }
            var user: String?
            var password: String?
            if let at = rest.lastIndex(of: "@") {
                let info = rest[..<at]
                rest = rest[rest.index(after: at)...]
                let colon = info.firstIndex(of: ":")
                user = try Self.decoded(info[..<(colon ?? info.endIndex)], what: "user", fail)
                if let colon { password = try Self.decoded(info[info.index(after: colon)...], what: "password", fail) }
            }
            var host: String?
            var portText: Substring?
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { throw fail("an IPv6 host has no closing ]") }
                host = String(rest[rest.index(after: rest.startIndex)..<close])
                let after = rest[rest.index(after: close)...]
                if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw fail("unexpected text after the host") }
            } else if let colon = rest.firstIndex(of: ":") {
                host = try Self.decoded(rest[..<colon], what: "host", fail)
                portText = rest[rest.index(after: colon)...]
            } else if !rest.isEmpty {
                // Percent-decoded: a socket folder is written %2Fvar%2Frun%2Fpostgresql.
                host = try Self.decoded(rest, what: "host", fail)
            }
            var sslMode: SSLMode?
            var poolSize: Int?
            for pair in query.split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1)
                let key = String(parts[0])
                let value = parts.count > 1 ? try Self.decoded(parts[1], what: key, fail) : ""
                switch key {
                case "sslmode":
                    guard let mode = SSLMode(rawValue: value) else { throw fail("sslmode must be disable or require, not '\(value)'") }
                    sslMode = mode
                case "pool_size":
                    guard let size = Int(value), (1...200).contains(size) else { throw fail("pool_size must be a number from 1 to 200, not '\(value)'") }
                    poolSize = size
                default:
                    throw fail("the parameter '\(key)' is not supported (only sslmode and pool_size)")
                }
            }
            func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
            let resolvedHost = nonEmpty(host) ?? nonEmpty(environment["PGHOST"]) ?? "localhost"
            let resolvedPortText = portText.map(String.init).flatMap(nonEmpty) ?? nonEmpty(environment["PGPORT"])
            var port = 5432
            if let resolvedPortText {
                guard let parsed = Int(resolvedPortText), (1...65_535).contains(parsed) else { throw fail("the port '\(resolvedPortText)' is not a number from 1 to 65535") }
                port = parsed
            }
            guard let resolvedUser = nonEmpty(user) ?? nonEmpty(environment["PGUSER"]) ?? nonEmpty(environment["USER"]) else {
                throw fail("no user: give one in the URL, PGUSER or USER")
            }
            let database = try nonEmpty(Self.decoded(path, what: "database", fail)) ?? nonEmpty(environment["PGDATABASE"]) ?? resolvedUser
            if sslMode == nil, let mode = nonEmpty(environment["PGSSLMODE"]) {
                guard let parsed = SSLMode(rawValue: mode) else {
                    throw PostgresStoreError(.configuration, "PGSSLMODE must be disable or require, not '\(mode)'")
                }
                sslMode = parsed
            }
            self.init(
                host: resolvedHost, port: port, user: resolvedUser, password: password ?? nonEmpty(environment["PGPASSWORD"]),
                database: database, sslMode: sslMode)
            if let poolSize { self.poolSize = poolSize }
        }

        /// `host:port/database`, as errors name the store (`socket/database` for a Unix-domain socket).
        public var place: String {
            if let socketPath { return "\(socketPath)/\(database)" }
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "\(shownHost):\(port)/\(database)"
        }

        /// The Unix-domain socket's path when `host` is a folder.
        var socketPath: String? { host.hasPrefix("/") ? "\(host)/.s.PGSQL.\(port)" : nil }

        /// The URL without the password (`postgres://user:***@host:port/database?sslmode=...`).
        public var redacted: String {
            let secret = password == nil ? "" : ":***"
            let userText = user.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? user
            let databaseText = database.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? database
            let shownHost = host.contains(":") ? "[\(host)]" : host.addingPercentEncoding(withAllowedCharacters: .urlHostAllowed) ?? host
            return "postgres://\(userText)\(secret)@\(shownHost):\(port)/\(databaseText)?sslmode=\(sslMode.rawValue)"
        }

        /// The redacted URL.
        public var description: String { redacted }

        /// Whether `host` names this machine (no TLS needed by default).
        static func isLoopback(_ host: String) -> Bool {
            host == "localhost" || host == "::1" || host.hasPrefix("127.") || host.hasPrefix("/")
        }

        static func decoded(_ text: Substring, what: String, _ fail: (String) -> PostgresStoreError) throws -> String {
            guard let decoded = String(text).removingPercentEncoding else { throw fail("the \(what) has a broken percent-encoding") }
            return decoded
        }

        /// postgres-nio's TLS setting for `sslMode`.
        var tls: PostgresClient.Configuration.TLS {
            switch sslMode {
            case .disable: return .disable
            case .require:
                var tls = TLSConfiguration.makeClientConfiguration()
                // libpq's `require`: encrypted, the certificate not verified.
                tls.certificateVerification = .none
                return .require(tls)
            }
        }

        /// The pool's configuration.
        var client: PostgresClient.Configuration {
            var configuration =
                socketPath.map { PostgresClient.Configuration(unixSocketPath: $0, username: user, password: password, database: database) }
                ?? PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
            configuration.options.connectTimeout = .seconds(10)
            configuration.options.maximumConnections = max(1, poolSize)
            return configuration
        }

        /// A single connection's configuration (the probe at open, the listener).
        /// - Throws: `PostgresStoreError` when TLS cannot be set up.
        func connection() throws -> PostgresConnection.Configuration {
            if let socketPath {
                var configuration = PostgresConnection.Configuration(unixSocketPath: socketPath, username: user, password: password, database: database)
                configuration.options.connectTimeout = .seconds(10)
                return configuration
            }
            let tls: PostgresConnection.Configuration.TLS
            switch sslMode {
            case .disable: tls = .disable
            case .require:
                var settings = TLSConfiguration.makeClientConfiguration()
                settings.certificateVerification = .none
                do {
                    tls = .require(try NIOSSLContext(configuration: settings))
                } catch {
                    throw PostgresStoreError(.configuration, "cannot set up TLS for the PostgreSQL store at \(place): \(PostgresStoreError.oneLine(String(describing: error)))")
                }
            }
            var configuration = PostgresConnection.Configuration(
                host: host, port: port, username: user, password: password, database: database, tls: tls)
            configuration.options.connectTimeout = .seconds(10)
            return configuration
        }
    }
}
