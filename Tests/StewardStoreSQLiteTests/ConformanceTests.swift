import Foundation
import StewardStoreConformance
import StewardStoreSQLite
import Testing

/// The store conformance suite, against a new SQLite store per check.
@Suite struct SQLiteConformanceTests {
    @Test(arguments: StoreConformance.checks)
    func conforms(_ check: StoreConformance.Check) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-conformance-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await check.run(SQLiteStore(path: directory.appendingPathComponent("store.db").path))
    }
}
