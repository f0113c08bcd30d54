import StewardTesting
import Testing

@Suite struct PostgresServerTests {
    @Test func theTestServerStartsAndMakesDatabases() async throws {
        let server = try await PostgresServer.start()
        let first = try await server.makeDatabase()
        let second = try await server.makeDatabase()
        #expect(first != second)
        #expect(first.hasPrefix("postgres://steward@127.0.0.1:\(server.port)/test_"))
    }
}
