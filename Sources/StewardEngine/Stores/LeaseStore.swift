/// Leases on running instances, for stores that several engine processes share (PostgreSQL).
///
/// A store that conforms is opened by one engine, which it knows by `engineID`. Every commit of
/// a running instance through this store takes or renews the instance's lease for that engine
/// (until the store's clock reads now + `leaseDuration`); a commit that leaves the instance
/// waiting or finished releases it. A commit of an instance whose lease another engine holds
/// and has not let lapse is refused with `StoreConflict` and changes nothing, so an engine
/// that was presumed dead (its lease lapsed and another engine took the instance over) cannot
/// write over its successor. Instances that are not running hold no lease.
///
/// The embedded SQLite store has one engine by construction and does not conform: an engine
/// on it resumes every running instance at start.
public protocol LeaseStore: Sendable {
    /// The engine this store writes for (unique among the engines sharing the database).
    var engineID: String { get }
    /// How long a lease lasts after its last renewal, in milliseconds.
    var leaseDuration: Int64 { get }
    /// Takes over up to `limit` running instances whose lease has lapsed (an engine died or let
    /// go), leasing them to this engine, oldest first. Instances other engines are taking over at
    /// the same moment are skipped, not waited for (`FOR UPDATE SKIP LOCKED`).
    /// - Returns: Their ids; this engine must continue each (`Engine.continueInstance`).
    func takeOverLapsedInstances(limit: Int) async throws -> [String]
    /// Renews every lease this engine holds on a running instance (the heartbeat).
    /// - Returns: How many leases it renewed.
    @discardableResult
    func renewLeases() async throws -> Int
    /// Lets go of this engine's leases at once (a graceful shutdown), so other engines take the
    /// instances over without waiting for the leases to lapse, and wakes them.
    func releaseLeases() async throws
    /// Wake-ups from other engines: yields when work may be waiting for this engine (another
    /// engine released leases or committed a timer that is due soon). Finishes when the store
    /// closes. At most one consumer.
    func wakeUps() -> AsyncStream<Void>
}
