import Logging
import PostgresNIO
import StewardEngine
import Synchronization

/// Leases (`LeaseStore`): `instances.lease_owner` and `lease_until`, on the database's clock.
/// Commits take, renew and release them (`PostgresWriter`); these are the rest.
///
/// Renewal, release and take-over skip rows another transaction has locked (`SKIP LOCKED`)
/// rather than wait for them: such a row is being committed right now, and that commit sets
/// its lease itself. Waiting could deadlock with a write batch locking the same rows in
/// another order.
extension PostgresStore {
    /// Takes over up to `limit` running instances whose lease has lapsed, leasing them to this
    /// engine, oldest first; rows other engines hold locked at this moment are skipped.
    /// - Returns: Their ids, oldest first.
    public func takeOverLapsedInstances(limit: Int) async throws -> [String] {
        try await rows(
            """
            WITH lapsed AS (
                SELECT rowid FROM instances
                WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= \(unescaped: databaseNow))
                ORDER BY rowid LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            UPDATE instances i SET lease_owner = \(engineID), lease_until = \(unescaped: databaseNow) + \(leaseDuration)
            FROM lapsed WHERE i.rowid = lapsed.rowid RETURNING i.rowid, i.id
            """
        ).map { (rowid: try $0["rowid"] as Int64, id: try $0["id"] as String) }.sorted { $0.rowid < $1.rowid }.map(\.id)
    }

    /// Renews every lease this engine holds on a running instance (the heartbeat).
    /// - Returns: How many it renewed.
    @discardableResult
    public func renewLeases() async throws -> Int {
        try await rows(
            """
            UPDATE instances SET lease_until = \(unescaped: databaseNow) + \(leaseDuration)
            WHERE rowid IN (SELECT rowid FROM instances WHERE status = 'running' AND lease_owner = \(engineID) FOR UPDATE SKIP LOCKED)
            RETURNING rowid
            """
        ).count
    }

    /// Lets go of this engine's leases at once (`lease_until = 0`; the owner stays as who held it
    /// last) and wakes the other engines, in one transaction.
    public func releaseLeases() async throws {
        try await transaction { connection in
            try await connection.run(
                """
                UPDATE instances SET lease_until = 0
                WHERE rowid IN (SELECT rowid FROM instances WHERE status = 'running' AND lease_owner = \(engineID) FOR UPDATE SKIP LOCKED)
                """, logger: logger)
            try await connection.run("SELECT pg_notify(\(workChannel), \(engineID))", logger: logger)
        }
    }

    /// Yields whenever another engine on the database released leases or committed a timer due
    /// within a few seconds (`NOTIFY steward_work`, heard on a connection of its own), and once
    /// after that connection was lost and made again (what was said meanwhile is unknown).
    /// Wake-ups that arrive with no one waiting are kept as one. Finishes when the store closes.
    /// At most one consumer.
    public func wakeUps() -> AsyncStream<Void> { listener.stream }
}

/// The connection that listens on `steward_work` for this store, made again when it breaks.
final class WorkListener: Sendable {
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let state = Mutex<(task: Task<Void, Never>?, connection: PostgresConnection?, stopped: Bool)>((nil, nil, false))

    private init() {
        (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Connects and listens; returns once the server confirmed `LISTEN`.
    /// - Throws: The connection's error when the first connection or `LISTEN` fails.
    static func start(configuration: PostgresConnection.Configuration, engineID: String, logger: Logger) async throws -> WorkListener {
        let listener = WorkListener()
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            let task = Task { await listener.listen(configuration: configuration, engineID: engineID, logger: logger, ready: ready) }
            listener.state.withLock { $0.task = task }
        }
        return listener
    }

    /// Listens until stopped, reconnecting a second after a failure. `ready` is resumed once:
    /// when the first `LISTEN` is confirmed, or with the first failure.
    private func listen(
        configuration: PostgresConnection.Configuration, engineID: String, logger: Logger, ready: CheckedContinuation<Void, any Error>
    ) async {
        var ready: CheckedContinuation<Void, any Error>? = ready
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: attempt, logger: logger)
                let stopped = state.withLock { state in
                    if !state.stopped { state.connection = connection }
                    return state.stopped
                }
                if stopped {
                    try? await connection.close()
                    break
                }
                try await connection.listen(on: workChannel) { notifications in
                    if let first = ready {
                        first.resume()
                        ready = nil
                    } else {
                        // Reconnected: whatever was notified while the connection was down is lost.
                        continuation.yield()
                    }
                    for try await notification in notifications where notification.payload != engineID {
                        continuation.yield()
                    }
                }
            } catch {
                if let first = ready {
                    first.resume(throwing: error)
                    return
                }
                if state.withLock({ $0.stopped }) { break }
                logger.warning("the PostgreSQL store's wake-up listener lost its connection; connecting again", metadata: ["error": "\(String(describing: error))"])
            }
            let previous = state.withLock { state in
                defer { state.connection = nil }
                return state.connection
            }
            try? await previous?.close()
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Stops listening, closes the connection and finishes `stream`.
    func stop() async {
        let (task, connection) = state.withLock { state in
            state.stopped = true
            return (state.task, state.connection)
        }
        task?.cancel()
        try? await connection?.close()
        await task?.value
        continuation.finish()
    }
}
