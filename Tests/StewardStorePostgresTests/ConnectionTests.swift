#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PostgresNIO
@testable import StewardStorePostgres
import StewardTesting
import Testing

/// The URL and its environment fallbacks, and the one-line errors of opening a store.
@Suite struct ConfigurationTests {
    typealias Configuration = PostgresStore.Configuration

    @Test func aFullURLIsReadWholeAndPercentDecoded() throws {
        let configuration = try Configuration(url: "postgres://ana%40ops:s%3Acret%2Fpw@db.example.com:6543/steward%20prod?sslmode=disable", environment: [:])
        #expect(configuration.host == "db.example.com" && configuration.port == 6543)
        #expect(configuration.user == "ana@ops" && configuration.password == "s:cret/pw" && configuration.database == "steward prod")
        #expect(configuration.sslMode == .disable)
        #expect(try Configuration(url: "postgresql://u@h/d", environment: [:]).host == "h", "postgresql:// is accepted too")
        let v6 = try Configuration(url: "postgres://u@[::1]:7000/d", environment: [:])
        #expect(v6.host == "::1" && v6.port == 7000 && v6.sslMode == .disable && v6.place == "[::1]:7000/d")
    }

    @Test func whatTheURLLeavesOutComesFromTheEnvironmentThenTheDefaults() throws {
        let environment = ["PGHOST": "pg.internal", "PGPORT": "5433", "PGUSER": "svc", "PGPASSWORD": "env-secret", "PGDATABASE": "work", "USER": "me"]
        let fromEnvironment = try Configuration(url: "postgres://", environment: environment)
        #expect(fromEnvironment == Configuration(host: "pg.internal", port: 5433, user: "svc", password: "env-secret", database: "work", sslMode: .require))
        let urlWins = try Configuration(url: "postgres://ana:pw@db:1234/mine", environment: environment)
        #expect(urlWins.host == "db" && urlWins.port == 1234 && urlWins.user == "ana" && urlWins.password == "pw" && urlWins.database == "mine")
        let defaults = try Configuration(url: "postgres:///", environment: ["USER": "me"])
        #expect(defaults == Configuration(host: "localhost", port: 5432, user: "me", password: nil, database: "me", sslMode: .disable))
        #expect(try Configuration(url: "postgres://h/d", environment: ["USER": "me", "PGSSLMODE": "disable"]).sslMode == .disable)
        #expect(try Configuration(url: "postgres://127.0.0.1/d?sslmode=require", environment: ["USER": "me"]).sslMode == .require)
        #expect(try Configuration(url: "postgres://h/d?pool_size=24&sslmode=disable", environment: ["USER": "me"]).poolSize == 24)
        #expect(try Configuration(url: "postgres://h/d", environment: ["USER": "me"]).poolSize == 8)
    }

    @Test func badURLsAreRefusedByName() {
        for (url, expected) in [
            ("mysql://u@h/d", "scheme"), ("postgres://u@h:99999/d", "port"), ("postgres://u@h:x/d", "port"),
            ("postgres://u@h/d?sslmode=verify-full", "sslmode"), ("postgres://u@h/d?application_name=x", "not supported"), ("localhost:5432", "postgres://"),
            ("postgres://u@h/d?pool_size=0", "pool_size"), ("postgres://u@h/d?pool_size=many", "pool_size"),
        ] {
            #expect {
                try Configuration(url: url, environment: ["USER": "me"])
            } throws: { error in
                (error as? PostgresStoreError)?.kind == .configuration && "\(error)".contains(expected)
            }
        }
        #expect(throws: PostgresStoreError.self) { try Configuration(url: "postgres://h/d", environment: [:]) }
    }

    @Test func anEngineIsNamedByHostProcessAndASuffixAndNeedsALease() async throws {
        let first = PostgresStore.defaultEngineID()
        let parts = first.split(separator: "-")
        #expect(parts.count >= 3 && parts[parts.count - 2] == "\(getpid())" && parts.last?.count == 6, "\(first)")
        #expect(PostgresStore.defaultEngineID() != first, "each store of a process is another engine")
        let configuration = try Configuration(url: "postgres://u@127.0.0.1:1/d", environment: [:])
        await #expect {
            try await PostgresStore.open(configuration, leaseDuration: 0, logger: Fixture.logger)
        } throws: { error in
            (error as? PostgresStoreError)?.kind == .configuration
        }
    }

    @Test func thePasswordIsNeverPrinted() throws {
        let configuration = try Configuration(url: "postgres://ana:hunter2@db:5432/steward", environment: ["PGPASSWORD": "other"])
        for text in [configuration.description, configuration.redacted, "\(configuration)", String(reflecting: configuration.description)] {
            #expect(!text.contains("hunter2"), "\(text)")
        }
        #expect(configuration.redacted == "postgres://ana:***@db:5432/steward?sslmode=require")
        let none = try Configuration(url: "postgres://ana@localhost/steward", environment: [:])
        #expect(none.description == "postgres://ana@localhost:5432/steward?sslmode=disable")
    }
}

@Suite struct OpeningTests {
    @Test func anUnreachableStoreIsOneReadableLine() async throws {
        // A port that was free a moment ago and that nothing listens on.
        guard let (socket, port) = Loopback.claim(listening: false) else { throw PostgresStoreError(.unreachable, "no free port") }
        close(socket)
        let configuration = try PostgresStore.Configuration(url: "postgres://steward:secret-pw@127.0.0.1:\(port)/nowhere", environment: [:])
        do {
            let store = try await PostgresStore.open(configuration, logger: Fixture.logger)
            await store.close()
            Issue.record("a store on a closed port opened")
        } catch let error as PostgresStoreError {
            #expect(error.kind == .unreachable)
            #expect(error.description == "cannot reach the PostgreSQL store at 127.0.0.1:\(port)/nowhere: connection refused", "\(error)")
            #expect(!error.description.contains("secret-pw") && !error.description.contains("\n"))
        }
    }

    @Test func aSocketFolderAsHostConnectsThroughTheUnixSocket() async throws {
        let server = try await PostgresServer.start()
        let url = try await Fixture.database()
        let database = String(url.split(separator: "/").last ?? "")
        let configuration = try PostgresStore.Configuration(
            url: "postgres:///\(database)", environment: ["PGHOST": server.directory, "PGPORT": String(server.port), "PGUSER": server.user])
        #expect(configuration.place == "\(server.directory)/.s.PGSQL.\(server.port)/\(database)")
        let written = try PostgresStore.Configuration(url: configuration.redacted, environment: [:])
        #expect(written.host == server.directory && written.port == server.port, "a socket folder survives the URL: \(configuration.redacted)")
        let store = try await PostgresStore.open(configuration, logger: Fixture.logger)
        try await Fixture.using(store) {
            try await store.commit(Fixture.started("s"))
            #expect(try await store.instance(id: "s")?.sequence == 1)
        }
    }

    @Test func aMissingDatabaseIsNamed() async throws {
        let server = try await PostgresServer.start()
        await #expect {
            try await Fixture.open(server.url(database: "no_such_database"))
        } throws: { error in
            (error as? PostgresStoreError)?.kind == .missingDatabase && "\(error)".contains("no_such_database") && !"\(error)".contains("\n")
        }
    }

    @Test func aNewerSchemaIsRefusedAndMigrationsRunOnce() async throws {
        let url = try await Fixture.database()
        let store = try await Fixture.open(url)
        try await Fixture.using(store) {
            let versions = try await store.rows("SELECT version FROM steward_schema").map { try $0["version"] as Int }
            #expect(versions == [PostgresSchema.current])
        }
        // Several engines starting at once on a migrated database: each finds it current.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<4 {
                group.addTask {
                    let store = try await Fixture.open(url, engine: "engine-\(index)")
                    await store.close()
                }
            }
            try await group.waitForAll()
        }
        let again = try await Fixture.open(url)
        try await Fixture.using(again) {
            #expect(try await again.rows("SELECT COUNT(*) AS n FROM steward_schema").first?["n"] == 1, "a migration is recorded once")
            try await again.run("INSERT INTO steward_schema (version, name, applied_at) VALUES (999, 'from the future', 0)")
        }
        await #expect {
            try await Fixture.open(url)
        } throws: { error in
            (error as? PostgresStoreError)?.kind == .schema
                && "\(error)" == "the store's schema is newer than this steward (v999 > v\(PostgresSchema.current)): upgrade steward"
        }
    }

    @Test func migratingANewDatabaseFromSeveralEnginesAtOnceAppliesItOnce() async throws {
        let url = try await Fixture.database()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for index in 0..<4 { group.addTask { try await Fixture.open(url, engine: "engine-\(index)") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for store in stores { await store.close() }
        let store = try await Fixture.open(url)
        try await Fixture.using(store) {
            let count: Int? = try await store.rows("SELECT COUNT(*) AS n FROM steward_schema").first?["n"]
            #expect(count == 1)
        }
    }

    /// A role with a password, made to log in by password (pg_hba.conf gains a line for it
    /// ahead of the trust lines): a wrong password is refused in one line that does not print it.
    @Test func wrongCredentialsAreRefusedWithoutPrintingThePassword() async throws {
        let server = try await PostgresServer.start()
        let url = try await Fixture.database()
        let role = "pw_\(UInt32.random(in: 0..<UInt32.max))"
        let admin = try await Fixture.open(url)
        try await Fixture.using(admin) {
            try await admin.run(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN SUPERUSER PASSWORD 'right-pw'"))
            try Self.requirePassword(role: role, server: server)
            try await admin.run("SELECT pg_reload_conf()")
        }
        let database = String(url.split(separator: "/").last ?? "")
        let wrong = try PostgresStore.Configuration(url: "postgres://\(role):wrong-pw@127.0.0.1:\(server.port)/\(database)", environment: [:])
        // The reload takes effect for new connections within moments.
        let refused = try await Fixture.eventually { () async throws -> PostgresStoreError? in
            do {
                let store = try await PostgresStore.open(wrong, logger: Fixture.logger)
                await store.close()
                return nil
            } catch let error as PostgresStoreError {
                return error.kind == .credentials ? error : nil
            }
        }
        #expect(refused?.description.hasPrefix("the PostgreSQL store refused the credentials for user \(role)") == true, "\(String(describing: refused))")
        #expect(refused.map { !$0.description.contains("wrong-pw") && !$0.description.contains("\n") } == true)
        var right = wrong
        right.password = "right-pw"
        let store = try await PostgresStore.open(right, logger: Fixture.logger)
        await store.close()
        var none = wrong
        none.password = nil
        await #expect {
            try await PostgresStore.open(none, logger: Fixture.logger)
        } throws: { error in
            (error as? PostgresStoreError)?.kind == .credentials
        }
    }

    /// Puts `host all <role> 127.0.0.1/32 scram-sha-256` first in the server's pg_hba.conf.
    static func requirePassword(role: String, server: PostgresServer) throws {
        let path = server.directory + "/data/pg_hba.conf"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try ("host all \(role) 127.0.0.1/32 scram-sha-256\n" + text).write(toFile: path, atomically: false, encoding: .utf8)
    }
}
