import Logging
import Synchronization
import ServiceLifecycle
import StewardCore
import StewardEngine

/// Drives submitted and decided instances in the background, at most `concurrency` at once,
/// so an HTTP request returns as soon as its transition is durable.
///
/// A drive that fails outside the instance's own steps (the database busy or down, a store
/// conflict) is not left for the next start: the instance stays `running` in the store, the
/// failure is kept in `lastFailure(of:)` (the API shows it on the instance as
/// `background_error`), and the drive is tried again after a backoff that doubles from
/// `retryDelay` up to `maxRetryDelay`, until it succeeds or the driver shuts down.
///
/// On graceful shutdown it stops taking new work, finishes what it was given (in-flight and
/// queued), then returns; pending retries are dropped. An instance enqueued after that, or
/// whose retry was dropped, is durable as `running` and is picked up by `engine.resume()` at the
/// next start, so nothing acknowledged is lost.
///
/// Thread rules: `enqueue` and `lastFailure` may be called from any task.
public final class InstanceDriver: Service {
    /// A background drive of one instance that failed, and when it is tried again.
    public struct Failure: Sendable, Hashable {
        /// The error, as text.
        public var message: String
        /// When the last attempt failed, ms since 1970.
        public var at: Int64
        /// Failed attempts in a row.
        public var attempts: Int
        /// When the next attempt starts, ms since 1970.
        public var retryAt: Int64
    }

    private let engine: Engine
    private let concurrency: Int
    private let logger: Logger
    private let retryDelay: Duration
    private let maxRetryDelay: Duration
    private let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private let failures = Mutex<[String: Failure]>([:])
    /// Instances queued or being driven: an instance asked for again while queued is driven
    /// once; while being driven, once more after that drive (what was asked may have come in
    /// after the drive read the instance). Two drives of one instance never overlap here.
    private let scheduled = Mutex<[String: Scheduled]>([:])

    private enum Scheduled {
        case queued
        case driving
        case drivingThenAgain
    }

    /// Creates a driver for `engine`; a failed drive is retried after `retryDelay`, doubling up
    /// to `maxRetryDelay`.
    public init(engine: Engine, concurrency: Int, logger: Logger, retryDelay: Duration = .seconds(1), maxRetryDelay: Duration = .seconds(60)) {
        self.engine = engine
        self.concurrency = max(1, concurrency)
        self.logger = logger
        self.retryDelay = retryDelay
        self.maxRetryDelay = max(retryDelay, maxRetryDelay)
        (stream, continuation) = AsyncStream.makeStream(of: String.self)
    }

    /// Asks for instance `id` to be run on. Returns false once the driver is shutting down.
    @discardableResult
    public func enqueue(_ id: String) -> Bool {
        let yield = scheduled.withLock { scheduled -> Bool in
            switch scheduled[id] {
            case nil:
                scheduled[id] = .queued
                return true
            case .driving:
                scheduled[id] = .drivingThenAgain
                return false
            case .queued, .drivingThenAgain:
                return false
            }
        }
        guard yield else { return true }
        if case .enqueued = continuation.yield(id) { return true }
        scheduled.withLock { _ = $0.removeValue(forKey: id) }
        return false
    }

    /// Marks `id` as being driven (it left the queue).
    private func started(_ id: String) {
        scheduled.withLock { $0[id] = .driving }
    }

    /// Marks the drive of `id` finished; queues it again when it was asked for meanwhile.
    private func finished(_ id: String) {
        let again = scheduled.withLock { scheduled -> Bool in
            let again = scheduled[id] == .drivingThenAgain
            scheduled[id] = nil
            return again
        }
        if again { enqueue(id) }
    }

    /// The last background failure of instance `id` while it is being retried; nil once a
    /// drive succeeded (or none failed).
    public func lastFailure(of id: String) -> Failure? { failures.withLock { $0[id] } }

    /// Runs until graceful shutdown, then drains.
    public func run() async throws {
        let continuation = self.continuation
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for await id in stream {
                    if running >= concurrency {
                        await group.next()
                        running -= 1
                    }
                    group.addTask { await self.drive(id) }
                    running += 1
                }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
        logger.info("instance driver stopped: all accepted work finished")
    }

    private func drive(_ id: String) async {
        started(id)
        defer { finished(id) }
        do {
            let state = try await engine.continueInstance(id: id)
            failures.withLock { $0[id] = nil }
            logger.debug("instance driven", metadata: ["instance": "\(id)", "status": "\(state.status.rawValue)"])
        } catch {
            let now = engine.clock.nowMilliseconds()
            let (failure, wait) = failures.withLock { failures -> (Failure, Duration) in
                let attempts = (failures[id]?.attempts ?? 0) + 1
                let wait = Self.delay(after: attempts, base: retryDelay, cap: maxRetryDelay)
                let failure = Failure(message: "\(error)", at: now, attempts: attempts, retryAt: now + wait.wholeMilliseconds)
                failures[id] = failure
                return (failure, wait)
            }
            logger.error(
                "driving an instance failed; it stays running and is tried again",
                metadata: ["instance": "\(id)", "error": "\(error)", "attempts": "\(failure.attempts)", "retry_in_ms": "\(failure.retryAt - now)"])
            // The retry waits on a task of its own, so the driver's slot is free meanwhile; once
            // the driver shuts down, enqueue refuses it and the next start resumes the instance.
            Task { [weak self] in
                try? await Task.sleep(for: wait)
                self?.enqueue(id)
            }
        }
    }

    /// `base` doubled for each failure after the first, at most `cap`.
    static func delay(after attempts: Int, base: Duration, cap: Duration) -> Duration {
        var delay = base
        for _ in 1..<max(1, attempts) where delay < cap { delay = delay * 2 }
        return min(delay, cap)
    }
}

extension Duration {
    /// The duration in whole milliseconds (rounded down).
    var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
