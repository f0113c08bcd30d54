import StewardEngine

/// `steward store copy`: every row of one store into another, empty one (SQLite to PostgreSQL),
/// then the journal's hash chain verified on arrival.
public enum StoreCopier {
    /// What a copy moved and found.
    public struct Report: Sendable, Hashable {
        /// Rows copied per table, in copy order (tables with no row left out).
        public var rows: [Table]
        /// The target's journal head after the copy (equal to the source's).
        public var head: JournalHead
        /// Journal rows the target's verification checked.
        public var verifiedRows: Int

        /// One table's count.
        public struct Table: Sendable, Hashable {
            /// The table.
            public var name: String
            /// Rows copied.
            public var rows: Int
        }
    }

    /// Copies `source` into `target`.
    /// - Parameter progress: Called after each chunk with the table and the rows copied of it so far.
    /// - Throws: `StoreCopyError` when a store cannot take part (not exportable / importable),
    ///   the target is not empty (nothing is written then), or the copy does not verify: the
    ///   target's chain breaks or its head differs from the source's (the rows stay in the target
    ///   for inspection; it is not used by anything until an engine is pointed at it).
    public static func copy(
        from source: any EngineStore, to target: any EngineStore, chunk: Int = 1_000, progress: @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws -> Report {
        guard let exporter = source as? any StoreExporter else { throw StoreCopyError("the source store cannot be exported (copy from an SQLite store)") }
        guard let importer = target as? any StoreImporter else { throw StoreCopyError("the target store cannot be imported into (copy to a PostgreSQL store)") }
        guard try await importer.isEmptyForCopy() else {
            throw StoreCopyError("the target store is not empty: steward store copy only fills an empty store, and changed nothing")
        }
        let sourceHead = try await source.journalHead()
        let counts = Counts()
        try await exporter.exportRows(chunk: chunk) { rows in
            try await importer.importRows(rows)
            progress(rows.table, await counts.add(rows.rows.count, to: rows.table))
        }
        try await importer.finishImport()
        let verification = try await target.verifyJournal()
        guard verification.problems.isEmpty else {
            throw StoreCopyError(
                "the copy does not verify (\(verification.problems.count) problems), first: \(verification.problems[0]); do not use the target")
        }
        let head = try await target.journalHead()
        guard head == sourceHead else {
            throw StoreCopyError(
                "the copy's journal head (row \(head.lastID), \(head.lastHash.prefix(12))…, \(head.reviewers) reviewers, \(head.tasks) tasks) differs from the source's (row \(sourceHead.lastID), \(sourceHead.lastHash.prefix(12))…, \(sourceHead.reviewers) reviewers, \(sourceHead.tasks) tasks): was the source written to during the copy?")
        }
        return Report(rows: await counts.tables(), head: head, verifiedRows: verification.rowsChecked)
    }

    /// Rows copied so far per table, in the order tables were first seen.
    private actor Counts {
        var order: [String] = []
        var counts: [String: Int] = [:]

        func add(_ rows: Int, to table: String) -> Int {
            if counts[table] == nil { order.append(table) }
            counts[table, default: 0] += rows
            return counts[table] ?? 0
        }

        func tables() -> [Report.Table] { order.map { Report.Table(name: $0, rows: counts[$0] ?? 0) } }
    }
}
