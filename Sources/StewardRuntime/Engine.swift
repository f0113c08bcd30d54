import StewardJSON
import StewardPlugins
import StewardTemplates

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the engine refused a request.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    /// A readable explanation.
    public let description: String
    /// Whether the request collided with the instance's current state (HTTP 409).
    public let isConflict: Bool
    /// Whether the instance or template does not exist (HTTP 404).
    public let isNotFound: Bool

    init(_ description: String, conflict: Bool = false, notFound: Bool = false) {
        self.description = description
        self.isConflict = conflict
        self.isNotFound = notFound
    }
}

/// The system clock in milliseconds.
public struct SystemEngineClock: EngineClock {
    /// Creates the clock.
    public init() {}
    /// Milliseconds since 1970.
    public func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// Durable execution: every transition is committed to the store before the effects it asks
/// for are performed, so a crash at any point loses nothing and applies nothing twice.
///
/// A step runs only after the event that scheduled it is durable; if the process dies while
/// the step runs, `resume()` runs it again with the same idempotency key.
public struct Engine: Sendable {
    /// Where instances live.
    public let store: any InstanceStore
    /// Where plans come from.
    public let plans: any PlanResolver
    /// Who calls steps.
    public let invoker: any StepInvoker
    /// The time source for event timestamps.
    public let clock: any EngineClock
    /// Who waits between retries.
    public let sleeper: any Sleeper
    /// Where instance counts and step timings go (nil: nowhere).
    public let metrics: EngineMetrics?

    /// Creates an engine.
    public init(
        store: any InstanceStore, plans: any PlanResolver, invoker: any StepInvoker,
        clock: any EngineClock = SystemEngineClock(), sleeper: any Sleeper = ClockSleeper(), metrics: EngineMetrics? = nil
    ) {
        self.store = store
        self.plans = plans
        self.invoker = invoker
        self.clock = clock
        self.sleeper = sleeper
        self.metrics = metrics
    }

    /// Submits a new instance. With a `clientKey` already used, returns that instance instead
    /// (submission is idempotent). With `drive`, runs it until it waits or finishes.
    public func submit(
        template: String, version: String? = nil, customer: String? = nil, input: JSONValue, id: String,
        clientKey: String? = nil, drive: Bool = true, observe: @Sendable (TransitionRecord) -> Void = { _ in }
    ) async throws -> InstanceState {
        if let clientKey, let existing = try await store.instance(clientKey: clientKey) {
            return existing
        }
        guard let plan = plans.plan(template: template, version: version) else {
            throw EngineError("unknown template '\(template)'\(version.map { " version \($0)" } ?? "")", notFound: true)
        }
        let config = plans.config(for: plan, customer: customer)
        let initial = InstanceState(id: id, template: plan.name, templateVersion: plan.version, customer: customer)
        let event = Event.started(input: input)
        let result = try Transition.apply(event, to: initial, plan: plan, config: config)
        do {
            try await commit(result, event: event, actor: "engine", clientKey: clientKey)
        } catch let conflict as StoreConflict {
            // Another submission with the same key won the race: answer with its instance.
            if let clientKey, let existing = try await store.instance(clientKey: clientKey) { return existing }
            throw conflict
        }
        observe(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects))
        guard drive else { return result.state }
        return try await self.drive(result.state, effects: result.effects, plan: plan, config: config, observe: observe)
    }

    /// Applies a reviewer's decision to a waiting instance and runs it on.
    public func decide(
        instance id: String, _ decision: CheckpointDecision, drive: Bool = true,
        observe: @Sendable (TransitionRecord) -> Void = { _ in }
    ) async throws -> InstanceState {
        guard let state = try await store.instance(id: id) else { throw EngineError("no instance '\(id)'", notFound: true) }
        let (plan, config) = try planAndConfig(for: state)
        let event = Event.checkpointDecided(decision)
        let result: TransitionResult
        do {
            result = try Transition.apply(event, to: state, plan: plan, config: config)
        } catch {
            throw EngineError(error.message, conflict: error.isConflict)
        }
        do {
            try await commit(result, event: event, actor: decision.reviewer, clientKey: nil)
        } catch let conflict as StoreConflict {
            throw EngineError("checkpoint \(decision.state) of \(id) was decided concurrently: \(conflict.message)", conflict: true)
        }
        observe(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects))
        guard drive else { return result.state }
        return try await self.drive(result.state, effects: result.effects, plan: plan, config: config, observe: observe)
    }

    /// Continues every running instance (after a crash or restart). Returns how many it drove.
    @discardableResult
    public func resume(concurrency: Int = 64, observe: @Sendable @escaping (TransitionRecord) -> Void = { _ in }) async throws -> Int {
        var driven = 0
        while true {
            let batch = try await store.runnableInstances(limit: 1_000)
            if batch.isEmpty { return driven }
            try await withThrowingTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for state in batch {
                    if inFlight >= concurrency {
                        try await group.next()
                        inFlight -= 1
                    }
                    group.addTask {
                        let (plan, config) = try planAndConfig(for: state)
                        let effects = Transition.pendingEffects(of: state, plan: plan, config: config)
                        _ = try await drive(state, effects: effects, plan: plan, config: config, observe: observe)
                    }
                    inFlight += 1
                }
                try await group.waitForAll()
            }
            driven += batch.count
        }
    }

    /// Runs one stored instance on from its last committed event until it waits or finishes
    /// (what `resume` does for every running instance). A waiting or finished instance is
    /// returned as it is.
    public func continueInstance(id: String, observe: @Sendable (TransitionRecord) -> Void = { _ in }) async throws -> InstanceState {
        guard let state = try await store.instance(id: id) else { throw EngineError("no instance '\(id)'", notFound: true) }
        let (plan, config) = try planAndConfig(for: state)
        let effects = Transition.pendingEffects(of: state, plan: plan, config: config)
        return try await drive(state, effects: effects, plan: plan, config: config, observe: observe)
    }

    /// The plan an instance is pinned to and its effective config.
    public func planAndConfig(for state: InstanceState) throws -> (Plan, JSONValue) {
        guard let plan = plans.plan(template: state.template, version: state.templateVersion) else {
            throw EngineError("instance \(state.id) is pinned to \(state.template) \(state.templateVersion), which is not loaded", notFound: true)
        }
        return (plan, plans.config(for: plan, customer: state.customer))
    }

    /// Performs effects and commits the resulting events until the instance waits or ends.
    func drive(
        _ state: InstanceState, effects: [Effect], plan: Plan, config: JSONValue,
        observe: @Sendable (TransitionRecord) -> Void
    ) async throws -> InstanceState {
        var current = state
        var pending = effects
        let executor = Executor(plan: plan, config: config, invoker: invoker, sleeper: sleeper, metrics: metrics)
        while let effect = pending.first {
            pending.removeFirst()
            guard case .runStep(let invocation) = effect else { continue }
            let event = try await executor.perform(invocation)
            let result = try Transition.apply(event, to: current, plan: plan, config: config)
            try await commit(result, event: event, actor: "engine", clientKey: nil)
            observe(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects))
            current = result.state
            pending = result.effects
        }
        return current
    }

    private func commit(_ result: TransitionResult, event: Event, actor: String, clientKey: String?) async throws {
        var opened: CheckpointRequest?
        for case .openCheckpoint(let request) in result.effects { opened = request }
        try await store.commit(InstanceCommit(
            state: result.state, event: event, actor: actor, at: clock.nowMilliseconds(), clientKey: clientKey,
            openedCheckpoint: opened))
        // Counted only once the transition is durable, so a refused commit counts nothing.
        guard let metrics else { return }
        let state = result.state
        if state.sequence == 1 { metrics.instance(MetricName.instancesStarted, template: state.template, customer: state.customer) }
        for case .finish(let status, _) in result.effects {
            switch status {
            case .completed: metrics.instance(MetricName.instancesCompleted, template: state.template, customer: state.customer)
            case .failed: metrics.instance(MetricName.instancesFailed, template: state.template, customer: state.customer)
            case .rejected: metrics.instance(MetricName.instancesRejected, template: state.template, customer: state.customer)
            default: break
            }
        }
    }
}
