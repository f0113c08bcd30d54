import StewardStoreConformance
import Testing

/// The store conformance suite, against a new PostgreSQL database per check.
@Suite struct PostgresConformanceTests {
    @Test(arguments: StoreConformance.checks)
    func conforms(_ check: StoreConformance.Check) async throws {
        let store = try await Fixture.open(Fixture.database())
        try await Fixture.using(store) { try await check.run(store) }
    }
}
