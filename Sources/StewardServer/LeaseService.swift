import Logging
import ServiceLifecycle
import StewardEngine

/// The share of work of one engine among several on one database (a store that is a
/// `LeaseStore`, i.e. PostgreSQL).
///
/// Every `heartbeat` it renews the leases this engine holds (so its running instances stay its
/// own), then takes over running instances whose lease lapsed — an engine died, or let go at
/// shutdown — and hands each to the `InstanceDriver`, which continues it from its last
/// committed event with the same step keys. A wake-up from another engine (it released its
/// leases, or committed a timer due soon) runs the same pass at once, without waiting for the
/// heartbeat.
///
/// Shutdown order matters: the service is shut down after the driver has drained, and only
/// then releases this engine's leases, so another engine never takes over an instance this one
/// is still driving. Thread rules: a `Service`; run it in the server's service group.
public struct LeaseService: Service {
    let leases: any LeaseStore
    let driver: InstanceDriver
    let timers: (@Sendable () async throws -> Void)?
    let logger: Logger
    /// How many lapsed instances one takeover query claims.
    let batch: Int

    /// Creates the service. `timers` runs after a pass a wake-up caused (it may mean a timer
    /// another engine set is due now); nil leaves timers to the periodic tick.
    public init(leases: any LeaseStore, driver: InstanceDriver, timers: (@Sendable () async throws -> Void)? = nil, logger: Logger, batch: Int = 256) {
        self.leases = leases
        self.driver = driver
        self.timers = timers
        self.logger = logger
        self.batch = max(1, batch)
    }

    /// A third of the lease: two heartbeats can be missed before the lease lapses.
    var heartbeat: Duration { .milliseconds(max(50, leases.leaseDuration / 3)) }

    /// Renews, then takes over lapsed instances until none is left (or the driver shuts down);
    /// after a wake-up, also runs `timers`.
    /// - Returns: How many instances it took over.
    @discardableResult
    func pass(wokenUp: Bool = false) async throws -> Int {
        try await leases.renewLeases()
        var taken = 0
        while true {
            let ids = try await leases.takeOverLapsedInstances(limit: batch)
            for id in ids where !driver.enqueue(id) { return taken }
            taken += ids.count
            if ids.count < batch { break }
        }
        if taken > 0 {
            logger.info("took over running instances whose lease lapsed", metadata: ["count": "\(taken)", "engine": "\(leases.engineID)"])
        }
        if wokenUp { try await timers?() }
        return taken
    }

    public func run() async throws {
        let wakeUps = leases.wakeUps()
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                // Wake-ups and the heartbeat both feed one pass loop, so passes never overlap.
                // (true: a wake-up; false: the heartbeat.)
                let (ticks, tick) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .bufferingNewest(2))
                group.addTask {
                    for await _ in wakeUps { tick.yield(true) }
                }
                group.addTask {
                    while !Task.isCancelled {
                        tick.yield(false)
                        try? await Task.sleep(for: heartbeat)
                    }
                    tick.finish()
                }
                for await wokenUp in ticks {
                    if Task.isCancelled { break }
                    do {
                        try await pass(wokenUp: wokenUp)
                    } catch is CancellationError {
                        break
                    } catch {
                        logger.error("lease pass failed; trying again at the next heartbeat", metadata: ["error": "\(error)"])
                    }
                }
                group.cancelAll()
            }
        }
        do {
            try await leases.releaseLeases()
            logger.info("released this engine's leases", metadata: ["engine": "\(leases.engineID)"])
        } catch {
            logger.error("could not release the leases; other engines take the instances over when they lapse", metadata: ["error": "\(error)"])
        }
    }
}
