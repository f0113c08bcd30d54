import Logging
import ServiceLifecycle
import StewardCore
import StewardEngine

/// Drives submitted and decided instances in the background, at most `concurrency` at once,
/// so an HTTP request returns as soon as its transition is durable.
///
/// On graceful shutdown it stops taking new work, finishes what it was given (in-flight and
/// queued), then returns. An instance enqueued after that is durable as `running` and is
/// picked up by `engine.resume()` at the next start, so nothing acknowledged is lost.
public final class InstanceDriver: Service {
    private let engine: Engine
    private let concurrency: Int
    private let logger: Logger
    private let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    /// Creates a driver for `engine`.
    public init(engine: Engine, concurrency: Int, logger: Logger) {
        self.engine = engine
        self.concurrency = max(1, concurrency)
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: String.self)
    }

    /// Asks for instance `id` to be run on. Returns false once the driver is shutting down.
    @discardableResult
    public func enqueue(_ id: String) -> Bool {
        if case .enqueued = continuation.yield(id) { return true }
        return false
    }

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
        do {
            let state = try await engine.continueInstance(id: id)
            logger.debug("instance driven", metadata: ["instance": "\(id)", "status": "\(state.status.rawValue)"])
        } catch {
            // The instance stays `running` in the store; `resume` retries it at the next start.
            logger.error("driving an instance failed; it will be resumed at the next start", metadata: ["instance": "\(id)", "error": "\(error)"])
        }
    }
}
