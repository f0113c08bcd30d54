import StewardCore
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
    /// On an instance's first commit: the template text (and prompt texts) it is pinned to,
    /// stored by its hash the first time any instance uses it.
    public var pinnedTemplate: TemplateSnapshot?
    /// The review task this transition closes (a decision at its checkpoint).
    public var closedTask: TaskClosure?
    /// The open review task that ends without a decision: the instance moved to another
    /// template version (`moved`) or was cancelled (`cancelled`).
    public var withdrawnTask: TaskWithdrawal?
    /// Timers of no review task (a `wait` state's, an event state's timeout), each with its state.
    public var timers: [ScheduledTimer] = []
    /// The event the instance now waits for (found by its correlation key); the store forgets
    /// it when the instance leaves the state (`cancelTimersOf`).
    public var eventWait: EventWait?
    /// The state whose pending timers are cancelled because the instance left it.
    public var cancelTimersOf: String?
    /// A labelled example to keep (a reviewer's edit of a model's output).
    public var labelledExample: LabelledExample?
    /// The durable timer whose firing this transition applies: the store marks it fired, and
    /// refuses the commit (`StoreConflict`) when it already fired or was cancelled.
    public var firedTimer: Int64?
    /// The open task at a checkpoint that escalation reassigns or climbs.
    public var escalation: TaskEscalation?
    /// Notifications to record for delivery (escalation ladders).
    public var notifications: [NewNotification] = []
    /// The SHA-256 of the plugin binary whose call this transition applies (a step's or model's
    /// result): written with the event in the journal, so an audit names the code that produced it.
    public var servedBy: String?
    /// Audit items to record: sampled checkpoints the transition passed unreviewed (the
    /// store assigns their ids; a second item for the same instance, checkpoint and visit is
    /// a `StoreConflict`).
    public var auditSamples: [AuditRequest] = []

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

/// A durable timer to set: when due it is committed as a `timerFired` event and applied by
/// the transition function, exactly once, even if the engine was down then (it fires on start).
public struct ScheduledTimer: Sendable, Hashable {
    /// `sla_warning` or `sla_breach`.
    public var kind: String
    /// When, ms since 1970.
    public var at: Int64
    /// What the firing needs to know (priority, deadline, ...).
    public var payload: JSONValue
    /// The state it belongs to (nil: the checkpoint the commit opens); leaving the state cancels it.
    public var state: String?

    /// Creates a timer.
    public init(kind: String, at: Int64, payload: JSONValue, state: String? = nil) {
        self.kind = kind
        self.at = at
        self.payload = payload
        self.state = state
    }
}

/// An open review task that ends without a decision.
public struct TaskWithdrawal: Sendable, Hashable {
    /// The checkpoint state.
    public var state: String
    /// The task's final status: `moved` or `cancelled`.
    public var status: String

    /// Creates a withdrawal.
    public init(state: String, status: String) {
        self.state = state
        self.status = status
    }
}

/// Decides a review task's deadline and timers when a checkpoint opens (the SLA clock).
/// Injected into the engine so the runtime knows nothing of calendars.
public protocol CheckpointScheduler: Sendable {
    /// The schedule for `request`, opened at `now` for the instance `state` of `plan`.
    func schedule(_ request: CheckpointRequest, state: InstanceState, plan: Plan, config: JSONValue, now: Int64) -> CheckpointSchedule?
    /// When `milliseconds` of the customer's business time have passed after `now` (nil: the
    /// calendar never opens again, or this scheduler knows no calendars).
    func businessTime(adding milliseconds: Int64, to now: Int64, customer: String?) -> Int64?
    /// The IANA time zone (e.g. `America/New_York`) of the customer's business calendar, in
    /// which people read that customer's deadlines; nil when this scheduler knows no calendars.
    func timeZoneID(customer: String?) -> String?
}

extension CheckpointScheduler {
    /// No calendars by default.
    public func businessTime(adding milliseconds: Int64, to now: Int64, customer: String?) -> Int64? { nil }
    /// No calendars by default.
    public func timeZoneID(customer: String?) -> String? { nil }
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

/// Durable storage of instances as far as the engine needs it. The SQLite and PostgreSQL
/// stores implement it; the engine knows nothing else about them.
///
/// Contract: `commit` returns only once the commit is durable, and applies it only if the
/// stored sequence is `state.sequence - 1` (0 for a new instance); otherwise it throws
/// `StoreConflict` and changes nothing. That check is what makes transitions exactly-once.
/// Everything a commit carries (the event, the snapshot, the task it opens or closes, timers
/// set, fired or cancelled, notifications, labelled examples, audit items, pinned texts) is written in one
/// transaction or not at all; the store decides nothing about what to write.
public protocol InstanceStore: ContentStore {
    /// Makes one transition durable (implementations batch concurrent commits).
    /// - Throws: `StoreConflict` when the sequence check fails, the client key is taken, or
    ///   the fired timer is no longer pending; any other error when the store is unreachable
    ///   (nothing is written then either).
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
}

