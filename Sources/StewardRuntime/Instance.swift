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
    /// Failed: a step failed for good, or an `end` state with outcome `failed`.
    case failed

    /// Whether nothing more can happen to the instance.
    public var isFinal: Bool { self == .completed || self == .rejected || self == .failed }
}

/// Why an instance (or a step) failed.
public struct Failure: Sendable, Codable, Hashable {
    /// The state where it happened.
    public var state: String
    /// The failure class (`transient`, `permanent`, `invalid_output`, ...).
    public var kind: String
    /// A message for people.
    public var message: String

    /// Creates a failure.
    public init(state: String, kind: String, message: String) {
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
    }

    /// The idempotency key of the current step attempt: `<id>/<state>/<attempt>`.
    public var idempotencyKey: String { "\(id)/\(current)/\(attempt)" }
}

/// Something that happened to an instance. The event log is the source of truth; the
/// state is what the transition function makes of it.
public enum Event: Sendable, Codable, Hashable {
    /// The instance was submitted with this input; `bindings` pins its model adapters.
    case started(input: JSONValue, bindings: [String: String] = [:], at: Int64? = nil, configHash: String? = nil)
    /// A step attempt returned this output.
    case stepSucceeded(state: String, attempt: Int, output: JSONValue)
    /// A step attempt failed.
    case stepFailed(state: String, attempt: Int, kind: String, message: String)
    /// A reviewer decided a checkpoint.
    case checkpointDecided(CheckpointDecision)

    /// A short name for logs and the store (`started`, `step_succeeded`, ...).
    public var name: String {
        switch self {
        case .started: return "started"
        case .stepSucceeded: return "step_succeeded"
        case .stepFailed: return "step_failed"
        case .checkpointDecided: return "checkpoint_decided"
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

/// A step call the executor must perform.
public struct StepInvocation: Sendable, Hashable {
    /// The state that calls it.
    public var state: String
    /// Full step name.
    public var step: String
    /// The input built from the instance data.
    public var input: JSONValue
    /// The step's config.
    public var config: JSONValue
    /// Attempt number, from 1.
    public var attempt: Int
    /// `<instance>/<state>/<attempt>`.
    public var idempotencyKey: String
    /// Wait this long before calling (retry backoff), in milliseconds.
    public var delayMilliseconds: Int
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
}

/// What the executor must do after a transition. The transition function does no I/O.
public enum Effect: Sendable, Hashable {
    /// Call a step.
    case runStep(StepInvocation)
    /// Open a review task and wait.
    case openCheckpoint(CheckpointRequest)
    /// The instance finished.
    case finish(status: InstanceStatus, output: JSONValue?)
}

/// One move from state to state, for people and the audit trail.
public struct Move: Sendable, Hashable, Codable {
    /// Where from (nil for the start).
    public var from: String?
    /// Where to.
    public var to: String
    /// Why, e.g. "step succeeded", "guard classification.priority == 'P1'".
    public var reason: String
}
