import Logging
import PostgresNIO

/// The database's clock, in ms since 1970: leases run on it, never on an engine's clock, so
/// engines whose clocks disagree still agree on whether a lease has lapsed. Constant SQL text.
let databaseNow = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

/// The notification channel engines wake each other on (`LeaseStore.wakeUps`).
let workChannel = "steward_work"

/// One result row, read by column name.
struct Row: Sendable {
    let columns: PostgresRandomAccessRow

    init(_ row: PostgresRow) { columns = row.makeRandomAccess() }

    /// The value of column `name`.
    /// - Throws: `PostgresStoreError` (`.schema`) when the column is NULL, missing or of another type.
    subscript<Value: PostgresDecodable>(_ name: String) -> Value {
        get throws {
            guard columns.contains(name) else {
                throw PostgresStoreError(.schema, "the PostgreSQL store returned no column \(name): is it a steward database?")
            }
            do {
                return try columns[name].decode(Value.self)
            } catch let error as PostgresDecodingError {
                throw PostgresStoreError(
                    .schema,
                    "the PostgreSQL store holds a value this steward cannot read as \(Value.self) (column \(name), type \(error.postgresType)): is it a steward database?")
            }
        }
    }

    /// A `BYTEA` column's bytes (none when NULL).
    func bytes(_ name: String) throws -> [UInt8] {
        let value: ByteBuffer? = try self[name]
        guard var buffer = value else { return [] }
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}

/// A statement assembled from constant SQL text and bound values: the text only ever holds
/// this file's and its callers' literals and `$n` placeholders, never data.
struct Statement {
    private(set) var sql: String
    private(set) var binds = PostgresBindings()

    /// A statement starting with the constant text `sql`.
    init(_ sql: String) { self.sql = sql }

    /// Appends constant SQL text.
    mutating func append(_ text: String) { sql += text }

    /// Binds `value` and returns its placeholder (`$n`).
    mutating func bind<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value) throws -> String {
        try binds.append(value)
        return "$\(binds.count)"
    }

    /// Binds `value` (NULL when nil) and returns its placeholder.
    mutating func bind<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value?) throws -> String {
        try binds.append(value)
        return "$\(binds.count)"
    }

    /// The query to run.
    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}

extension PostgresConnection {
    /// Runs `query` and collects its rows.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [Row] {
        try await self.query(query, logger: logger).collect().map(Row.init)
    }

    /// Runs `query`, discarding any rows.
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        _ = try await self.query(query, logger: logger).collect()
    }

    /// Runs `body` in a transaction (`begin` opens it): commits when it returns, rolls back and
    /// rethrows its own error (not a wrapper) when it throws.
    func transaction<Result>(
        _ begin: PostgresQuery = "BEGIN", logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await run(begin, logger: logger)
        let result: Result
        do {
            result = try await body(self)
        } catch {
            // The rollback's own failure (a broken connection) says nothing the first error does not.
            try? await run("ROLLBACK", logger: logger)
            throw error
        }
        try await run("COMMIT", logger: logger)
        return result
    }
}
