/// Fires due durable timers. Each firing is committed as a `timerFired` event of its instance
/// and applied by the transition function (SLA warnings and breaches climb the template's
/// escalation ladder), exactly once: also after a restart, also when the engine was down at
/// the due time (it fires on the next call).
///
/// Thread rules: safe to call from several tasks and engines at once; the store's check that a
/// timer is still pending makes each timer fire once.
public struct TimerService: Sendable {
    /// The engine whose instances the timers belong to.
    public let engine: Engine
    /// How many due timers are read per round.
    public let batchSize: Int

    /// Creates the service.
    public init(engine: Engine, batchSize: Int = 500) {
        self.engine = engine
        self.batchSize = batchSize
    }

    /// Fires every timer due at `now`. Returns the timers that fired (discarded ones, whose
    /// instance moved on, are not counted).
    @discardableResult
    public func fireDue(now: Int64) async throws -> [DueTimer] {
        var fired: [DueTimer] = []
        while true {
            let due = try await engine.store.dueTimers(now: now, limit: batchSize)
            for timer in due where try await engine.fire(timer) {
                fired.append(timer)
            }
            if due.count < batchSize { return fired }
        }
    }
}
