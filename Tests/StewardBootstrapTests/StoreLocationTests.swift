import Foundation
import StewardBootstrap
import Testing

/// `--store`, `--db` and `$STEWARD_STORE`: which store a command opens, and how it is written.
@Suite struct StoreLocationTests {
    @Test func urlsNameTheirBackend() throws {
        #expect(try StoreLocation("sqlite:data/steward.db") == .sqlite(path: "data/steward.db"))
        #expect(try StoreLocation("sqlite:///var/lib/steward.db") == .sqlite(path: "/var/lib/steward.db"))
        #expect(try StoreLocation("plain/file.db") == .sqlite(path: "plain/file.db"))
        #expect(try StoreLocation("postgres://steward@db:5432/work") == .postgres(url: "postgres://steward@db:5432/work"))
        #expect(try StoreLocation("postgresql://db/work") == .postgres(url: "postgresql://db/work"))
    }

    @Test func aWrongURLIsOneLineNamingWhatToWrite() {
        for text in ["mysql://db/work", "", "sqlite:"] {
            #expect {
                _ = try StoreLocation(text)
            } throws: { error in
                let message = "\(error)"
                return !message.contains("\n") && message.contains("sqlite:PATH")
            }
        }
    }

    @Test func theFlagWinsThenTheDatabaseThenTheEnvironmentThenTheDefault() throws {
        let environment = ["STEWARD_STORE": "postgres://env@db/work"]
        #expect(try StoreLocation.resolve(store: "sqlite:a.db", database: nil, environment: environment, root: "/w") == .sqlite(path: "a.db"))
        #expect(try StoreLocation.resolve(store: nil, database: "b.db", environment: environment, root: "/w") == .sqlite(path: "b.db"))
        #expect(try StoreLocation.resolve(store: nil, database: nil, environment: environment, root: "/w") == .postgres(url: "postgres://env@db/work"))
        #expect(try StoreLocation.resolve(store: nil, database: nil, environment: [:], root: "/w") == .sqlite(path: "/w/.steward/steward.db"))
        #expect(throws: StoreOpenError.self) { try StoreLocation.resolve(store: "sqlite:a.db", database: "b.db", environment: [:], root: "/w") }
    }

    @Test func thePasswordIsNeverShown() throws {
        let location = try StoreLocation("postgres://steward:s3cret@db:5432/work")
        #expect(location.description == "postgres://steward:***@db:5432/work")
        #expect(try StoreLocation("postgres://steward@db/work").description == "postgres://steward@db/work")
    }

    @Test func anSQLiteStoreThatCannotBeOpenedIsAStoreOpenError() async throws {
        await #expect(throws: StoreOpenError.self) {
            _ = try await StoreLocation.sqlite(path: "/proc/no-such-folder/steward.db").open()
        }
    }
}
