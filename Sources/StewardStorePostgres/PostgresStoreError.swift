import Foundation
import PostgresNIO

/// A failure of the PostgreSQL store itself (not a `StoreConflict`): the server unreachable,
/// credentials refused, a schema this steward does not know, a statement the server refused.
///
/// `description` is one readable line. It never holds the password, a stack or a protocol dump:
/// the server's own message is kept (it names the table or constraint), nothing else.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure.
    public enum Kind: String, Sendable, Equatable {
        /// A URL or environment setting that cannot be used.
        case configuration
        /// No connection could be made (refused, unknown host, timeout, TLS refused).
        case unreachable
        /// The server refused the user or password.
        case credentials
        /// The server has no such database.
        case missingDatabase
        /// The database's schema is newer than this steward, or not a steward schema.
        case schema
        /// The server refused a statement, or the connection broke during one.
        case server
        /// The store is closed.
        case closed
    }

    /// What kind of failure.
    public let kind: Kind
    /// The line to show.
    public let description: String

    /// Creates an error of `kind` saying `description` (one line).
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// The SQLSTATE of a server error, if `error` is one.
    static func sqlState(of error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A readable error for a failure of connecting to or talking with the store at `place`
    /// (`host:port/database`) as `user`. Leaves `PostgresStoreError`, `StoreConflict` and other
    /// errors of this package as they are.
    static func wrap(_ error: any Error, place: String, user: String) -> any Error {
        guard let error = error as? PSQLError else { return error }
        return describe(error, place: place, user: user)
    }

    static func describe(_ error: PSQLError, place: String, user: String) -> PostgresStoreError {
        if let info = error.serverInfo {
            let message = oneLine(info[.message] ?? "an error without a message")
            switch info[.sqlState] ?? "" {
            case "28P01", "28000":
                return PostgresStoreError(.credentials, "the PostgreSQL store refused the credentials for user \(user) (\(message))")
            case "3D000":
                return PostgresStoreError(.missingDatabase, "the PostgreSQL store at \(place) has no such database (\(message))")
            case let state:
                return PostgresStoreError(.server, "the PostgreSQL store at \(place) refused a statement: \(message) (SQLSTATE \(state))")
            }
        }
        switch error.code {
        case .connectionError, .sslUnsupported, .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            let reason = error.code == .sslUnsupported ? "the server does not offer TLS (sslmode=require)" : reachability(error.underlying)
            return PostgresStoreError(.unreachable, "cannot reach the PostgreSQL store at \(place): \(reason)")
        case .authMechanismRequiresPassword:
            return PostgresStoreError(
                .credentials, "the PostgreSQL store requires a password for user \(user): give it in the URL or PGPASSWORD")
        case .unsupportedAuthMechanism, .saslError:
            return PostgresStoreError(.credentials, "the PostgreSQL store refused the credentials for user \(user) (\(error.code))")
        case .serverClosedConnection, .uncleanShutdown:
            return PostgresStoreError(.unreachable, "the connection to the PostgreSQL store at \(place) was closed by the server")
        case .clientClosedConnection, .poolClosed:
            return PostgresStoreError(.closed, "the PostgreSQL store at \(place) is closed")
        default:
            return PostgresStoreError(.server, "the PostgreSQL store at \(place) failed: \(error.code)")
        }
    }

    /// Why a connection could not be made, in the words people use ("connection refused").
    static func reachability(_ underlying: (any Error)?) -> String {
        guard let underlying else { return "no connection" }
        let text = oneLine(String(describing: underlying))
        let lowered = text.lowercased()
        for (needle, reason) in [
            ("refused", "connection refused"), ("timeout", "no answer (timed out)"), ("timed out", "no answer (timed out)"),
            ("unknown host", "unknown host"), ("name or service not known", "unknown host"), ("unreachable", "network unreachable"),
            ("no such host", "unknown host"), ("reset by peer", "connection reset"),
        ] where lowered.contains(needle) {
            return reason
        }
        return text
    }

    /// `text` on one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}
