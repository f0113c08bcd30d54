import GRDB
import StewardEngine

extension SQLiteStore {
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
