import Logging
import StewardCore
import StewardEngine
import StewardJSON
@testable import StewardStorePostgres
import StewardTesting

/// Stores on new databases of the test process's PostgreSQL server.
enum Fixture {
    /// The store's logs, errors only (a test that fails says why itself).
    static var logger: Logger {
        var logger = Logger(label: "steward.store.postgres.tests")
        logger.logLevel = .error
        return logger
    }

    /// A lease that cannot lapse during a test, however loaded the machine (10 minutes).
    static let long: Int64 = 600_000

    /// A new, empty database's URL.
    static func database() async throws -> String {
        try await PostgresServer.start().makeDatabase()
    }

    /// A store on `url` for engine `engine`, with a small pool (many tests run at once).
    static func open(_ url: String, engine: String = "engine-a", lease: Int64 = 15_000) async throws -> PostgresStore {
        var configuration = try PostgresStore.Configuration(url: url, environment: [:])
        configuration.poolSize = 4
        return try await PostgresStore.open(configuration, engineID: engine, leaseDuration: lease, logger: logger)
    }

    /// Runs `body`, then closes `stores` whether it threw or not.
    static func using<Result>(_ stores: PostgresStore..., body: () async throws -> Result) async throws -> Result {
        do {
            let result = try await body()
            for store in stores { await store.close() }
            return result
        } catch {
            for store in stores { await store.close() }
            throw error
        }
    }

    /// A state of instance `id` at `sequence`.
    static func state(_ id: String, sequence: Int, status: InstanceStatus = .running, current: String = "work") -> InstanceState {
        var state = InstanceState(id: id, template: "leases", templateVersion: "1.0.0", customer: "acme")
        state.sequence = sequence
        state.status = status
        state.current = current
        state.attempt = status == .running ? 1 : 0
        return state
    }

    /// The first commit of instance `id`.
    static func started(_ id: String, status: InstanceStatus = .running) -> InstanceCommit {
        InstanceCommit(state: state(id, sequence: 1, status: status), event: .started(input: ["n": 1]), actor: "engine", at: 1_000)
    }

    /// A step of instance `id` to `sequence`.
    static func step(_ id: String, sequence: Int, status: InstanceStatus = .running) -> InstanceCommit {
        InstanceCommit(
            state: state(id, sequence: sequence, status: status),
            event: .stepSucceeded(state: "work", attempt: 1, output: ["step": .integer(Int64(sequence))]), actor: "engine",
            at: 1_000 + Int64(sequence))
    }

    /// The conflict `body` threw, nil when it threw none.
    static func conflict(_ body: () async throws -> Void) async throws -> StoreConflict? {
        do {
            try await body()
            return nil
        } catch let conflict as StoreConflict {
            return conflict
        }
    }

    /// Calls `probe` until it returns a value or `seconds` pass (generous: the machine may be loaded).
    static func eventually<Value>(seconds: Int = 60, _ probe: () async throws -> Value?) async throws -> Value? {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        while clock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}
