import GRDB

extension SQLiteStore {
    /// Open review tasks per credential, and how many of them are past their SLA deadline.
    public struct QueueDepth: Sendable, Hashable {
        /// The credential the tasks need.
        public var credential: String
        /// Open tasks.
        public var open: Int
        /// Open tasks whose `due_at` is before `now`.
        public var overdue: Int
    }

    /// The depth of every credential's review queue (one indexed query, for `/metrics`).
    public func queueDepths(now: Int64) async throws -> [QueueDepth] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT credential, COUNT(*) AS open, SUM(CASE WHEN due_at IS NOT NULL AND due_at < ? THEN 1 ELSE 0 END) AS overdue
                    FROM review_tasks WHERE status = 'open' GROUP BY credential ORDER BY credential
                    """,
                arguments: [now]
            ).map { QueueDepth(credential: $0["credential"], open: $0["open"], overdue: $0["overdue"]) }
        }
    }
}
