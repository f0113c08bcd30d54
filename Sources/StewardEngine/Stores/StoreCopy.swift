/// One value of a stored row, as `steward store copy` moves it between backends.
public enum StoreValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// An integer (ids, sequences, times in ms).
    case integer(Int64)
    /// A floating-point number.
    case real(Double)
    /// Text (JSON documents as their exact text: the hash chain covers it byte for byte).
    case text(String)
    /// Bytes (hashes).
    case bytes([UInt8])
}

/// Rows of one table: what a store exports and another imports. Column names are the
/// tables' own, the same in every backend's schema.
public struct StoreRows: Sendable, Hashable {
    /// The table.
    public var table: String
    /// Its columns, in the order of each row's values.
    public var columns: [String]
    /// The rows.
    public var rows: [[StoreValue]]

    /// Creates a chunk of rows.
    public init(table: String, columns: [String], rows: [[StoreValue]]) {
        self.table = table
        self.columns = columns
        self.rows = rows
    }
}

/// A store whose every row can be read out, for copying it to another backend.
public protocol StoreExporter: Sendable {
    /// Hands every row of every table to `receive`, a chunk of at most `chunk` rows at a time,
    /// tables in the order `StoreCopy.tables` gives (a row's references are handed before it),
    /// each table in its primary-key order, documents decoded to their text.
    /// - Throws: `StoreCopyError` when the store holds a table the copy does not know (a newer
    ///   schema: copying it would lose data), or the store's error.
    func exportRows(chunk: Int, into receive: @Sendable (StoreRows) async throws -> Void) async throws
}

/// A store that can be filled with another store's rows.
public protocol StoreImporter: Sendable {
    /// Whether it holds no instance, journal row, reviewer or other record (its schema may exist).
    func isEmptyForCopy() async throws -> Bool
    /// Inserts rows as they are (ids included), in the same transaction-free order the exporter
    /// gave. Fails on a row that collides.
    func importRows(_ rows: StoreRows) async throws
    /// After the last rows: moves id generators past the imported ids, so new rows do not collide.
    func finishImport() async throws
}

/// The tables a copy moves, parents first, and its errors.
public enum StoreCopy {
    /// Every table of the store schema, in an order where each row's references come first.
    public static let tables = [
        "configs", "templates", "instances", "reviewers", "journal", "chain_head", "review_tasks", "review_claims", "labelled_examples",
        "timers", "notifications", "notification_deliveries", "notification_cursors", "event_waits", "audit_items", "audit_verdicts",
        "eval_runs", "eval_schedules", "release_blocks", "migrations", "migration_progress", "shadow_observations",
    ]
}

/// A copy between stores cannot go on.
public struct StoreCopyError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
