import Foundation
import GRDB
import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates

/// The embedded store: GRDB over one SQLite file in WAL mode with `synchronous = FULL`, so
/// a commit the engine was told about is on disk. Concurrent commits are group-committed:
/// whatever arrives while a transaction is being written goes into the next one, so one
/// fsync serves many transitions without delaying any of them by a timer.
///
/// It implements every store protocol of `StewardEngine` (`EngineStore`) and decides nothing:
/// what a commit writes is spelled out in its `InstanceCommit`. Tests in this module's test
/// target reach the database itself (to tamper with it) through `@testable import`.
public final class SQLiteStore: EngineStore {
    /// The database.
    let pool: DatabasePool
    /// The database, for the benchmarks' commit counter and pragma checks only.
    @_spi(Benchmarks) public var databasePool: DatabasePool { pool }
    /// Group-commit write transactions so far, counted without a transaction observer (which
    /// would make GRDB track every statement).
    @_spi(Benchmarks) public var committedTransactions: Int { committer.transactions.load(ordering: .relaxed) }
    /// Where the file is.
    public let path: String
    let committer: GroupCommitter

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            // FULL: in WAL mode the WAL is fsynced at every commit, so acknowledged = durable.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        configuration.busyMode = .timeout(10)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB's WAL set-up leaves the writer at synchronous=NORMAL (not fsynced per
            // commit); force FULL on the writer, after that set-up, so acknowledged = on disk.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try Schema.migrator.migrate(pool)
        } catch {
            throw StoreError("cannot open the store at \(path): \(error)")
        }
        self.path = path
        committer = GroupCommitter(pool: pool)
    }

    /// The embedded default: `.steward/steward.db` under `root`.
    public static func defaultPath(root: String) -> String {
        (root as NSString).appendingPathComponent(".steward/steward.db")
    }

    // MARK: InstanceStore

    /// Makes one transition durable, batched with concurrent ones.
    public func commit(_ commit: InstanceCommit) async throws {
        try await committer.submit(.transition(commit, EncodedCommit(commit)))
    }

    /// Appends an audit entry (not tied to an instance's sequence) to the hash-chained journal.
    public func appendAudit(kind: String, actor: String, payload: JSONValue, at: Int64, instance: String?) async throws {
        try await committer.submit(.audit(kind: kind, actor: actor, payload: payload, at: at, instance: instance))
    }

    /// The stored state of an instance.
    public func instance(id: String) async throws -> InstanceState? {
        try await pool.read { db in
            try StoredText.fetchOne(db, sql: "SELECT state FROM instances WHERE id = ?", arguments: [id]).map(Self.decodeState)
        }
    }

    /// The instance submitted with `clientKey`.
    public func instance(clientKey: String) async throws -> InstanceState? {
        try await pool.read { db in
            try StoredText.fetchOne(db, sql: "SELECT state FROM instances WHERE client_key = ?", arguments: [clientKey]).map(Self.decodeState)
        }
    }

    /// The last snapshot of an instance and the events committed after it.
    public func instanceWithTail(id: String) async throws -> (InstanceState, [Event])? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT rowid, state, snapshot_seq FROM instances WHERE id = ?", arguments: [id]) else {
                return nil
            }
            return (try Self.decodeState(row), try Self.tail(db, rowid: row["rowid"], after: row["snapshot_seq"]))
        }
    }

    /// Running instances with an id after `after`, in id order, each with the events after
    /// its snapshot (for paging through recovery).
    public func runnableInstances(after: String?, limit: Int) async throws -> [(InstanceState, [Event])] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT rowid, state, snapshot_seq FROM instances WHERE status = 'running' AND id > ? ORDER BY id LIMIT ?",
                arguments: [after ?? "", limit]
            ).map { row in (try Self.decodeState(row), try Self.tail(db, rowid: row["rowid"], after: row["snapshot_seq"])) }
        }
    }

    static func tail(_ db: Database, rowid: Int64, after sequence: Int) throws -> [Event] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT kind, payload FROM journal WHERE instance = ? AND seq > ? ORDER BY seq"),
            arguments: [rowid, sequence]
        ).map { row in
            try Event(name: row["kind"], payload: JSONValue.parse(StoredText.text(row, "payload")))
        }
    }

    /// A pinned config by its content hash.
    public func config(hash: String) async throws -> JSONValue? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT body FROM configs WHERE hash = ?", arguments: [hash]).map { try JSONValue.parse($0) }
        }
    }

    /// A pinned template snapshot by its hash.
    public func template(hash: String) async throws -> TemplateSnapshot? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM templates WHERE hash = ?", arguments: [hash]).map(Self.snapshot)
        }
    }

    /// Every stored template snapshot, oldest first.
    public func templates() async throws -> [TemplateSnapshot] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM templates ORDER BY stored_at, hash").map(Self.snapshot) }
    }

    static func snapshot(_ row: Row) throws -> TemplateSnapshot {
        let prompts: String = row["prompts"]
        return TemplateSnapshot(
            hash: row["hash"], name: row["name"], version: row["version"], text: row["text"],
            prompts: (try JSONValue.parse(prompts).objectValue ?? [:]).compactMapValues(\.stringValue))
    }

    // MARK: Queries

    /// Instances, newest first, optionally filtered.
    public func instances(status: InstanceStatus?, template: String?, customer: String?, limit: Int) async throws -> [InstanceSummary] {
        try await instances(InstanceQuery(status: status, template: template, customer: customer, limit: limit))
    }

    public func instancesWaiting(forEvent name: String, key: String) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(
                db,
                sql: "SELECT i.id FROM event_waits w JOIN instances i ON i.rowid = w.instance WHERE w.event = ? AND w.key = ? ORDER BY i.rowid",
                arguments: [name, key])
        }
    }

    /// The `WHERE` clause and its arguments for the filters `query` sets (empty: none).
    static func whereClause(_ query: InstanceQuery) -> (String, StatementArguments) {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        func filter(_ clause: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            clauses.append(clause)
            _ = arguments.append(contentsOf: [value])
        }
        filter("status = ?", query.status?.rawValue)
        filter("template = ?", query.template)
        filter("version = ?", query.version)
        filter("customer = ?", query.customer)
        filter("current = ?", query.state)
        filter("created_at <= ?", query.createdBefore)
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), arguments)
    }

    public func instances(_ query: InstanceQuery) async throws -> [InstanceSummary] {
        try await pool.read { db in
            var (filter, arguments) = Self.whereClause(query)
            _ = arguments.append(contentsOf: [query.limit, max(0, query.offset)])
            return try Row.fetchAll(
                db,
                sql: "SELECT id, template, version, customer, status, current, sequence, created_at, updated_at FROM instances \(filter) ORDER BY rowid DESC LIMIT ? OFFSET ?",
                arguments: arguments
            ).map { row in
                InstanceSummary(
                    id: row["id"], template: row["template"], version: row["version"], customer: row["customer"],
                    status: InstanceStatus(rawValue: row["status"]) ?? .failed, current: row["current"], sequence: row["sequence"],
                    createdAt: row["created_at"], updatedAt: row["updated_at"])
            }
        }
    }

    public func instanceCounts(_ query: InstanceQuery) async throws -> [InstanceCount] {
        try await pool.read { db in
            let (filter, arguments) = Self.whereClause(query)
            return try Row.fetchAll(
                db,
                sql: "SELECT template, version, status, COUNT(*) AS n FROM instances \(filter) GROUP BY template, version, status ORDER BY template, version, status",
                arguments: arguments
            ).compactMap { row in
                InstanceStatus(rawValue: row["status"]).map { InstanceCount(template: row["template"], version: row["version"], status: $0, count: row["n"]) }
            }
        }
    }

    /// Counts instances by status.
    public func countByStatus() async throws -> [InstanceStatus: Int] {
        try await pool.read { db in
            var counts: [InstanceStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM instances GROUP BY status") {
                if let status = InstanceStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    /// The journal entries of one instance, in order.
    public func history(of id: String) async throws -> [JournalEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT j.id, i.id AS instance, j.seq, j.kind, j.at, j.actor, j.payload FROM journal j
                    JOIN instances i ON i.rowid = j.instance WHERE i.id = ? ORDER BY j.id
                    """,
                arguments: [id]
            ).map(Self.entry)
        }
    }

    /// Audit entries not tied to an instance sequence (refused decisions, reviewer changes), newest first.
    public func auditEntries(limit: Int) async throws -> [JournalEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT j.id, i.id AS instance, j.seq, j.kind, j.at, j.actor, j.payload FROM journal j
                    LEFT JOIN instances i ON i.rowid = j.instance WHERE j.seq IS NULL ORDER BY j.id DESC LIMIT ?
                    """,
                arguments: [limit]
            ).map(Self.entry)
        }
    }

    static func entry(_ row: Row) throws -> JournalEntry {
        JournalEntry(
            id: row["id"], instance: row["instance"], sequence: row["seq"], kind: row["kind"], at: row["at"], actor: row["actor"],
            payload: try JSONValue.parse(StoredText.text(row, "payload")))
    }

    static func decodeState(_ stored: StoredText) throws -> InstanceState {
        try InstanceState(json: JSONValue.parse(stored.decoded()))
    }

    /// The snapshot in a row's `state` column.
    static func decodeState(_ row: Row) throws -> InstanceState {
        try InstanceState(json: JSONValue.parse(StoredText.text(row, "state")))
    }
}
