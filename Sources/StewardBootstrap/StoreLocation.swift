import Foundation
import StewardEngine
import StewardStorePostgres
import StewardStoreSQLite

/// Where the store is: the embedded SQLite file or a PostgreSQL database several engines share.
///
/// Written `sqlite:PATH` (a bare path means the same) or `postgres://user[:password]@host[:port]/db`
/// (`postgresql://` too). Credentials come from the URL or from libpq's `PG*` environment
/// variables; `description` never shows the password.
public enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
    /// An SQLite file (`:memory:` for a private in-memory database).
    case sqlite(path: String)
    /// A PostgreSQL URL, as given.
    case postgres(url: String)

    /// The environment variable naming the store when no `--store` is given.
    public static let environmentVariable = "STEWARD_STORE"

    /// Parses a store URL.
    /// - Throws: `StoreOpenError` for an empty text or an unknown scheme (`mysql://…`).
    public init(_ text: String) throws(StoreOpenError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("postgres://") || trimmed.hasPrefix("postgresql://") {
            self = .postgres(url: trimmed)
        } else if trimmed.hasPrefix("sqlite:") {
            var path = String(trimmed.dropFirst("sqlite:".count))
            // sqlite:///abs/path and sqlite://rel are accepted as sqlite:/abs/path and sqlite:rel.
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw StoreOpenError("the store URL '\(text)' names no file: write sqlite:PATH") }
            self = .sqlite(path: path)
        } else if let scheme = trimmed.range(of: "://").map({ String(trimmed[..<$0.lowerBound]) }) {
            throw StoreOpenError("unknown store '\(scheme)://…': write sqlite:PATH or postgres://user@host:port/database")
        } else {
            guard !trimmed.isEmpty else { throw StoreOpenError("the store URL is empty: write sqlite:PATH or postgres://user@host:port/database") }
            self = .sqlite(path: trimmed)
        }
    }

    /// The store a command opens: `store` (`--store`), else `database` (`--db`, an SQLite path),
    /// else `$STEWARD_STORE`, else the embedded default `.steward/steward.db` under `root`.
    /// - Throws: `StoreOpenError` when the text given does not parse, or both flags are given.
    public static func resolve(
        store: String?, database: String?, environment: [String: String] = ProcessInfo.processInfo.environment, root: String
    ) throws(StoreOpenError) -> StoreLocation {
        if store != nil, database != nil { throw StoreOpenError("give --store or --db, not both") }
        if let store { return try StoreLocation(store) }
        if let database { return .sqlite(path: database) }
        if let named = environment[environmentVariable], !named.isEmpty { return try StoreLocation(named) }
        return .sqlite(path: SQLiteStore.defaultPath(root: root))
    }

    /// Opens the store (creating an SQLite file and migrating either schema as needed).
    /// - Parameter engineID: The engine's name among those sharing a PostgreSQL database (nil:
    ///   host name, process id and a random suffix); unused for SQLite.
    /// - Parameter leaseDuration: How long this engine's leases on running instances last
    ///   without a heartbeat, in ms (nil: the store's default, 15 s); unused for SQLite.
    /// - Throws: `StoreOpenError`, one line: unreachable, credentials refused, a newer schema, an
    ///   unreadable file.
    public func open(engineID: String? = nil, leaseDuration: Int64? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) async throws(StoreOpenError)
        -> any EngineStore
    {
        switch self {
        case .sqlite(let path):
            do { return try SQLiteStore(path: path) } catch { throw StoreOpenError("\(error)") }
        case .postgres(let url):
            do {
                let configuration = try PostgresStore.Configuration(url: url, environment: environment)
                return try await PostgresStore.open(
                    configuration, engineID: engineID ?? PostgresStore.defaultEngineID(), leaseDuration: leaseDuration ?? 15_000)
            } catch {
                throw StoreOpenError("\(error)")
            }
        }
    }

    /// `sqlite:PATH`, or the PostgreSQL URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:" + path
        case .postgres(let url): return Self.redacted(url)
        }
    }

    /// A URL with the password part of its user info replaced by `***`.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        let userInfo = url[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<userInfo.index(after: colon)]) + "***" + String(url[at...])
    }
}

/// A store could not be opened: one line saying which store (never its password) and why.
public struct StoreOpenError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
