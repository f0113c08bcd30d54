import StewardCore
import StewardDigest
import StewardJSON
import Synchronization
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
    /// Where instances, tasks, timers and the journal live.
    public let store: any EngineStore
    /// Where plans come from.
    public let plans: any PlanResolver
    /// Who calls steps.
    public let invoker: any StepInvoker
    /// The time source for event timestamps.
    public let clock: any EngineClock
    /// Who waits between retries.
    public let sleeper: any Sleeper
    /// Who sets deadlines and SLA timers on review tasks (none: tasks have no deadline).
    public let scheduler: (any CheckpointScheduler)?
    /// Pinned configs already read, by hash (there are few: one per template version and customer).
    private let configCache = ConfigCache()
    /// Config and template hashes this engine has already seen committed: their texts are
    /// attached only to the first commit that uses them (the store keeps them from then on).
    private let pinnedContent = PinnedContent()
    /// Where instance counts and step timings go (nil: nowhere).
    public let metrics: EngineMetrics?
    /// The poison-pill guard (nil: none): every step, model and ffi call is marked as started
    /// before it runs and as finished once its event is committed; a call that crashed
    /// `maxCrashes` earlier processes (a fault while it ran, see `CrashLedger`) is failed as
    /// `crashed` instead of run again, and the template's escalation target is notified.
    public let crashLedger: CrashLedger?
    /// Model-binding migrations in force (nil: none): at submission a route may bind a role of
    /// the customer's new instance to a migration's candidate (`CanaryBucket`); the instance
    /// keeps what it started with whatever the routes do later.
    public let routes: BindingRoutes?
    /// Shadow calls still running, so a process can let them finish before it exits.
    private let shadowCalls = ShadowCalls()

    /// Creates an engine.
    public init(
        store: any EngineStore, plans: any PlanResolver, invoker: any StepInvoker,
        clock: any EngineClock = SystemEngineClock(), sleeper: any Sleeper = ClockSleeper(),
        scheduler: (any CheckpointScheduler)? = nil, metrics: EngineMetrics? = nil, crashLedger: CrashLedger? = nil,
        routes: BindingRoutes? = nil
    ) {
        self.routes = routes
        self.crashLedger = crashLedger
        self.store = store
        self.plans = plans
        self.invoker = invoker
        self.clock = clock
        self.sleeper = sleeper
        self.scheduler = scheduler
        self.metrics = metrics
    }

    /// Submits a new instance. With a `clientKey` already used, returns that instance instead
    /// (submission is idempotent). With `drive`, runs it until it waits or finishes.
    public func submit(
        template: String, version: String? = nil, customer: String? = nil, input: JSONValue, id: String,
        clientKey: String? = nil, drive: Bool = true, parent: BranchLink? = nil, observe: @Sendable (TransitionRecord) -> Void = { _ in }
    ) async throws -> InstanceState {
        if let clientKey, let existing = try await store.instance(clientKey: clientKey) {
            return existing
        }
        if let customer, !plans.knowsCustomer(customer) {
            throw EngineError("unknown customer '\(customer)'; a customer is onboarded with an overlay in workflows/customers", notFound: true)
        }
        var version = version
        var routed: String?
        if version == nil, let route = routes?.routes(template: template, customer: customer).first(where: { $0.role == nil }) {
            // A template-version migration in force for the customer: its share of new work on
            // the candidate version, the rest on the version it moves from.
            version = route.version(for: id)
            routed = route.migration
        }
        guard let plan = plans.plan(template: template, version: version) else {
            let why = routed.map { " (where migration \($0) routes this customer's new instances)" } ?? ""
            throw EngineError("unknown template '\(template)'\(version.map { " version \($0)" } ?? "")\(why)", notFound: true)
        }
        let config = plans.config(for: plan, customer: customer)
        let configHash = ConfigCache.hash(config)
        configCache.insert(config, hash: configHash)
        let snapshot = plans.snapshot(of: plan)
        let initial = InstanceState(id: id, template: plan.name, templateVersion: plan.version, customer: customer)
        var bindings = plans.bindings(for: plan, customer: customer)
        for route in routes?.routes(template: plan.name, customer: customer) ?? []
        where !route.shadow && CanaryBucket.isCandidate(instance: id, migration: route.migration, share: route.share) {
            if let role = route.role { bindings[role] = route.candidate }
        }
        let event = Event.started(
            input: input, bindings: bindings, at: clock.nowMilliseconds(), configHash: configHash,
            templateHash: snapshot?.hash, parent: parent)
        let result = try transition(event, to: initial, plan: plan, config: config)
        do {
            try await commit(
                result, previous: initial, event: event, actor: "engine", clientKey: clientKey, plan: plan, config: config,
                pin: pinnedContent.contains(configHash) ? nil : config,
                pinTemplate: snapshot.flatMap { pinnedContent.contains($0.hash) ? nil : $0 })
            pinnedContent.insert(configHash)
            if let snapshot { pinnedContent.insert(snapshot.hash) }
        } catch let conflict as StoreConflict {
            // Another submission with the same key won the race: answer with its instance.
            if let clientKey, let existing = try await store.instance(clientKey: clientKey) { return existing }
            throw conflict
        }
        try await observed(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects), observe: observe)
        guard drive else { return result.state }
        return try await self.drive(result.state, effects: result.effects, plan: plan, config: config, observe: observe)
    }

    /// Applies a reviewer's decision to a waiting instance and runs it on.
    public func decide(
        instance id: String, _ decision: CheckpointDecision, drive: Bool = true,
        observe: @Sendable (TransitionRecord) -> Void = { _ in }
    ) async throws -> InstanceState {
        guard let (state, plan, config) = try await load(id: id) else {
            throw EngineError("no instance '\(id)'", notFound: true)
        }
        return try await apply(
            .checkpointDecided(decision), to: (state, plan, config), actor: decision.reviewer, refused: { $0 },
            raced: { "checkpoint \(decision.state) of \(id) was decided concurrently: \($0)" }, drive: drive, observe: observe)
    }

    /// Applies one event from outside the engine (a decision, an operator's cancel or retry, a
    /// delivered event) to the loaded instance, commits it and, with `drive`, runs the instance
    /// on. A refusal of the transition is an `EngineError` worded by `refused` (a conflict when
    /// the event came too late); a commit the store refused because the instance changed
    /// meanwhile is a conflict worded by `raced`.
    func apply(
        _ event: Event, to loaded: (state: InstanceState, plan: Plan, config: JSONValue), actor: String, refused: (String) -> String,
        raced: (String) -> String, drive: Bool, observe: @Sendable (TransitionRecord) -> Void
    ) async throws -> InstanceState {
        let (state, plan, config) = loaded
        let result: TransitionResult
        do {
            result = try transition(event, to: state, plan: plan, config: config)
        } catch {
            throw EngineError(refused(error.message), conflict: error.isConflict)
        }
        do {
            try await commit(result, previous: state, event: event, actor: actor, clientKey: nil, plan: plan, config: config)
        } catch let conflict as StoreConflict {
            throw EngineError(raced(conflict.message), conflict: true)
        }
        try await observed(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects), observe: observe)
        guard drive else { return result.state }
        return try await self.drive(result.state, effects: result.effects, plan: plan, config: config, observe: observe)
    }

    /// What `move` did to one instance.
    public enum MoveOutcome: Sendable, Hashable {
        /// Moved; the instance as it is after running on from where it landed.
        case moved(InstanceState)
        /// Left where it is, and why (not waiting, or no mapping for its state).
        case stayed(String)
    }

    /// Moves a waiting instance at its safe point (the checkpoint it waits at): to template
    /// `version` at the state `states` maps its current state to, and/or onto `bindings`; the
    /// move is one journalled `moved` event, then the instance runs on from where it landed.
    /// An instance that is not waiting, or waits at a state `states` does not map, stays.
    ///
    /// - Parameters:
    ///   - version: The template version to move to (nil or its own: only re-bind).
    ///   - states: Old state -> new state, for a version change.
    ///   - bindings: Roles bound anew.
    ///   - migration: The migration that asks (journalled with the move).
    ///   - by: Who asked.
    /// - Throws: `EngineError` when the instance or the version is unknown or the move does not
    ///   apply to the new plan; a conflict when the instance changed meanwhile.
    public func move(
        instance id: String, version: String?, states: [String: String], bindings: [String: String], migration: String, by: String,
        drive: Bool = true, observe: @Sendable (TransitionRecord) -> Void = { _ in }
    ) async throws -> MoveOutcome {
        guard let (state, plan, config) = try await load(id: id) else { throw EngineError("no instance '\(id)'", notFound: true) }
        guard state.status == .waiting else { return .stayed("\(state.status.rawValue) at \(state.current), not waiting") }
        var target = (plan: plan, config: config, to: state.current, hash: state.templateHash, configHash: String?.none)
        var snapshot: TemplateSnapshot?
        if let version, version != state.templateVersion {
            guard let newPlan = plans.plan(template: state.template, version: version) else {
                throw EngineError("template \(state.template) version \(version) is not loaded", notFound: true)
            }
            guard let to = states[state.current] else { return .stayed("waits at \(state.current), which the plan's state map does not map") }
            let newConfig = plans.config(for: newPlan, customer: state.customer)
            snapshot = plans.snapshot(of: newPlan)
            target = (newPlan, newConfig, to, snapshot?.hash, ConfigCache.hash(newConfig))
            configCache.insert(newConfig, hash: ConfigCache.hash(newConfig))
        } else if bindings.allSatisfy({ state.bindings[$0.key] == $0.value }) {
            return .stayed("already on \(bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
        }
        let move = InstanceMove(
            migration: migration, from: state.current, fromVersion: state.templateVersion, to: target.to,
            templateVersion: target.plan.version, templateHash: target.hash, configHash: target.configHash, bindings: bindings, by: by)
        let event = Event.moved(move)
        let result: TransitionResult
        do {
            result = try transition(event, to: state, plan: target.plan, config: target.config)
        } catch {
            throw EngineError("cannot move \(id): \(error.message)", conflict: error.isConflict)
        }
        do {
            try await commit(
                result, previous: state, event: event, actor: by, clientKey: nil, plan: target.plan, config: target.config,
                pin: target.configHash.map { _ in target.config }, pinTemplate: snapshot)
        } catch let conflict as StoreConflict {
            throw EngineError("instance \(id) changed while it was being moved: \(conflict.message)", conflict: true)
        }
        try await observed(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects), observe: observe)
        guard drive else { return .moved(result.state) }
        return .moved(try await self.drive(result.state, effects: result.effects, plan: target.plan, config: target.config, observe: observe))
    }

    /// Cancels an instance for `reason`: it ends `cancelled` in one journalled event; an open
    /// review task closes as `cancelled`, pending timers are cancelled, and a step it was owed is
    /// not started (a call already running finishes, and its result is refused).
    /// - Throws: `EngineError`: not found; a conflict when it already ended; an empty reason.
    public func cancel(instance id: String, reason: String, by: String) async throws -> InstanceState {
        guard !reason.allSatisfy(\.isWhitespace) else { throw EngineError("a cancellation needs a reason") }
        guard let loaded = try await load(id: id) else { throw EngineError("no instance '\(id)'", notFound: true) }
        return try await apply(
            .cancelled(reason: reason, by: by), to: loaded, actor: by, refused: { "cannot cancel \(id): \($0)" },
            raced: { "instance \(id) moved on while it was being cancelled: \($0); try again" }, drive: true, observe: { _ in })
    }

    /// Retries a failed instance: the step it failed at runs again from attempt 1 under the
    /// same pinned template, config and bindings, and the instance runs on.
    /// - Throws: `EngineError`: not found; a conflict when it is not failed, or failed where
    ///   nothing is called (a choice, an end).
    public func retry(instance id: String, by: String, drive: Bool = true, observe: @Sendable (TransitionRecord) -> Void = { _ in }) async throws -> InstanceState {
        guard let loaded = try await load(id: id) else { throw EngineError("no instance '\(id)'", notFound: true) }
        return try await apply(
            .retried(by: by), to: loaded, actor: by, refused: { "cannot retry \(id): \($0)" },
            raced: { "instance \(id) changed while it was being retried: \($0)" }, drive: drive, observe: observe)
    }

    /// Delivers an event to the instance waiting for it: the payload is checked against the
    /// event state's contract, written at its `output`, and the instance runs on. A delivery
    /// whose idempotency key the instance already received is answered with the instance as it
    /// is (nothing is applied twice).
    /// - Throws: `EngineError`: not found; a conflict when the instance is not waiting for this
    ///   event; invalid (422) when the payload breaks the contract, naming the field.
    public func deliver(
        _ delivery: EventDelivery, to id: String, drive: Bool = true, observe: @Sendable (TransitionRecord) -> Void = { _ in }
    ) async throws -> InstanceState {
        guard let loaded = try await load(id: id) else { throw EngineError("no instance '\(id)'", notFound: true) }
        if let key = delivery.idempotencyKey,
            try await store.history(of: id).contains(where: { $0.kind == "event_received" && $0.payload["idempotency_key"]?.stringValue == key })
        {
            return loaded.state
        }
        return try await apply(
            .eventReceived(delivery), to: loaded, actor: delivery.by, refused: { "event \(delivery.name) for \(id): \($0)" },
            raced: { "instance \(id) moved on while event \(delivery.name) arrived: \($0)" }, drive: drive, observe: observe)
    }

    /// Delivers an event to every instance waiting for it whose correlation key is `key`.
    /// - Returns: The instances it reached, oldest first (empty: none waits with that key).
    public func deliver(_ delivery: EventDelivery, correlatedBy key: String, drive: Bool = true) async throws -> [InstanceState] {
        var reached: [InstanceState] = []
        var addressed = delivery
        addressed.key = key
        for id in try await store.instancesWaiting(forEvent: delivery.name, key: key) {
            reached.append(try await deliver(addressed, to: id, drive: drive))
        }
        return reached
    }

    /// Continues every running instance (after a crash or restart). Returns how many it drove.
    /// `driven` is called once per instance as its drive ends (from any task), for progress.
    @discardableResult
    public func resume(
        concurrency: Int = 64, observe: @Sendable @escaping (TransitionRecord) -> Void = { _ in }, driven onDriven: @Sendable @escaping () -> Void = {}
    ) async throws -> Int {
        var driven = 0
        var after: String?
        while true {
            let batch = try await store.runnableInstances(after: after, limit: 1_000)
            guard let last = batch.last else {
                // Last, once every running instance went on: parents waiting at a fan-out.
                try await reconcileFanOuts(observe: observe)
                return driven
            }
            after = last.0.id
            try await withThrowingTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for (snapshot, tail) in batch {
                    if inFlight >= concurrency {
                        try await group.next()
                        inFlight -= 1
                    }
                    group.addTask {
                        defer { onDriven() }
                        do {
                            _ = try await resume(snapshot, tail: tail, observe: observe)
                        } catch is StoreConflict {
                            // Driven meanwhile by another task (a branch its parent started while
                            // this pass ran): what that task committed stands.
                        }
                    }
                    inFlight += 1
                }
                try await group.waitForAll()
            }
            driven += batch.count
        }
    }

    /// `Transition.apply` with the customer's audit sampling rates in force now (replay needs
    /// none: sampling changes no state).
    func transition(_ event: Event, to state: InstanceState, plan: Plan, config: JSONValue) throws(TransitionError) -> TransitionResult {
        try Transition.apply(event, to: state, plan: plan, config: config, sampling: plans.sampling(for: plan, customer: state.customer))
    }

    /// Rebuilds a state from `start` and the events committed after it (pure replay), under
    /// `plan` and `config` until a `moved` event switches the instance to the plan and config
    /// it moved to. `each` sees the state after every event.
    /// - Returns: The state with the plan and config it is pinned to after the last event.
    /// - Throws: `EngineError` when an event does not apply or a moved-to plan is not loaded.
    public func replay(
        _ tail: [Event], onto start: InstanceState, plan: Plan, config: JSONValue, each: (InstanceState) -> Void = { _ in }
    ) async throws -> (state: InstanceState, plan: Plan, config: JSONValue) {
        var state = start
        var plan = plan
        var config = config
        for event in tail {
            if case .moved(let move) = event, move.changesTemplate(of: state) {
                var pinned = state
                pinned.templateVersion = move.templateVersion
                pinned.templateHash = move.templateHash
                if let hash = move.configHash { pinned.configHash = hash }
                (plan, config) = try await planAndConfig(for: pinned)
            }
            do {
                state = try Transition.apply(event, to: state, plan: plan, config: config).state
            } catch {
                throw EngineError("instance \(start.id): its journal does not replay onto its snapshot: \(error)")
            }
            each(state)
        }
        return (state, plan, config)
    }

    /// Continues one running instance from its last committed event (for one waiting at a
    /// fan-out: starts or finds its running branches; a no-op for other waiting and finished ones).
    public func resume(_ state: InstanceState, observe: @Sendable (TransitionRecord) -> Void = { _ in }) async throws -> InstanceState {
        guard let (snapshot, tail) = try await store.instanceWithTail(id: state.id) else {
            throw EngineError("no instance '\(state.id)'", notFound: true)
        }
        return try await resume(snapshot, tail: tail, observe: observe)
    }

    func resume(_ snapshot: InstanceState, tail: [Event], observe: @Sendable (TransitionRecord) -> Void) async throws -> InstanceState {
        let (state, plan, config) = try await current(snapshot, tail: tail)
        // A running instance owes its step; one waiting at a fan-out owes its running branches.
        let owed = Transition.pendingEffects(of: state, plan: plan, config: config)
        guard !owed.isEmpty else { return state }
        return try await drive(state, effects: owed, plan: plan, config: config, observe: observe)
    }

    /// Runs one stored instance on from its last committed event until it waits or finishes
    /// (what `resume` does for every running instance). A waiting or finished instance is
    /// returned as it is.
    public func continueInstance(id: String, observe: @Sendable (TransitionRecord) -> Void = { _ in }) async throws -> InstanceState {
        guard let (snapshot, tail) = try await store.instanceWithTail(id: id) else {
            throw EngineError("no instance '\(id)'", notFound: true)
        }
        return try await resume(snapshot, tail: tail, observe: observe)
    }

    /// The instance as it is now: its last snapshot with the events committed after it
    /// replayed on top (a running instance's snapshot alone is stale). Nil when there is none.
    public func currentState(id: String) async throws -> InstanceState? {
        guard let (snapshot, tail) = try await store.instanceWithTail(id: id) else { return nil }
        guard !tail.isEmpty else { return snapshot }
        return try await current(snapshot, tail: tail).state
    }

    /// The stored instance `id` as it is now, with the plan and config it is pinned to (nil
    /// when there is no such instance).
    func load(id: String) async throws -> (state: InstanceState, plan: Plan, config: JSONValue)? {
        guard let (snapshot, tail) = try await store.instanceWithTail(id: id) else { return nil }
        return try await current(snapshot, tail: tail)
    }

    /// `tail` replayed onto `snapshot` under the plan and config the instance is pinned to.
    func current(_ snapshot: InstanceState, tail: [Event]) async throws -> (state: InstanceState, plan: Plan, config: JSONValue) {
        let (plan, config) = try await planAndConfig(for: snapshot)
        guard !tail.isEmpty else { return (snapshot, plan, config) }
        return try await replay(tail, onto: snapshot, plan: plan, config: config)
    }

    /// The plan an instance is pinned to (by the hash of its template text when it has one,
    /// else by version) and the config it started with.
    public func planAndConfig(for state: InstanceState) async throws -> (Plan, JSONValue) {
        let resolved: Plan?
        if let hash = state.templateHash {
            resolved = plans.plan(hash: hash)
            guard resolved != nil else {
                throw EngineError(
                    "instance \(state.id) is pinned to the text \(hash.prefix(12)) of \(state.template) \(state.templateVersion), which is not loaded",
                    notFound: true)
            }
        } else {
            resolved = plans.plan(template: state.template, version: state.templateVersion)
        }
        guard let plan = resolved else {
            throw EngineError("instance \(state.id) is pinned to \(state.template) \(state.templateVersion), which is not loaded", notFound: true)
        }
        guard let hash = state.configHash else { return (plan, plans.config(for: plan, customer: state.customer)) }
        if let cached = configCache[hash] { return (plan, cached) }
        guard let config = try await store.config(hash: hash) else {
            throw EngineError("instance \(state.id) is pinned to config \(hash), which the store does not have")
        }
        configCache.insert(config, hash: hash)
        return (plan, config)
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
            switch effect {
            case .startBranches(let starts):
                // The task group ends before this returns, so `observe` does not outlive the call.
                let parent = current
                try await withoutActuallyEscaping(observe) { observe in
                    try await startBranches(starts, parent: parent, plan: plan, config: config, observe: observe)
                }
                // The branches ran the parent on as far as it goes (joined, or waiting for more).
                if let latest = try await currentState(id: current.id) { current = latest }
                continue
            case .cancelBranches(let children, let reason):
                await cancelBranches(children, reason: reason)
                continue
            default:
                break
            }
            guard case .runStep(let invocation) = effect else { continue }
            // The ledger key is computed once per call: it is read, begun and ended here.
            let ledgerKey = crashLedger.map { _ in CrashLedger.key(invocation) }
            let poisoned = ledgerKey.map { crashLedger?.isPoisoned(key: $0) ?? false } ?? false
            if !poisoned, let ledgerKey { crashLedger?.begin(key: ledgerKey) }
            // Marked finished once its event is committed, or once the engine gave up on it with
            // an error; only a process that dies on the way leaves the call unfinished.
            defer { if let ledgerKey { crashLedger?.end(key: ledgerKey) } }
            let event: Event
            var servedBy: String?
            var notifications: [NewNotification] = []
            if let crashLedger, poisoned {
                event = .stepFailed(
                    state: invocation.state, attempt: invocation.attempt, kind: .crashed,
                    message: "the step crashed the engine \(crashLedger.maxCrashes) times (\(invocation.step), attempt \(invocation.attempt)); it was not run again")
                notifications.append(NewNotification(
                    recipient: plan.template.aop.escalationTarget,
                    message: "Instance \(current.id) (\(current.template)) failed at \(invocation.state): \(invocation.step) crashed the engine "
                        + "\(crashLedger.maxCrashes) times, so it was not run again",
                    task: nil))
            } else {
                event = try await executor.perform(invocation)
                servedBy = invoker.binary(of: invocation.callee)
                if case .model(let adapter, let role) = invocation.callee, case .stepSucceeded(_, _, let output) = event, let customer = current.customer {
                    for route in routes?.routes(template: plan.name, customer: customer) ?? [] where route.shadow && route.role == role && route.candidate != adapter {
                        shadow(invocation, route: route, served: output, instance: current.id)
                    }
                }
            }
            var result = try transition(event, to: current, plan: plan, config: config)
            var base = current
            var raced = 0
            while true {
                do {
                    try await commit(
                        result, previous: base, event: event, actor: "engine", clientKey: nil, plan: plan, config: config, notifications: notifications,
                        servedBy: servedBy)
                    break
                } catch let conflict as StoreConflict {
                    // Cancelled (or otherwise ended) while the call ran: its result is refused and
                    // the instance is what the store says.
                    raced += 1
                    guard raced < 8, let latest = try await currentState(id: current.id) else { throw conflict }
                    if latest.status.isFinal { return latest }
                    // Another event was committed while the call ran (an event kept for later):
                    // the call's outcome applies to the instance as it is now, or not at all.
                    guard let again = try? transition(event, to: latest, plan: plan, config: config) else { return latest }
                    (base, result) = (latest, again)
                }
            }
            try await observed(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects), observe: observe)
            current = result.state
            pending = result.effects
        }
        return current
    }

    /// Calls a shadow route's candidate with the invocation a live instance's model state just
    /// made, on a task of its own (the instance never waits for it or sees its answer), and
    /// records whether it agreed with the served output, how it failed, and how long it took.
    func shadow(_ invocation: StepInvocation, route: BindingRoute, served: JSONValue, instance: String) {
        guard let role = route.role else { return }
        var call = invocation
        call.callee = .model(adapter: route.candidate, role: role)
        call.idempotencyKey = "shadow/\(route.migration)/" + invocation.idempotencyKey
        call.callKey = "shadow/\(route.migration)/" + invocation.callKey
        call.delayMilliseconds = 0
        let (invoker, store, clock, shadowCall) = (self.invoker, self.store, self.clock, call)
        shadowCalls.start {
            let started = MonotonicClock.nanoseconds()
            var agreed = false
            var failure: String?
            do throws(StepFailure) {
                let answer = try await invoker.invoke(shadowCall)
                agreed = Self.agree(served, answer)
            } catch {
                failure = "\(error.kind): \(error.message)"
            }
            let latency = (MonotonicClock.nanoseconds() - started) / 1_000
            // An observation lost to a store error only thins the gate's evidence.
            try? await store.recordShadowObservation(ShadowObservation(
                migration: route.migration, customer: route.customer, instance: instance, state: invocation.state, agreed: agreed, error: failure,
                latencyMicroseconds: latency, at: clock.nowMilliseconds()))
        }
    }

    /// Waits for the shadow calls started so far to finish and record (a command that exits
    /// right after its instance calls this; a server's calls finish on their own).
    public func drainShadowCalls() async { await shadowCalls.drain() }

    /// Whether two model outputs agree: the same `label` when both have one, else the same
    /// output once confidence, adapter and usage are set aside.
    static func agree(_ served: JSONValue, _ candidate: JSONValue) -> Bool {
        if let left = served["label"], let right = candidate["label"] { return left == right }
        func core(_ value: JSONValue) -> JSONValue {
            guard case .object(var members) = value else { return value }
            for key in ["confidence", "adapter", "usage"] { members[key] = nil }
            return .object(members)
        }
        return core(served) == core(candidate)
    }

    /// Applies a due timer to its instance as a `timerFired` event, committed exactly once
    /// (the store refuses the commit when the timer already fired or was cancelled), then runs
    /// the instance on. A timer whose instance has left the timer's state is discarded.
    /// Returns whether the timer fired.
    @discardableResult
    public func fire(_ timer: DueTimer, observe: @Sendable (TransitionRecord) -> Void = { _ in }) async throws -> Bool {
        guard let (state, plan, config) = try await load(id: timer.instanceID) else {
            try await store.discardTimer(id: timer.id, at: clock.nowMilliseconds())
            return false
        }
        let event = Event.timerFired(TimerFired(timer: timer.id, kind: timer.kind, state: timer.state, dueAt: timer.dueAt, payload: timer.payload))
        let result: TransitionResult
        do {
            result = try transition(event, to: state, plan: plan, config: config)
        } catch {
            // The instance moved on (or the timer is of a kind this plan cannot apply): the
            // timer has nothing left to do.
            try await store.discardTimer(id: timer.id, at: clock.nowMilliseconds())
            return false
        }
        do {
            try await commit(result, previous: state, event: event, actor: "engine", clientKey: nil, plan: plan, config: config, timer: timer)
        } catch is StoreConflict {
            return false
        }
        try await observed(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects), observe: observe)
        _ = try await drive(result.state, effects: result.effects, plan: plan, config: config, observe: observe)
        return true
    }

    /// Hands a committed transition to `observe`, then, when it ended a branch of a fan-out,
    /// tells the parent (which records it and runs on). Every commit of a transition is followed
    /// by this, so a parent hears of each end of its branches once in this process (and a
    /// restart reconciles an end a crash cut off).
    func observed(_ record: TransitionRecord, observe: @Sendable (TransitionRecord) -> Void) async throws {
        observe(record)
        if record.state.parent != nil, record.state.status.isFinal {
            try await notifyParent(of: record.state, observe: observe)
        }
    }

    /// Makes one transition durable with everything it implies, decided here (the store
    /// only writes): the review task it opens (with its SLA deadline and timers) or closes,
    /// the audit items of checkpoints it passed unreviewed that were sampled,
    /// the timers cancelled because the instance left a waiting state, the labelled example a
    /// reviewer's edit yields, the timer it fires, escalation and notifications, and the texts
    /// a new instance is pinned to.
    func commit(
        _ result: TransitionResult, previous: InstanceState, event: Event, actor: String, clientKey: String?, plan: Plan, config: JSONValue,
        pin: JSONValue? = nil, pinTemplate: TemplateSnapshot? = nil, timer: DueTimer? = nil, notifications: [NewNotification] = [],
        servedBy: String? = nil
    ) async throws {
        var opened: CheckpointRequest?
        var sampled: [AuditRequest] = []
        var waits: [WaitRequest] = []
        var awaited: EventWait?
        for effect in result.effects {
            switch effect {
            case .openCheckpoint(let request): opened = request
            case .sampleForAudit(let request): sampled.append(request)
            case .startWait(let request): waits.append(request)
            case .awaitEvent(let request): awaited = request
            default: break
            }
        }
        let now = clock.nowMilliseconds()
        let state = result.state
        var commit = InstanceCommit(
            state: state, event: event, actor: actor, at: now, clientKey: clientKey, openedCheckpoint: opened)
        commit.pinnedConfig = pin
        commit.pinnedTemplate = pinTemplate
        commit.notifications += notifications
        commit.servedBy = servedBy
        commit.auditSamples = sampled
        commit.eventWait = awaited
        for wait in waits {
            // Business time by the customer's calendar (wall time when no calendar answers).
            let due = wait.until
                ?? (wait.business ? scheduler?.businessTime(adding: wait.duration ?? 0, to: now, customer: state.customer) : nil)
                ?? now + (wait.duration ?? 0)
            commit.timers.append(ScheduledTimer(
                kind: wait.kind, at: due,
                payload: ["state": .string(wait.state), "due_at": .integer(due), "business": .bool(wait.business && wait.until == nil)], state: wait.state))
        }
        if let opened, let scheduler {
            commit.schedule = scheduler.schedule(opened, state: state, plan: plan, config: config, now: now)
        }
        // Leaving a waiting state ends what belonged to it: its open task's timers.
        if previous.status == .waiting, state.status != .waiting || state.current != previous.current || state.enteredAt != previous.enteredAt {
            commit.cancelTimersOf = previous.current
        }
        if case .moved(let move) = event, move.changesTemplate(of: previous) { commit.withdrawnTask = TaskWithdrawal(state: move.from, status: "moved") }
        if case .cancelled = event, previous.status == .waiting, case .checkpoint? = plan.state(previous.current)?.kind {
            commit.withdrawnTask = TaskWithdrawal(state: previous.current, status: "cancelled")
        }
        if case .checkpointDecided(let decision) = event {
            commit.closedTask = TaskClosure(state: decision.state, decision: decision.decision, reviewer: decision.reviewer)
            if decision.decision == .edit, let edited = decision.output {
                commit.labelledExample = LabelledExample(
                    state: decision.state, template: state.template, input: state.data["input"] ?? .null,
                    modelOutput: state.data.value(at: ["reviews", decision.state, "original"]) ?? .null, humanOutput: edited,
                    reviewer: decision.reviewer)
            }
        }
        if let timer {
            commit.firedTimer = timer.id
            for case .escalate(let step) in result.effects {
                commit.escalation = TaskEscalation(state: step.state, level: step.level, assigned: state.escalation?.assigned)
                let priority = timer.payload["priority"]?.stringValue ?? "?"
                let what = step.trigger == TimerFired.slaBreach ? "breached its SLA" : "is close to its SLA deadline"
                let task = timer.task.map(String.init) ?? "?"
                for recipient in step.notify {
                    commit.notifications.append(NewNotification(
                        recipient: recipient,
                        message: "Review task \(task) (\(state.template), \(priority), instance \(state.id)) \(what)"
                            + (step.reassign.map { "; reassigned to \($0)" } ?? ""),
                        task: timer.task))
                }
            }
        }
        try await store.commit(commit)
        // Counted only once the transition is durable, so a refused commit counts nothing.
        guard let metrics else { return }
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

/// Hashes of pinned configs and template texts known to be in the store.
final class PinnedContent: Sendable {
    private let hashes = Mutex<Set<String>>([])

    func contains(_ hash: String) -> Bool { hashes.withLock { $0.contains(hash) } }

    func insert(_ hash: String) {
        _ = hashes.withLock { $0.insert(hash) }
    }
}

/// Configs by content hash: written once per distinct config, read by every instance pinned to it.
final class ConfigCache: Sendable {
    private let entries = Mutex<[String: JSONValue]>([:])

    /// The first 128 bits of the SHA-256 of the config's canonical JSON, in hex.
    static func hash(_ config: JSONValue) -> String {
        String(SHA256.hex(config.jsonBytes).prefix(32))
    }

    subscript(hash: String) -> JSONValue? { entries.withLock { $0[hash] } }

    func insert(_ config: JSONValue, hash: String) {
        entries.withLock { $0[hash] = config }
    }
}

/// The shadow calls an engine started and has not seen finish.
final class ShadowCalls: Sendable {
    private let running = Mutex<[Int: Task<Void, Never>]>([:])
    private let next = Atomic<Int>(0)

    /// Starts `work` on a task of its own; it removes itself when done.
    func start(_ work: @escaping @Sendable () async -> Void) {
        let id = next.add(1, ordering: .relaxed).newValue
        running.withLock { calls in
            calls[id] = Task.detached { [weak self] in
                await work()
                _ = self?.running.withLock { $0.removeValue(forKey: id) }
            }
        }
    }

    /// Waits for every call started before it.
    func drain() async {
        for task in running.withLock({ Array($0.values) }) { await task.value }
    }
}
