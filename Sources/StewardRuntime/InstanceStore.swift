import StewardJSON
import StewardTemplates

/// One transition to make durable: the event, the state it produced, and what it opened.
public struct InstanceCommit: Sendable {
    /// The instance after the event (its `sequence` is one more than the stored one).
    public var state: InstanceState
    /// The event applied.
    public var event: Event
    /// Who caused it: `engine`, or a reviewer id.
    public var actor: String
    /// When, in milliseconds since 1970 (from the engine's clock).
    public var at: Int64
    /// The client's idempotency key, on the first commit of a submitted instance.
    public var clientKey: String?
    /// The review task the transition opened, if any.
    public var openedCheckpoint: CheckpointRequest?
    /// Its deadline and timers (SLA warning, breach), if it has an SLA.
    public var schedule: CheckpointSchedule?
    /// On an instance's first commit: the effective config it is pinned to, stored by its hash
    /// (once per distinct config).
    public var pinnedConfig: JSONValue?

    /// Creates a commit.
    public init(state: InstanceState, event: Event, actor: String, at: Int64, clientKey: String? = nil, openedCheckpoint: CheckpointRequest? = nil) {
        self.state = state
        self.event = event
        self.actor = actor
        self.at = at
        self.clientKey = clientKey
        self.openedCheckpoint = openedCheckpoint
    }
}

/// When a review task is due and which timers it sets.
public struct CheckpointSchedule: Sendable, Hashable {
    /// The deadline, ms since 1970.
    public var dueAt: Int64?
    /// Timers to set with the task.
    public var timers: [ScheduledTimer]

    /// Creates a schedule.
    public init(dueAt: Int64?, timers: [ScheduledTimer]) {
        self.dueAt = dueAt
        self.timers = timers
    }
}

/// A durable timer: fires once at `at`, even if the engine was down then (it fires on start).
public struct ScheduledTimer: Sendable, Hashable {
    /// `sla_warning` or `sla_breach`.
    public var kind: String
    /// When, ms since 1970.
    public var at: Int64
    /// What the firing needs to know (priority, deadline, ...).
    public var payload: JSONValue

    /// Creates a timer.
    public init(kind: String, at: Int64, payload: JSONValue) {
        self.kind = kind
        self.at = at
        self.payload = payload
    }
}

/// Decides a review task's deadline and timers when a checkpoint opens (the SLA clock).
/// Injected into the engine so the runtime knows nothing of calendars.
public protocol CheckpointScheduler: Sendable {
    /// The schedule for `request`, opened at `now` for the instance `state` of `plan`.
    func schedule(_ request: CheckpointRequest, state: InstanceState, plan: Plan, config: JSONValue, now: Int64) -> CheckpointSchedule?
}

/// The store refused a commit because the instance moved on meanwhile (or the client key is taken).
public struct StoreConflict: Error, Sendable, CustomStringConvertible {
    /// The instance concerned.
    public let instanceID: String
    /// What collided.
    public let message: String

    /// Creates a conflict.
    public init(instanceID: String, message: String) {
        self.instanceID = instanceID
        self.message = message
    }

    /// "conflict on <id>: <message>".
    public var description: String { "conflict on instance \(instanceID): \(message)" }
}

/// Durable storage of instances as far as the runtime needs it. The SQLite and PostgreSQL
/// stores implement it; the runtime knows nothing else about them.
///
/// Contract: `commit` returns only once the commit is durable, and applies it only if the
/// stored sequence is `state.sequence - 1` (0 for a new instance); otherwise it throws
/// `StoreConflict` and changes nothing. That check is what makes transitions exactly-once.
public protocol InstanceStore: Sendable {
    /// Makes one transition durable (implementations batch concurrent commits).
    func commit(_ commit: InstanceCommit) async throws
    /// The last stored snapshot of an instance. Snapshots are written when an instance comes
    /// to rest (waits or finishes), so this is exact for waiting and finished instances; a
    /// running one may have newer events (see `instanceWithTail`).
    func instance(id: String) async throws -> InstanceState?
    /// The last snapshot and the events committed after it, in order.
    func instanceWithTail(id: String) async throws -> (InstanceState, [Event])?
    /// The instance submitted with a client idempotency key.
    func instance(clientKey: String) async throws -> InstanceState?
    /// Instances that are running (not waiting, not finished), with the events after their
    /// snapshot, in id order after `after`, for recovery after a restart.
    func runnableInstances(after: String?, limit: Int) async throws -> [(InstanceState, [Event])]
    /// A pinned config by its content hash.
    func config(hash: String) async throws -> JSONValue?
}

/// The engine's source of time, in milliseconds since 1970. Injected so tests control it.
public protocol EngineClock: Sendable {
    /// Now.
    func nowMilliseconds() -> Int64
}

/// Finds the plan an instance is pinned to, and a customer's effective config.
public protocol PlanResolver: Sendable {
    /// The plan of `template` at `version` (the newest when `version` is nil).
    func plan(template: String, version: String?) -> Plan?
    /// The config an instance of `plan` runs with for `customer` (overlays applied).
    func config(for plan: Plan, customer: String?) -> JSONValue
    /// The customer's model bindings that override the template's (pinned at start).
    func bindings(for plan: Plan, customer: String?) -> [String: String]
    /// Whether `customer` is onboarded (has an overlay); unknown customers are refused.
    func knowsCustomer(_ customer: String) -> Bool
}

extension PlanResolver {
    /// No overrides by default.
    public func bindings(for plan: Plan, customer: String?) -> [String: String] { [:] }
    /// Every customer is known by default.
    public func knowsCustomer(_ customer: String) -> Bool { true }
}

/// A fixed set of plans, by name and version, with no customer overlays.
public struct PlanLibrary: PlanResolver {
    private var plans: [String: [String: Plan]] = [:]
    private var newest: [String: Plan] = [:]
    private var overlays: [String: [String: JSONValue]] = [:]
    private var overlayBindings: [String: [String: [String: String]]] = [:]
    /// The onboarded customers; nil accepts any customer (no overlays configured).
    public var knownCustomers: Set<String>?

    /// Creates a library of `plans`.
    public init(_ plans: [Plan] = []) {
        for plan in plans { add(plan) }
    }

    /// Adds a plan; the last added version of a name is the newest.
    public mutating func add(_ plan: Plan) {
        plans[plan.name, default: [:]][plan.version] = plan
        newest[plan.name] = plan
    }

    /// Sets a customer's config overlay for a template (merged over the template config).
    public mutating func setOverlay(_ overlay: JSONValue, template: String, customer: String) {
        overlays[template, default: [:]][customer] = overlay
    }

    /// Sets a customer's model bindings for a template (they win over the template's).
    public mutating func setBindings(_ bindings: [String: String], template: String, customer: String) {
        overlayBindings[template, default: [:]][customer] = bindings
    }

    /// The customer's binding overrides for `plan`.
    public func bindings(for plan: Plan, customer: String?) -> [String: String] {
        guard let customer else { return [:] }
        return overlayBindings[plan.name]?[customer] ?? [:]
    }

    /// Whether `customer` is onboarded.
    public func knowsCustomer(_ customer: String) -> Bool { knownCustomers?.contains(customer) ?? true }

    /// Every plan.
    public var all: [Plan] { plans.values.flatMap(\.values) }

    /// The plan of `template` at `version`.
    public func plan(template: String, version: String?) -> Plan? {
        guard let version else { return newest[template] }
        return plans[template]?[version]
    }

    /// The template config with the customer's overlay merged over it.
    public func config(for plan: Plan, customer: String?) -> JSONValue {
        guard let customer, let overlay = overlays[plan.name]?[customer] else { return plan.template.config }
        return plan.template.config.merging(overlay)
    }
}

extension JSONValue {
    /// Deep merge: objects merge member by member, anything else in `overlay` replaces.
    public func merging(_ overlay: JSONValue) -> JSONValue {
        guard case .object(var base) = self, case .object(let top) = overlay else { return overlay }
        for (key, value) in top {
            base[key] = base[key].map { $0.merging(value) } ?? value
        }
        return .object(base)
    }
}
