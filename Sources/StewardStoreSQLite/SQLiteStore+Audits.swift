import Foundation
import GRDB
import StewardCore
import StewardEngine
import StewardJSON

extension SQLiteStore {
    /// Audit items matching `query`, oldest first, each with its verdicts in the order given.
    public func auditItems(_ query: AuditQuery) async throws -> [AuditItem] {
        try await pool.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            let given = "(SELECT COUNT(*) FROM audit_verdicts v WHERE v.item = a.id)"
            if let open = query.open { clauses.append(open ? "\(given) < a.needed_reviews" : "\(given) >= a.needed_reviews") }
            if let credentials = query.credentials {
                clauses.append("a.credential IN (\(credentials.map { _ in "?" }.joined(separator: ",")))")
                _ = arguments.append(contentsOf: StatementArguments(credentials))
            }
            if let template = query.template {
                clauses.append("a.template = ?")
                _ = arguments.append(contentsOf: [template])
            }
            if let customer = query.customer {
                clauses.append("a.customer = ?")
                _ = arguments.append(contentsOf: [customer])
            }
            let filter = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [query.limit ?? -1])
            let rows = try Row.fetchAll(db, sql: AuditReplay.itemSelect + filter + " ORDER BY a.id LIMIT ?", arguments: arguments)
            return try Self.auditItems(rows, db: db)
        }
    }

    /// One audit item with its verdicts.
    public func auditItem(id: Int64) async throws -> AuditItem? {
        try await pool.read { db in
            try Self.auditItems(try Row.fetchAll(db, sql: AuditReplay.itemSelect + " WHERE a.id = ?", arguments: [id]), db: db).first
        }
    }

    /// Records a verdict as the item's next review, journalled in the same transaction.
    public func recordVerdict(_ verdict: AuditVerdict, item id: Int64) async throws {
        let judgements = JSONValue.array(verdict.judgements.map(\.jsonValue)).jsonString
        try await committer.submit(.auditVerdict(verdict, item: id, judgements: judgements))
    }

    /// Items from their rows, with the verdicts of all of them read in one query.
    static func auditItems(_ rows: [Row], db: Database) throws -> [AuditItem] {
        guard !rows.isEmpty else { return [] }
        var verdicts: [Int64: [AuditVerdict]] = [:]
        let ids: [Int64] = rows.map { $0["id"] }
        // In chunks, under SQLite's limit on bound parameters.
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            let sql = "SELECT * FROM audit_verdicts WHERE item IN (\(chunk.map { _ in "?" }.joined(separator: ","))) ORDER BY item, ordinal"
            for row in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(chunk)) {
                let text: String = row["judgements"]
                let judgements = try JSONValue.parse(text).arrayValue?.compactMap(AuditJudgement.init(json:)) ?? []
                verdicts[row["item"], default: []].append(
                    AuditVerdict(reviewer: row["reviewer"], credential: row["credential"], at: row["at"], judgements: judgements))
            }
        }
        return try rows.map { row in
            let items: String = row["items"], bindings: String = row["bindings"], input: String = row["input"]
            return AuditItem(
                id: row["id"], instanceID: row["instance_id"], template: row["template"], templateVersion: row["version"],
                customer: row["customer"], checkpoint: row["state"], visit: row["visit"], credential: row["credential"],
                items: try JSONValue.parse(items).arrayValue?.compactMap { entry in
                    entry["path"]?.stringValue.map { AuditedValue(path: $0, value: entry["value"] ?? .null) }
                } ?? [],
                bindings: (try JSONValue.parse(bindings).objectValue ?? [:]).compactMapValues(\.stringValue),
                input: try JSONValue.parse(input), rate: row["rate"], neededReviews: row["needed_reviews"], createdAt: row["created_at"],
                verdicts: verdicts[row["id"]] ?? [])
        }
    }
}
