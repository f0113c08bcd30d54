import StewardEngine

// Stand-in for the store being written on its own branch (replaced at merge).
public final class PostgresStore: Sendable {
    public struct Configuration: Sendable, CustomStringConvertible {
        public var description: String
        public init(url: String, environment: [String: String]) throws { description = url }
    }
    public static func open(_ configuration: Configuration, engineID: String? = nil, leaseDuration: Int64 = 15_000) async throws -> any EngineStore {
        throw StoreNotBuilt()
    }
    struct StoreNotBuilt: Error {}
}
