#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import PostgresNIO
import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates
import Synchronization

/// The scale-out store: PostgreSQL through postgres-nio, behind the same store protocols as
/// the SQLite store (`EngineStore`), with leases (`LeaseStore`) so several engines share one
/// database. It decides nothing: what a commit writes is spelled out in its `InstanceCommit`,
/// and it writes exactly what the SQLite store writes, table by table.
///
/// - Commits are group-committed by one writer task per store: whatever arrives while a
///   transaction is being written goes into the next one, each commit in its own savepoint.
/// - The journal is one hash chain across every engine on the database: each write transaction
///   locks the `chain_head` row first and appends after it.
/// - Reads run on the connection pool; those that need several statements read one snapshot
///   (`REPEATABLE READ`).
///
/// Thread rules: every method may be called from any task; the store is `Sendable`. Call
/// `close()` before dropping it (its pool and listener run until then).
public final class PostgresStore: EngineStore, LeaseStore {
    /// Where the store is (its `description` has no password).
    public let configuration: Configuration
    /// The engine this store writes for (unique among the engines sharing the database).
    public let engineID: String
    /// How long a lease lasts after its last renewal, ms.
    public let leaseDuration: Int64
    let client: PostgresClient
    let writer: PostgresWriter
    let journalWriter: JournalWriter
    let listener: WorkListener
    let logger: Logger
    private let running: Task<Void, Never>
    /// The writer's transactions so far (group commit: usually fewer than the commits).
    @_spi(Benchmarks) public var committedTransactions: Int { writer.transactions.load(ordering: .relaxed) }
    private let closed = Atomic<Bool>(false)

    private init(
        configuration: Configuration, engineID: String, leaseDuration: Int64, client: PostgresClient, running: Task<Void, Never>,
        listener: WorkListener, logger: Logger
    ) {
        self.configuration = configuration
        self.engineID = engineID
        self.leaseDuration = leaseDuration
        self.client = client
        self.running = running
        self.listener = listener
        self.logger = logger
        journalWriter = JournalWriter(
            engineID: engineID, leaseDuration: leaseDuration, logger: logger, place: configuration.place, user: configuration.user)
        writer = PostgresWriter(client: client, context: journalWriter)
    }

    /// Connects to the store, brings its schema up to date and starts its connection pool and
    /// its wake-up listener.
    /// - Parameters:
    ///   - configuration: Where the store is (`Configuration(url:)`).
    ///   - engineID: This engine's name among those sharing the database (default: host name,
    ///     process id and a random suffix).
    ///   - leaseDuration: How long a lease lasts after its last renewal, ms (default 15 s).
    ///   - logger: Where the store and postgres-nio log.
    /// - Throws: `PostgresStoreError`, one line: `.configuration` (an empty engine id, a lease
    ///   under 1 ms), `.unreachable` ("cannot reach the PostgreSQL
    ///   store at host:port/db: connection refused"), `.credentials`, `.missingDatabase`,
    ///   `.schema` (the database's schema is newer than this steward), `.server`.
    public static func open(
        _ configuration: Configuration, engineID: String = PostgresStore.defaultEngineID(), leaseDuration: Int64 = 15_000,
        logger: Logger = Logger(label: "steward.store.postgres")
    ) async throws -> PostgresStore {
        guard leaseDuration > 0, !engineID.isEmpty else {
            throw PostgresStoreError(.configuration, "an engine needs a name and a lease of at least 1 ms (given '\(engineID)', \(leaseDuration) ms)")
        }
        let place = configuration.place
        let user = configuration.user
        let connection = try configuration.connection()
        // A connection of its own first: a clear error when the store cannot be reached, and the
        // migrations before the pool opens.
        let probe: PostgresConnection
        do {
            probe = try await PostgresConnection.connect(configuration: connection, id: 0, logger: logger)
        } catch {
            throw PostgresStoreError.wrap(error, place: place, user: user)
        }
        do {
            try await PostgresSchema.migrate(probe, logger: logger)
        } catch {
            try? await probe.close()
            throw PostgresStoreError.wrap(error, place: place, user: user)
        }
        try? await probe.close()
        let listener: WorkListener
        do {
            listener = try await WorkListener.start(configuration: connection, engineID: engineID, logger: logger)
        } catch {
            throw PostgresStoreError.wrap(error, place: place, user: user)
        }
        let client = PostgresClient(configuration: configuration.client, backgroundLogger: logger)
        // Queries wait for `run()` to have begun (postgres-nio warns about every one sent
        // before it): the task says when it is about to call it, then yields to let it begin.
        let (started, start) = AsyncStream.makeStream(of: Void.self)
        let running = Task {
            start.finish()
            await client.run()
        }
        for await _ in started {}
        await Task.yield()
        return PostgresStore(
            configuration: configuration, engineID: engineID, leaseDuration: leaseDuration, client: client, running: running,
            listener: listener, logger: logger)
    }

    /// `open` with a URL (`Configuration(url:)`, libpq's environment variables as fallbacks).
    public static func open(
        url: String, engineID: String = PostgresStore.defaultEngineID(), leaseDuration: Int64 = 15_000,
        logger: Logger = Logger(label: "steward.store.postgres")
    ) async throws -> PostgresStore {
        try await open(Configuration(url: url), engineID: engineID, leaseDuration: leaseDuration, logger: logger)
    }

    /// Lets the queued writes finish, then stops the wake-ups, the listener and the pool.
    /// Later calls do nothing; any other call after it fails with `PostgresStoreError` (`.closed`).
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await writer.close()
        await listener.stop()
        running.cancel()
        await running.value
    }

    /// `host-pid-random`: the host name, this process's id and 6 random hex digits.
    public static func defaultEngineID() -> String {
        var name = [UInt8](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(decoding: name.prefix { $0 != 0 }, as: UTF8.self) : "host"
        let suffix = String(UInt32.random(in: 0..<0x100_0000), radix: 16)
        return "\(host)-\(getpid())-\(String(repeating: "0", count: 6 - suffix.count))\(suffix)"
    }

    // MARK: Running statements

    func wrap(_ error: any Error) -> any Error { journalWriter.wrap(error) }

    /// Runs one statement on the pool and collects its rows.
    func rows(_ query: PostgresQuery) async throws -> [Row] {
        do {
            return try await client.query(query, logger: logger).collect().map(Row.init)
        } catch {
            throw wrap(error)
        }
    }

    /// The first row of `query` decoded by `decode` (nil when there is none). Kept out of line:
    /// inlined into an async caller (as `rows(query).first.map(decode)` or as this function),
    /// the decoding crashed Swift 6.3's optimiser (coroutine splitting) in release builds.
    @inline(never)
    func first<Value>(_ query: PostgresQuery, _ decode: (Row) throws -> Value) async throws -> Value? {
        guard let row = try await rows(query).first else { return nil }
        return try decode(row)
    }

    /// Runs one statement on the pool, discarding its rows.
    func run(_ query: PostgresQuery) async throws { _ = try await rows(query) }

    /// Runs `body` on one pooled connection in a transaction: a read-only snapshot
    /// (`REPEATABLE READ`) when `readOnly`, else a read-committed write transaction.
    func transaction<Result: Sendable>(readOnly: Bool = false, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let begin: PostgresQuery = readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN"
        do {
            return try await client.withConnection { connection in
                try await connection.transaction(begin, logger: logger) { connection in try await body(connection) }
            }
        } catch {
            throw wrap(error)
        }
    }

    /// Runs `body` in a write transaction that appends to the journal (the chain head locked first).
    func journalTransaction<Result: Sendable>(_ body: (inout Journal) async throws -> Result) async throws -> Result {
        do {
            return try await journalWriter.transaction(client, body)
        } catch {
            throw wrap(error)
        }
    }

    // MARK: InstanceStore

    /// Makes one transition durable, batched with concurrent ones. Takes or renews this engine's
    /// lease when the instance stays running, releases it otherwise.
    /// - Throws: `StoreConflict` when the sequence check fails, the client key is taken, the fired
    ///   timer is no longer pending, or another engine holds a live lease on the instance;
    ///   `PostgresStoreError` when the store cannot be written.
    public func commit(_ commit: InstanceCommit) async throws {
        try await writer.submit(.transition(commit, EncodedTransition(commit)))
    }

    /// Appends an audit entry (not tied to an instance's sequence) to the hash-chained journal.
    public func appendAudit(kind: String, actor: String, payload: JSONValue, at: Int64, instance: String?) async throws {
        try await writer.submit(.audit(kind: kind, actor: actor, payload: payload.jsonString, at: at, instance: instance))
    }

    /// The last stored snapshot of an instance.
    public func instance(id: String) async throws -> InstanceState? {
        try await first("SELECT state FROM instances WHERE id = \(id)", Self.decodeState)
    }

    /// The instance submitted with `clientKey`.
    public func instance(clientKey: String) async throws -> InstanceState? {
        try await first("SELECT state FROM instances WHERE client_key = \(clientKey)", Self.decodeState)
    }

    /// The last snapshot of an instance and the events committed after it (one statement, one snapshot).
    public func instanceWithTail(id: String) async throws -> (InstanceState, [Event])? {
        let rows = try await rows(
            """
            SELECT i.state, j.kind, j.payload FROM instances i
            LEFT JOIN journal j ON j.instance = i.rowid AND j.seq > i.snapshot_seq
            WHERE i.id = \(id) ORDER BY j.seq
            """)
        guard let first = rows.first else { return nil }
        let events = try rows.compactMap { row -> Event? in
            guard let kind: String = try row["kind"] else { return nil }
            return try Event(name: kind, payload: JSONValue.parse(row["payload"] as String))
        }
        return (try Self.decodeState(first), events)
    }

    /// Running instances with an id after `after`, in id order, each with the events after its snapshot.
    public func runnableInstances(after: String?, limit: Int) async throws -> [(InstanceState, [Event])] {
        try await transaction(readOnly: true) { connection in
            let rows = try await connection.rows(
                "SELECT rowid, state, snapshot_seq FROM instances WHERE status = 'running' AND id > \(after ?? "") ORDER BY id LIMIT \(limit)",
                logger: logger)
            return try await Self.withTails(rows, snapshots: true, connection: connection, logger: logger)
        }
    }

    /// Each row's state (`state`) with its journal events after `snapshot_seq` (or all of them),
    /// read in one statement.
    static func withTails(_ rows: [Row], snapshots: Bool, connection: PostgresConnection, logger: Logger) async throws -> [(InstanceState, [Event])] {
        guard !rows.isEmpty else { return [] }
        var rowids: [Int64] = []
        var after: [Int64] = []
        for row in rows {
            rowids.append(try row["rowid"])
            after.append(snapshots ? try row["snapshot_seq"] : 0)
        }
        var events: [Int64: [Event]] = [:]
        for row in try await connection.rows(
            """
            SELECT j.instance, j.kind, j.payload FROM journal j
            JOIN unnest(\(rowids)::bigint[], \(after)::bigint[]) AS t(instance, after) ON j.instance = t.instance AND j.seq > t.after
            ORDER BY j.instance, j.seq
            """, logger: logger)
        {
            events[try row["instance"], default: []].append(try Event(name: row["kind"], payload: JSONValue.parse(row["payload"] as String)))
        }
        return try zip(rows, rowids).map { row, rowid in (try decodeState(row), events[rowid] ?? []) }
    }

    /// A pinned config by its content hash.
    public func config(hash: String) async throws -> JSONValue? {
        try await rows("SELECT body FROM configs WHERE hash = \(hash)").first.map { try JSONValue.parse($0["body"] as String) }
    }

    /// A pinned template snapshot by its hash.
    public func template(hash: String) async throws -> TemplateSnapshot? {
        try await first("SELECT hash, name, version, text, prompts FROM templates WHERE hash = \(hash)", Self.snapshot)
    }

    /// Every stored template snapshot, oldest first.
    public func templates() async throws -> [TemplateSnapshot] {
        try await rows("SELECT hash, name, version, text, prompts FROM templates ORDER BY stored_at, hash").map(Self.snapshot)
    }

    static func snapshot(_ row: Row) throws -> TemplateSnapshot {
        TemplateSnapshot(
            hash: try row["hash"], name: try row["name"], version: try row["version"], text: try row["text"],
            prompts: (try JSONValue.parse(row["prompts"] as String).objectValue ?? [:]).compactMapValues(\.stringValue))
    }

    /// The snapshot in a row's `state` column (out of line: inlined into an async caller it
    /// crashes Swift 6.3's optimiser).
    @inline(never)
    static func decodeState(_ row: Row) throws -> InstanceState {
        try InstanceState(json: JSONValue.parse(row["state"] as String))
    }

    // MARK: Queries

    /// Instances, newest first, optionally filtered.
    public func instances(status: InstanceStatus?, template: String?, customer: String?, limit: Int) async throws -> [InstanceSummary] {
        try await instances(InstanceQuery(status: status, template: template, customer: customer, limit: limit))
    }

    /// The ids of the instances waiting now for event `name` with correlation key `key`, oldest first.
    public func instancesWaiting(forEvent name: String, key: String) async throws -> [String] {
        try await rows(
            "SELECT i.id FROM event_waits w JOIN instances i ON i.rowid = w.instance WHERE w.event = \(name) AND w.key = \(key) ORDER BY i.rowid"
        ).map { try $0["id"] }
    }

    /// A statement starting with `select` and filtered by every filter `query` sets.
    static func filtered(_ select: String, _ query: InstanceQuery) throws -> Statement {
        var statement = Statement(select)
        var clauses: [String] = []
        func filter<Value: PostgresThrowingDynamicTypeEncodable>(_ column: String, _ value: Value?) throws {
            guard let value else { return }
            clauses.append("\(column) \(try statement.bind(value))")
        }
        try filter("status =", query.status?.rawValue)
        try filter("template =", query.template)
        try filter("version =", query.version)
        try filter("customer =", query.customer)
        try filter("current =", query.state)
        try filter("created_at <=", query.createdBefore)
        if !clauses.isEmpty { statement.append(" WHERE " + clauses.joined(separator: " AND ")) }
        return statement
    }

    /// Instances matching every filter `query` sets, newest first, a page of them.
    public func instances(_ query: InstanceQuery) async throws -> [InstanceSummary] {
        var statement = try Self.filtered(
            "SELECT id, template, version, customer, status, current, sequence, created_at, updated_at FROM instances", query)
        statement.append(" ORDER BY rowid DESC LIMIT \(try statement.bind(query.limit)) OFFSET \(try statement.bind(max(0, query.offset)))")
        return try await rows(statement.query).map { row in
            InstanceSummary(
                id: try row["id"], template: try row["template"], version: try row["version"], customer: try row["customer"],
                status: InstanceStatus(rawValue: try row["status"]) ?? .failed, current: try row["current"], sequence: try row["sequence"],
                createdAt: try row["created_at"], updatedAt: try row["updated_at"])
        }
    }

    /// How many instances match `query`, per template, version and status.
    public func instanceCounts(_ query: InstanceQuery) async throws -> [InstanceCount] {
        var statement = try Self.filtered("SELECT template, version, status, COUNT(*) AS n FROM instances", query)
        statement.append(" GROUP BY template, version, status ORDER BY template, version, status")
        return try await rows(statement.query).compactMap { row in
            guard let status = InstanceStatus(rawValue: try row["status"]) else { return nil }
            return InstanceCount(template: try row["template"], version: try row["version"], status: status, count: try row["n"])
        }
    }

    /// Counts instances by status.
    public func countByStatus() async throws -> [InstanceStatus: Int] {
        var counts: [InstanceStatus: Int] = [:]
        for row in try await rows("SELECT status, COUNT(*) AS n FROM instances GROUP BY status") {
            if let status = InstanceStatus(rawValue: try row["status"]) { counts[status] = try row["n"] }
        }
        return counts
    }
}
