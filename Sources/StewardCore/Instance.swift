import StewardJSON
import StewardTemplates

/// Where an instance is in its life.
public enum InstanceStatus: String, Sendable, Codable, Hashable {
    /// Created, `started` not yet applied.
    case pending
    /// Running a step (or about to).
    case running
    /// Waiting at a checkpoint for a human.
    case waiting
    /// Reached an `end` state with outcome `completed`.
    case completed
    /// Reached an `end` state with outcome `rejected`.
    case rejected
    /// Failed: a step failed for good, or an `end` state with outcome `failed`. An operator may
    /// retry a failed step (`retried`); nothing else happens to it.
    case failed
    /// Cancelled by an operator: nothing more happens to it.
    case cancelled

    /// Whether nothing more happens to the instance by itself (a failed one may be retried).
    public var isFinal: Bool { self == .completed || self == .rejected || self == .failed || self == .cancelled }
}

/// The class of a failure, as stored in events and shown to people (`transient`,
/// `permanent`, `invalid_output`, ...). Extensible: a stored kind this build does not know
/// still decodes, and only `transient` is retried.
public struct FailureKind: RawRepresentable, Sendable, Codable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The snake-case name.
    public let rawValue: String

    /// A kind by its stored name.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// A kind written as a literal (`"transient"`).
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The name.
    public var description: String { rawValue }

    /// A passing failure: the attempt is retried with backoff while attempts remain.
    public static let transient: FailureKind = "transient"
    /// Failed for good.
    public static let permanent: FailureKind = "permanent"
    /// The step refused its input; retrying cannot help.
    public static let invalidInput: FailureKind = "invalid_input"
    /// The step answered with something that is not valid UTF-8 JSON (or nothing).
    public static let invalidOutput: FailureKind = "invalid_output"
    /// A bug in the step, or an unknown status code.
    public static let `internal`: FailureKind = "internal"
    /// No loaded plugin provides the step.
    public static let unknownStep: FailureKind = "unknown_step"
    /// No loaded plugin provides the adapter.
    public static let unknownAdapter: FailureKind = "unknown_adapter"
    /// A model state's role has no adapter binding.
    public static let unboundRole: FailureKind = "unbound_role"
    /// No guard of a choice held and it has no `otherwise`.
    public static let noBranch: FailureKind = "no_branch"
    /// The call crashed the engine process (segfault, abort, `_exit`) as many times as the
    /// engine allows (the poison-pill guard); it is not run again.
    public static let crashed: FailureKind = "crashed"
    /// The instance reached an `end` state with outcome `failed`.
    public static let endFailed: FailureKind = "end_failed"
    /// A choice guard could not be evaluated (a type mismatch, a missing value): the instance
    /// fails at the choice rather than be routed on a guess.
    public static let guardError: FailureKind = "guard_error"

    /// A branch of a `map` or `parallel` state failed and its failure policy is `fail_fast`.
    public static let branchFailed: FailureKind = "branch_failed"

    /// Whether the runtime retries a failure of this kind.
    public var isRetried: Bool { self == .transient }
}

/// Why an instance (or a step) failed.
public struct Failure: Sendable, Codable, Hashable {
    /// The state where it happened.
    public var state: String
    /// The failure class.
    public var kind: FailureKind
    /// A message for people.
    public var message: String

    /// Creates a failure.
    public init(state: String, kind: FailureKind, message: String) {
        self.state = state
        self.kind = kind
        self.message = message
    }
}

/// The current state of one workflow instance: a projection of its events.
public struct InstanceState: Sendable, Codable, Hashable {
    /// Unique id.
    public var id: String
    /// Template name it runs.
    public var template: String
    /// Template version it is pinned to.
    public var templateVersion: String
    /// Customer it runs for, if any.
    public var customer: String?
    /// Life-cycle status.
    public var status: InstanceStatus
    /// Name of the current state.
    public var current: String
    /// Attempt number of the current step (1-based).
    public var attempt: Int
    /// The instance data: `input`, step outputs by name, `reviews`, `errors`.
    public var data: JSONValue
    /// The final output, once finished.
    public var output: JSONValue?
    /// Why it failed, if it did.
    public var failure: Failure?
    /// How many events have been applied.
    public var sequence: Int
    /// Model role bindings (`classifier` -> `banking-intent@2.0.0`) pinned when the instance started.
    public var bindings: [String: String]
    /// When it started, ms since 1970 (the SLA clock's start), from the `started` event.
    public var startedAt: Int64?
    /// The content hash of the effective config (template config with the customer's overlay)
    /// the instance started with; it runs and replays with that config, whatever changes later.
    public var configHash: String?
    /// The content hash of the template text (with the prompt texts it uses) the instance
    /// started with; it replays and recovers with that text, whatever the file says later.
    public var templateHash: String?
    /// The `sequence` of the event that entered the current state: what tells one visit of
    /// a state from the next (a loop), so `callKey` is stable across retries of one visit.
    public var enteredAt: Int
    /// For the checkpoint the instance waits at: the credential escalation reassigned it to
    /// and how many escalation rungs fired (reset when the instance enters another state).
    public var escalation: Escalation?
    /// For a child instance of a fan-out: the parent branch it is (from its `started` event).
    public var parent: BranchLink?
    /// While the instance waits at a `map` or `parallel` state: its branches' progress.
    public var fanOut: FanOutProgress?
    /// Events sent before the instance waited for them, kept (in arrival order) for the event
    /// state that declares `buffer: true`; entering it consumes the first.
    public var buffered: [EventDelivery] = []

    /// A new instance, before its `started` event.
    public init(id: String, template: String, templateVersion: String, customer: String?) {
        self.id = id
        self.template = template
        self.templateVersion = templateVersion
        self.customer = customer
        self.status = .pending
        self.current = ""
        self.attempt = 0
        self.data = .emptyObject
        self.output = nil
        self.failure = nil
        self.sequence = 0
        self.bindings = [:]
        self.startedAt = nil
        self.configHash = nil
        self.templateHash = nil
        self.enteredAt = 0
        self.escalation = nil
        self.parent = nil
        self.fanOut = nil
    }

    /// The idempotency key of the current step attempt: `<id>/<state>/<attempt>` (ABI 1.0's
    /// meaning; it changes with every retry).
    public var idempotencyKey: String { "\(id)/\(current)/\(attempt)" }

    /// The key of the current logical step call: `<id>/<state>/<entered>`, the same for every
    /// attempt of one visit of the state (so a side-effecting step can dedupe across retries
    /// and restarts) and different for the next visit.
    public var callKey: String { "\(id)/\(current)/\(enteredAt)" }
}

/// Where escalation left the checkpoint an instance waits at.
public struct Escalation: Sendable, Codable, Hashable {
    /// How many rungs fired (warning and breach each climb the template's ladder).
    public var level: Int
    /// The credential the task was reassigned to, if a rung reassigned it.
    public var assigned: String?
    /// Which SLA timers fired (`sla_warning`, `sla_breach`), in order.
    public var fired: [String]

    /// Creates an escalation record.
    public init(level: Int, assigned: String?, fired: [String]) {
        self.level = level
        self.assigned = assigned
        self.fired = fired
    }
}

/// Something that happened to an instance. The event log is the source of truth; the
/// state is what the transition function makes of it.
public enum Event: Sendable, Codable, Hashable {
    /// The instance was submitted with this input; `bindings` pins its model adapters.
    /// `templateHash` pins the exact template text it runs.
    /// `parent` links a fan-out's child instance to its branch.
    case started(
        input: JSONValue, bindings: [String: String] = [:], at: Int64? = nil, configHash: String? = nil, templateHash: String? = nil,
        parent: BranchLink? = nil)
    /// A step attempt returned this output.
    case stepSucceeded(state: String, attempt: Int, output: JSONValue)
    /// A step attempt failed.
    case stepFailed(state: String, attempt: Int, kind: FailureKind, message: String)
    /// A reviewer decided a checkpoint.
    case checkpointDecided(CheckpointDecision)
    /// A durable timer fell due (time is an event: SLA warnings and breaches, and later waits).
    case timerFired(TimerFired)
    /// An operator moved the waiting instance: to another template version at a mapped state,
    /// and/or onto other model bindings (a migration's move or rollback). Applied under the
    /// plan of the version it moves to.
    case moved(InstanceMove)
    /// An operator cancelled the instance, saying why: it ends `cancelled`, its open review
    /// task and pending timers close, and nothing it owed is called.
    case cancelled(reason: String, by: String)
    /// An operator retried a failed instance: the step it failed at runs again (attempt 1),
    /// under the same pinned template, config and bindings.
    case retried(by: String)
    /// A named event from outside reached the instance waiting for it at an `event` state.
    case eventReceived(EventDelivery)
    /// A child instance of the fan-out the instance waits at ended.
    case branchFinished(BranchFinished)

    /// A short name for logs and the store (`started`, `step_succeeded`, ...).
    public var name: String {
        switch self {
        case .started: return "started"
        case .stepSucceeded: return "step_succeeded"
        case .stepFailed: return "step_failed"
        case .checkpointDecided: return "checkpoint_decided"
        case .timerFired: return "timer_fired"
        case .moved: return "moved"
        case .cancelled: return "cancelled"
        case .retried: return "retried"
        case .eventReceived: return "event_received"
        case .branchFinished: return "branch_finished"
        }
    }
}

/// A reviewer's decision at a checkpoint.
public struct CheckpointDecision: Sendable, Codable, Hashable {
    /// The checkpoint state.
    public var state: String
    /// approve, edit or reject.
    public var decision: Decision
    /// The replacement output for `edit`.
    public var output: JSONValue?
    /// Why, required for `reject`.
    public var reason: String?
    /// Who decided.
    public var reviewer: String
    /// The credential they decided with.
    public var credential: String

    /// Creates a decision.
    public init(state: String, decision: Decision, output: JSONValue? = nil, reason: String? = nil, reviewer: String, credential: String) {
        self.state = state
        self.decision = decision
        self.output = output
        self.reason = reason
        self.reviewer = reviewer
        self.credential = credential
    }
}

/// A move of a waiting instance by a migration: to the state `to` of template version
/// `templateVersion` (pinned to `templateHash` and `configHash`), with `bindings` replacing the
/// roles it names. With the same version and state it only re-binds (the open review stays).
public struct InstanceMove: Sendable, Codable, Hashable {
    /// The migration that moved it.
    public var migration: String
    /// The state it waited at.
    public var from: String
    /// The template version it ran before.
    public var fromVersion: String
    /// The state it goes to (in the plan of `templateVersion`).
    public var to: String
    /// The template version it runs from now on.
    public var templateVersion: String
    /// The template text it is pinned to from now on (nil: pinned by version only).
    public var templateHash: String?
    /// The config it is pinned to from now on (nil: unchanged).
    public var configHash: String?
    /// Roles bound anew (`classifier` -> `banking-intent@1.0.0`); other roles keep theirs.
    public var bindings: [String: String]
    /// Who asked for the move.
    public var by: String

    /// Creates a move.
    public init(
        migration: String, from: String, fromVersion: String, to: String, templateVersion: String, templateHash: String?, configHash: String?,
        bindings: [String: String] = [:], by: String
    ) {
        self.migration = migration
        self.from = from
        self.fromVersion = fromVersion
        self.to = to
        self.templateVersion = templateVersion
        self.templateHash = templateHash
        self.configHash = configHash
        self.bindings = bindings
        self.by = by
    }

    /// Whether the move changes the template (and so re-enters the instance at `to`), rather
    /// than only its bindings.
    public func changesTemplate(of state: InstanceState) -> Bool {
        templateVersion != state.templateVersion || templateHash != state.templateHash || to != from
    }
}

/// A durable timer's firing, as the transition function sees it.
public struct TimerFired: Sendable, Codable, Hashable {
    /// The timer's id in the store (what makes the firing exactly-once).
    public var timer: Int64
    /// What kind of timer: `sla_warning` or `sla_breach`.
    public var kind: String
    /// The state the timer belongs to; it applies only while the instance is there.
    public var state: String
    /// When it was due, ms since 1970.
    public var dueAt: Int64
    /// What was stored with it (priority, deadline, ...).
    public var payload: JSONValue

    /// Creates a firing.
    public init(timer: Int64, kind: String, state: String, dueAt: Int64, payload: JSONValue) {
        self.timer = timer
        self.kind = kind
        self.state = state
        self.dueAt = dueAt
        self.payload = payload
    }

    /// The SLA warning timer's kind.
    public static let slaWarning = "sla_warning"
    /// The SLA breach timer's kind.
    public static let slaBreach = "sla_breach"
    /// The timer of a `wait` state.
    public static let wait = "wait"
    /// The timeout timer of an `event` state.
    public static let eventTimeout = "event_timeout"
}

/// What a step state calls.
public enum Callee: Sendable, Hashable {
    /// A plugin step, by its full name (`plugin.step`).
    case step(String)
    /// A model adapter (`id@version`, as the role was bound when the instance started), for `role`.
    case model(adapter: String, role: String)
    /// A plain C function of a shared library, by the `ffi` state's function key.
    case foreign(String)

    /// A name for people, logs and metrics: the step name, `model:<id@version>`, `ffi:<key>`.
    public var name: String {
        switch self {
        case .step(let name): return name
        case .model(let adapter, _): return "model:" + adapter
        case .foreign(let key): return key.hasPrefix("ffi:") ? key : "ffi:" + key
        }
    }
}

/// A step call the executor must perform.
public struct StepInvocation: Sendable, Hashable {
    /// The state that calls it.
    public var state: String
    /// What it calls.
    public var callee: Callee
    /// The callee's name (`Callee.name`).
    public var step: String { callee.name }
    /// The input built from the instance data.
    public var input: JSONValue
    /// The step's config.
    public var config: JSONValue
    /// Attempt number, from 1.
    public var attempt: Int
    /// `<instance>/<state>/<attempt>`.
    public var idempotencyKey: String
    /// `<instance>/<state>/<entered>`: the same for every attempt of this logical call.
    public var callKey: String
    /// Wait this long before calling (retry backoff), in milliseconds.
    public var delayMilliseconds: Int
    /// Fail the attempt as transient when the call takes longer (nil: no limit).
    public var timeoutMilliseconds: Int?
    /// The largest output the call may return, in bytes (the state's `max_output_bytes`; nil:
    /// only the host's global limit). The host refuses to allocate or read more.
    public var maxOutputBytes: Int?

    /// Creates an invocation.
    public init(
        state: String, callee: Callee, input: JSONValue, config: JSONValue, attempt: Int, idempotencyKey: String, callKey: String,
        delayMilliseconds: Int, timeoutMilliseconds: Int?, maxOutputBytes: Int? = nil
    ) {
        self.maxOutputBytes = maxOutputBytes
        self.state = state
        self.callee = callee
        self.input = input
        self.config = config
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.callKey = callKey
        self.delayMilliseconds = delayMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
    }
}

/// A review task the executor must open.
public struct CheckpointRequest: Sendable, Hashable {
    /// The checkpoint state.
    public var state: String
    /// The credential needed to decide.
    public var credential: String
    /// The data under review.
    public var subject: JSONValue
    /// The decisions allowed.
    public var decisions: [Decision]

    /// Creates a request.
    public init(state: String, credential: String, subject: JSONValue, decisions: [Decision]) {
        self.state = state
        self.credential = credential
        self.subject = subject
        self.decisions = decisions
    }
}

/// What the executor must do after a transition. The transition function does no I/O.
public enum Effect: Sendable, Hashable {
    /// Call a step.
    case runStep(StepInvocation)
    /// Open a review task and wait.
    case openCheckpoint(CheckpointRequest)
    /// The instance finished.
    case finish(status: InstanceStatus, output: JSONValue?)
    /// An SLA timer climbed the template's escalation ladder at a waiting checkpoint:
    /// notify these people and, when set, reassign the task.
    case escalate(EscalationStep)
    /// The instance passed a sampled checkpoint without a person and was picked for a later
    /// audit: record the audit item in the same commit. The instance does not wait for it.
    case sampleForAudit(AuditRequest)
    /// The instance entered a `wait` state: set its durable timer in the same commit (the
    /// engine turns a duration into a due time with its clock and the customer's calendar).
    case startWait(WaitRequest)
    /// The instance waits at an `event` state: record what it waits for (and its correlation
    /// key) in the same commit, so senders who know only the key find it.
    case awaitEvent(EventWait)
    /// Start these child instances of a fan-out (each unless it exists) and drive them.
    case startBranches([BranchStart])
    /// Cancel these child instances (the fan-out failed fast, or the parent was cancelled).
    case cancelBranches([String], reason: String)
}

/// What an instance at an `event` state waits for.
public struct EventWait: Sendable, Hashable {
    /// The event state.
    public var state: String
    /// The event's name.
    public var event: String
    /// The instance's correlation key (the `correlate` path's value as text), if the state has one.
    public var key: String?

    /// Creates a wait.
    public init(state: String, event: String, key: String?) {
        self.state = state
        self.event = event
        self.key = key
    }
}

/// An event delivered to a waiting instance.
public struct EventDelivery: Sendable, Codable, Hashable {
    /// The event's name.
    public var name: String
    /// What the sender sent.
    public var payload: JSONValue
    /// The correlation key the sender addressed (nil: addressed by instance id).
    public var key: String?
    /// The sender's idempotency key: a second delivery with it is answered with the first.
    public var idempotencyKey: String?
    /// Who sent it.
    public var by: String

    /// Creates a delivery.
    public init(name: String, payload: JSONValue, key: String? = nil, idempotencyKey: String? = nil, by: String) {
        self.name = name
        self.payload = payload
        self.key = key
        self.idempotencyKey = idempotencyKey
        self.by = by
    }
}

/// The timer a `wait` state needs.
public struct WaitRequest: Sendable, Hashable {
    /// The wait state.
    public var state: String
    /// How long, in milliseconds (nil: until `until`).
    public var duration: Int64?
    /// The instant to wait until, ms since 1970 (nil: for `duration`).
    public var until: Int64?
    /// Whether `duration` counts business time in the customer's calendar.
    public var business: Bool
    /// The timer's kind: `wait`, or `event_timeout` for an event state's timeout.
    public var kind: String

    /// Creates a request.
    public init(state: String, duration: Int64?, until: Int64?, business: Bool, kind: String = TimerFired.wait) {
        self.state = state
        self.duration = duration
        self.until = until
        self.business = business
        self.kind = kind
    }
}

/// An audit item for the executor to record: what an instance held, at the paths a
/// checkpoint's `sample` rule judges, when it passed the checkpoint unreviewed.
public struct AuditRequest: Sendable, Hashable {
    /// The checkpoint state.
    public var state: String
    /// The `sequence` of the event that entered the checkpoint (`InstanceState.enteredAt`):
    /// what tells one visit of the checkpoint from the next.
    public var visit: Int
    /// The credential an auditor needs.
    public var credential: String
    /// The judged paths with the values the instance had there (null when absent), in the
    /// rule's order.
    public var items: [AuditedValue]
    /// How many independent reviews the item needs: 1, or 2 when picked for double review.
    public var neededReviews: Int
    /// The sampling rate in force (the template's, or the customer's override).
    public var rate: Double
    /// The instance's model role bindings (`classifier` -> `banking-intent@2.0.0`).
    public var bindings: [String: String]
    /// The instance's submitted input (what a labelled example is built from).
    public var input: JSONValue

    /// Creates a request.
    public init(
        state: String, visit: Int, credential: String, items: [AuditedValue], neededReviews: Int, rate: Double,
        bindings: [String: String], input: JSONValue
    ) {
        self.state = state
        self.visit = visit
        self.credential = credential
        self.items = items
        self.neededReviews = neededReviews
        self.rate = rate
        self.bindings = bindings
        self.input = input
    }
}

/// One judged path of an audit item and the value the instance had there.
public struct AuditedValue: Sendable, Hashable, Codable {
    /// The dotted instance-data path (`classification.label`).
    public var path: String
    /// Its value when the checkpoint was passed.
    public var value: JSONValue

    /// Creates a value.
    public init(path: String, value: JSONValue) {
        self.path = path
        self.value = value
    }
}

/// One climb of the escalation ladder, for the executor to record (notifications, task
/// reassignment) in the same commit as the timer's event.
public struct EscalationStep: Sendable, Hashable {
    /// The checkpoint state.
    public var state: String
    /// `sla_warning` or `sla_breach`.
    public var trigger: String
    /// Who is told.
    public var notify: [String]
    /// The credential the task moves to, if any.
    public var reassign: String?
    /// The escalation level after this step.
    public var level: Int

    /// Creates an escalation step.
    public init(state: String, trigger: String, notify: [String], reassign: String?, level: Int) {
        self.state = state
        self.trigger = trigger
        self.notify = notify
        self.reassign = reassign
        self.level = level
    }
}

/// One move from state to state, for people and the audit trail.
public struct Move: Sendable, Hashable, Codable {
    /// Where from (nil for the start).
    public var from: String?
    /// Where to.
    public var to: String
    /// Why, e.g. "step succeeded", "guard classification.priority == 'P1'".
    public var reason: String

    /// Creates a move.
    public init(from: String?, to: String, reason: String) {
        self.from = from
        self.to = to
        self.reason = reason
    }
}
