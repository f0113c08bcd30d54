/// Runs periodic work on a task of its own, one run at a time: `poke` (from a periodic tick)
/// starts a run unless the last is still going, so slow work (an eval run, a slow webhook)
/// never holds up the timers that share the tick. Each finished run is reported.
public actor SerialTicker<Value: Sendable> {
    let work: @Sendable (Int64) async throws -> Value
    let clock: @Sendable () -> Int64
    let report: @Sendable (Result<Value, any Error>) -> Void
    var running: Task<Void, Never>?

    /// Creates a ticker: each run calls `work` with `clock()` read when it starts, then `report`.
    public init(
        clock: @escaping @Sendable () -> Int64, work: @escaping @Sendable (Int64) async throws -> Value,
        report: @escaping @Sendable (Result<Value, any Error>) -> Void = { _ in }
    ) {
        self.work = work
        self.clock = clock
        self.report = report
    }

    /// Starts a run unless one is still going; returns at once.
    public func poke() {
        guard running == nil else { return }
        let (work, now, report) = (work, clock(), report)
        running = Task {
            let result: Result<Value, any Error>
            do { result = .success(try await work(now)) } catch { result = .failure(error) }
            report(result)
            self.finished()
        }
    }

    func finished() { running = nil }

    /// Waits for the running run, if any (graceful shutdown, tests).
    public func drain() async { await running?.value }
}
