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
    /// How many instances' timers are fired at once (each instance's own in due order, one
    /// after another): their commits share the store's group commits.
    public let concurrency: Int

    /// Creates the service.
    public init(engine: Engine, batchSize: Int = 500, concurrency: Int = 64) {
        self.engine = engine
        self.batchSize = batchSize
        self.concurrency = max(concurrency, 1)
    }

    /// Fires every timer due at `now`. Returns the timers that fired, in due order (discarded
    /// ones, whose instance moved on, are not counted).
    @discardableResult
    public func fireDue(now: Int64) async throws -> [DueTimer] {
        var fired: [DueTimer] = []
        while true {
            let due = try await engine.store.dueTimers(now: now, limit: batchSize)
            // By instance, in due order: an instance's warning fires before its breach.
            var order: [String] = []
            var byInstance: [String: [DueTimer]] = [:]
            for timer in due {
                if byInstance[timer.instanceID] == nil { order.append(timer.instanceID) }
                byInstance[timer.instanceID, default: []].append(timer)
            }
            let engine = self.engine
            var firedNow: [Int64: DueTimer] = [:]
            try await withThrowingTaskGroup(of: [DueTimer].self) { group in
                var next = 0
                func start() {
                    guard next < order.count, let timers = byInstance[order[next]] else { return }
                    next += 1
                    group.addTask {
                        var done: [DueTimer] = []
                        for timer in timers where try await engine.fire(timer) { done.append(timer) }
                        return done
                    }
                }
                for _ in 0..<min(concurrency, order.count) { start() }
                while let done = try await group.next() {
                    for timer in done { firedNow[timer.id] = timer }
                    start()
                }
            }
            fired += due.filter { firedNow[$0.id] != nil }
            if due.count < batchSize { return fired }
        }
    }
}
