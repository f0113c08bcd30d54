import PostgresNIO
import StewardCore
import StewardEngine
import StewardJSON

extension PostgresStore {
    /// Audit items matching `query`, oldest first, each with its verdicts in the order given.
    public func auditItems(_ query: AuditQuery) async throws -> [AuditItem] {
        try await transaction(readOnly: true) { connection in
            var statement = Statement(Self.itemSelect)
            var clauses: [String] = []
            let given = "(SELECT COUNT(*) FROM audit_verdicts v WHERE v.item = a.id)"
            if let open = query.open { clauses.append(open ? "\(given) < a.needed_reviews" : "\(given) >= a.needed_reviews") }
            if let credentials = query.credentials { clauses.append("a.credential = ANY(\(try statement.bind(credentials)))") }
            if let template = query.template { clauses.append("a.template = \(try statement.bind(template))") }
            if let customer = query.customer { clauses.append("a.customer = \(try statement.bind(customer))") }
            if !clauses.isEmpty { statement.append(" WHERE " + clauses.joined(separator: " AND ")) }
            // LIMIT NULL: no limit.
            statement.append(" ORDER BY a.id LIMIT \(try statement.bind(query.limit))")
            return try await Self.auditItems(try await connection.rows(statement.query, logger: logger), connection: connection, logger: logger)
        }
    }

    /// One audit item with its verdicts.
    public func auditItem(id: Int64) async throws -> AuditItem? {
        try await transaction(readOnly: true) { connection in
            let rows = try await connection.rows("\(unescaped: Self.itemSelect) WHERE a.id = \(id)", logger: logger)
            return try await Self.auditItems(rows, connection: connection, logger: logger).first
        }
    }

    /// Records a verdict as the item's next review, journalled in the same transaction.
    /// - Throws: `AuditItemMissing` when there is no such item; `StoreConflict` when the reviewer
    ///   already reviewed it or it has its reviews.
    public func recordVerdict(_ verdict: AuditVerdict, item id: Int64) async throws {
        let judgements = JSONValue.array(verdict.judgements.map(\.jsonValue)).jsonString
        try await writer.submit(.auditVerdict(verdict, item: id, judgements: judgements))
    }

    /// Items from their rows, with the verdicts of all of them read in one statement.
    static func auditItems(_ rows: [Row], connection: PostgresConnection, logger: Logger) async throws -> [AuditItem] {
        guard !rows.isEmpty else { return [] }
        let ids: [Int64] = try rows.map { try $0["id"] }
        var verdicts: [Int64: [AuditVerdict]] = [:]
        for row in try await connection.rows("SELECT * FROM audit_verdicts WHERE item = ANY(\(ids)) ORDER BY item, ordinal", logger: logger) {
            let judgements = try JSONValue.parse(row["judgements"] as String).arrayValue?.compactMap(AuditJudgement.init(json:)) ?? []
            verdicts[try row["item"], default: []].append(
                AuditVerdict(reviewer: try row["reviewer"], credential: try row["credential"], at: try row["at"], judgements: judgements))
        }
        return try rows.map { row in
            let id: Int64 = try row["id"]
            return AuditItem(
                id: id, instanceID: try row["instance_id"], template: try row["template"], templateVersion: try row["version"],
                customer: try row["customer"], checkpoint: try row["state"], visit: try row["visit"], credential: try row["credential"],
                items: try JSONValue.parse(row["items"] as String).arrayValue?.compactMap { entry in
                    entry["path"]?.stringValue.map { AuditedValue(path: $0, value: entry["value"] ?? .null) }
                } ?? [],
                bindings: (try JSONValue.parse(row["bindings"] as String).objectValue ?? [:]).compactMapValues(\.stringValue),
                input: try JSONValue.parse(row["input"] as String), rate: try row["rate"], neededReviews: try row["needed_reviews"],
                createdAt: try row["created_at"], verdicts: verdicts[id] ?? [])
        }
    }
}
