import Foundation
import GRDB
import StewardEngine

extension SQLiteStore: StoreExporter {
    /// Columns holding a `StoredText` (text, or a deflated document): exported as their text.
    static let documentColumns: Set<String> = ["instances.state", "journal.payload"]

    public func exportRows(chunk: Int, into receive: @Sendable (StoreRows) async throws -> Void) async throws {
        let size = max(1, chunk)
        let present = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'")
        }
        let unknown = Set(present).subtracting(StoreCopy.tables)
        guard unknown.isEmpty else {
            throw StoreCopyError("the SQLite store has tables this steward does not know (\(unknown.sorted().joined(separator: ", "))): copy it with the steward that wrote it")
        }
        for table in StoreCopy.tables where present.contains(table) {
            // Each table in its key order (rowid, or the primary key of a table without one), a
            // page at a time, so a large store is never read into memory at once.
            let columns = try await pool.read { db in try db.columns(in: table).map(\.name) }
            // Tables keyed by an integer rowid page by key; the small WITHOUT ROWID tables by offset.
            let (rowID, key) = try await pool.read { db in
                let primaryKey = try db.primaryKey(table)
                return (primaryKey.rowIDColumn, primaryKey.rowIDColumn.map { [$0] } ?? primaryKey.columns)
            }
            let quoted = columns.map { "\"\($0)\"" }.joined(separator: ", ")
            let orderBy = key.map { "\"\($0)\"" }.joined(separator: ", ")
            let keyIndex = rowID.flatMap { columns.firstIndex(of: $0) }
            var after: Int64 = .min
            var offset = 0
            while true {
                let rows = try await pool.read { [after, offset] db in
                    let sql: String
                    let arguments: StatementArguments
                    if let rowID, keyIndex != nil {
                        sql = "SELECT \(quoted) FROM \"\(table)\" WHERE \"\(rowID)\" > ? ORDER BY \(orderBy) LIMIT ?"
                        arguments = [after, size]
                    } else {
                        sql = "SELECT \(quoted) FROM \"\(table)\" ORDER BY \(orderBy) LIMIT ? OFFSET ?"
                        arguments = [size, offset]
                    }
                    return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                        try columns.map { column in
                            try Self.exportValue(row[column] as DatabaseValue, document: Self.documentColumns.contains("\(table).\(column)"))
                        }
                    }
                }
                if rows.isEmpty { break }
                try await receive(StoreRows(table: table, columns: columns, rows: rows))
                offset += rows.count
                if let keyIndex, case .integer(let last) = rows[rows.count - 1][keyIndex] { after = last }
                if rows.count < size { break }
            }
        }
    }

    static func exportValue(_ value: DatabaseValue, document: Bool) throws -> StoreValue {
        switch value.storage {
        case .null: return .null
        case .int64(let integer): return .integer(integer)
        case .double(let real): return .real(real)
        case .string(let text): return .text(text)
        case .blob(let blob):
            // A deflated document leaves as the text it holds; other blobs (hashes) as bytes.
            if document { return .text(try StoredText.deflated(blob).decoded()) }
            return .bytes(Array(blob))
        }
    }
}
