import PostgresNIO
import StewardEngine

extension PostgresStore: StoreImporter {
    /// Tables whose rows an import inserts (the chain head's one row is updated instead).
    static var importedTables: [String] { StoreCopy.tables.filter { $0 != "chain_head" } }

    public func isEmptyForCopy() async throws -> Bool {
        for table in Self.importedTables {
            // Table names come from StoreCopy's constant list, never from data.
            if try await !rows(PostgresQuery(unsafeSQL: "SELECT 1 AS one FROM \(table) LIMIT 1")).isEmpty { return false }
        }
        let head = try await rows("SELECT last_id FROM chain_head WHERE one = 1")
        let lastID: Int64 = try head.first?["last_id"] ?? 0
        return lastID == 0
    }

    public func importRows(_ chunk: StoreRows) async throws {
        guard !chunk.rows.isEmpty else { return }
        guard StoreCopy.tables.contains(chunk.table) else { throw StoreCopyError("the PostgreSQL store has no table \(chunk.table)") }
        let types = try await columnTypes(chunk.table)
        for column in chunk.columns where types[column] == nil {
            throw StoreCopyError("the PostgreSQL store's table \(chunk.table) has no column \(column): is this steward older than the one that wrote the source?")
        }
        if chunk.table == "chain_head" {
            guard let row = chunk.rows.first, let idIndex = chunk.columns.firstIndex(of: "last_id"), let hashIndex = chunk.columns.firstIndex(of: "last_hash") else {
                throw StoreCopyError("the source's chain head has no last_id and last_hash")
            }
            var statement = Statement("UPDATE chain_head SET last_id = ")
            statement.append(try Self.bind(row[idIndex], as: "bigint", into: &statement) + ", last_hash = ")
            statement.append(try Self.bind(row[hashIndex], as: "bytea", into: &statement) + " WHERE one = 1")
            try await run(statement.query)
            return
        }
        // Several rows per statement, under PostgreSQL's 65,535 bound values.
        let perStatement = max(1, 30_000 / max(1, chunk.columns.count))
        let columnList = chunk.columns.map { "\"\($0)\"" }.joined(separator: ", ")
        var start = 0
        while start < chunk.rows.count {
            let end = min(chunk.rows.count, start + perStatement)
            var statement = Statement("INSERT INTO \(chunk.table) (\(columnList)) OVERRIDING SYSTEM VALUE VALUES ")
            for (offset, row) in chunk.rows[start..<end].enumerated() {
                guard row.count == chunk.columns.count else { throw StoreCopyError("a row of \(chunk.table) has \(row.count) values for \(chunk.columns.count) columns") }
                statement.append(offset == 0 ? "(" : ", (")
                for (index, value) in row.enumerated() {
                    if index > 0 { statement.append(", ") }
                    statement.append(try Self.bind(value, as: types[chunk.columns[index]] ?? "text", into: &statement))
                }
                statement.append(")")
            }
            try await run(statement.query)
            start = end
        }
    }

    public func finishImport() async throws {
        // Identity columns continue after the highest imported id.
        let identities = try await rows(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'")
        for identity in identities {
            let table: String = try identity["table_name"]
            let column: String = try identity["column_name"]
            guard StoreCopy.tables.contains(table) else { continue }
            var statement = Statement("SELECT setval(pg_get_serial_sequence(")
            statement.append(try statement.bind(table) + ", " + (try statement.bind(column)))
            statement.append("), COALESCE((SELECT max(\"\(column)\") FROM \(table)), 0) + 1, false)")
            try await run(statement.query)
        }
    }

    /// Each column's type (`information_schema`'s `data_type`) of `table`.
    func columnTypes(_ table: String) async throws -> [String: String] {
        var types: [String: String] = [:]
        for row in try await rows(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = \(table)")
        {
            types[try row["column_name"]] = try row["data_type"]
        }
        return types
    }

    /// Binds `value` as the column's type wants it (SQLite keeps booleans as integers and may
    /// keep a whole REAL as an integer) and returns its placeholder.
    static func bind(_ value: StoreValue, as type: String, into statement: inout Statement) throws -> String {
        switch (value, type) {
        case (.null, _): return try statement.bind(Optional<String>.none) + "::" + (type == "USER-DEFINED" ? "text" : type)
        case (.integer(let integer), "boolean"): return try statement.bind(integer != 0)
        case (.integer(let integer), "double precision"), (.integer(let integer), "real"): return try statement.bind(Double(integer))
        case (.integer(let integer), "integer"): return try statement.bind(Int32(truncatingIfNeeded: integer))
        case (.integer(let integer), _): return try statement.bind(integer)
        case (.real(let real), _): return try statement.bind(real)
        case (.text(let text), "bytea"): return try statement.bind(ByteBuffer(string: text))
        case (.text(let text), _): return try statement.bind(text)
        case (.bytes(let bytes), _): return try statement.bind(ByteBuffer(bytes: bytes))
        }
    }
}
