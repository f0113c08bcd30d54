import StewardCore
import StewardDigest
import StewardJSON
import StewardTemplates

/// The exact texts an instance is pinned to: its template and the prompts it uses, stored by
/// content hash the first time an instance uses them.
public struct TemplateSnapshot: Sendable, Hashable {
    /// SHA-256 (hex) over the template text and each prompt's id and text (`TemplateSnapshot.hash`).
    public var hash: String
    /// Template name.
    public var name: String
    /// Template version.
    public var version: String
    /// The template's YAML text, as read.
    public var text: String
    /// The prompt texts it uses, by prompt id (`vertical/name@version`).
    public var prompts: [String: String]

    /// The content hash of a template text and the prompt texts it uses: SHA-256 in hex over
    /// a domain tag, the template text, and each prompt's id and text in id order.
    public static func hash(text: String, prompts: [String: String]) -> String {
        var message = Array("steward-template/1\u{0}".utf8)
        message.append(contentsOf: text.utf8)
        for (id, prompt) in prompts.sorted(by: { $0.key < $1.key }) {
            message.append(0)
            message.append(contentsOf: id.utf8)
            message.append(0)
            message.append(contentsOf: prompt.utf8)
        }
        return SHA256.hex(message)
    }

    /// The hash of the stored text a pin names: a fan-out branch's child is pinned to
    /// `<parent text hash>:<branch key>`, the branch written inside its parent's text.
    public static func storedHash(of pin: String) -> String {
        pin.firstIndex(of: ":").map { String(pin[..<$0]) } ?? pin
    }

    /// Creates a snapshot of `text` and `prompts`, hashing them.
    public init(name: String, version: String, text: String, prompts: [String: String]) {
        self.init(hash: Self.hash(text: text, prompts: prompts), name: name, version: version, text: text, prompts: prompts)
    }

    /// Creates a snapshot; `hash` must be `TemplateSnapshot.hash(text:prompts:)`.
    public init(hash: String, name: String, version: String, text: String, prompts: [String: String]) {
        self.hash = hash
        self.name = name
        self.version = version
        self.text = text
        self.prompts = prompts
    }
}

/// A review task a transition closes.
public struct TaskClosure: Sendable, Hashable {
    /// The checkpoint state.
    public var state: String
    /// approve / edit / reject.
    public var decision: Decision
    /// Who decided.
    public var reviewer: String

    /// Creates a closure.
    public init(state: String, decision: Decision, reviewer: String) {
        self.state = state
        self.decision = decision
        self.reviewer = reviewer
    }
}

/// What escalation does to the open task at a checkpoint.
public struct TaskEscalation: Sendable, Hashable {
    /// The checkpoint state.
    public var state: String
    /// The escalation level the task is at now.
    public var level: Int
    /// The credential it is reassigned to (nil: unchanged).
    public var assigned: String?

    /// Creates an escalation.
    public init(state: String, level: Int, assigned: String?) {
        self.state = state
        self.level = level
        self.assigned = assigned
    }
}

/// A notification to record for delivery.
public struct NewNotification: Sendable, Hashable {
    /// Who is told (a credential or a person).
    public var recipient: String
    /// What they are told.
    public var message: String
    /// The review task it is about, if any.
    public var task: Int64?

    /// Creates a notification.
    public init(recipient: String, message: String, task: Int64?) {
        self.recipient = recipient
        self.message = message
        self.task = task
    }
}

/// A stored notification.
public struct NotificationRecord: Sendable, Hashable {
    /// Who is told.
    public var recipient: String
    /// What they are told.
    public var message: String
    /// When, ms since 1970.
    public var at: Int64
    /// The instance it is about.
    public var instance: String?

    /// Creates a record.
    public init(recipient: String, message: String, at: Int64, instance: String?) {
        self.recipient = recipient
        self.message = message
        self.at = at
        self.instance = instance
    }
}

/// A reviewer's edit of an output, kept as labelled data for evaluation.
public struct LabelledExample: Sendable, Hashable {
    /// The checkpoint state.
    public var state: String
    /// The template.
    public var template: String
    /// The instance's input.
    public var input: JSONValue
    /// What the model (or step) produced.
    public var modelOutput: JSONValue
    /// What the reviewer replaced it with.
    public var humanOutput: JSONValue
    /// Who edited it.
    public var reviewer: String

    /// Creates an example.
    public init(state: String, template: String, input: JSONValue, modelOutput: JSONValue, humanOutput: JSONValue, reviewer: String) {
        self.state = state
        self.template = template
        self.input = input
        self.modelOutput = modelOutput
        self.humanOutput = humanOutput
        self.reviewer = reviewer
    }
}

/// A person (or service) who may act on the engine, with named credentials.
public struct Reviewer: Sendable, Hashable {
    /// Stable id, e.g. `rv-3f9a0c`.
    public var id: String
    /// Display name.
    public var name: String
    /// Credentials held, e.g. `support-agent`, `attorney`.
    public var credentials: [String]
    /// `reviewer` or `operator`.
    public var role: String
    /// When added, ms since 1970.
    public var createdAt: Int64

    /// Creates a reviewer record.
    public init(id: String, name: String, credentials: [String], role: String, createdAt: Int64) {
        self.id = id
        self.name = name
        self.credentials = credentials
        self.role = role
        self.createdAt = createdAt
    }

    /// Whether this reviewer holds `credential`.
    public func holds(_ credential: String) -> Bool { credentials.contains(credential) }

    /// The credential this reviewer may decide `task` with: its own, or the one escalation
    /// reassigned it to; nil when neither.
    public func credential(for task: ReviewTask) -> String? {
        if holds(task.credential) { return task.credential }
        if let assigned = task.assigned, holds(assigned) { return assigned }
        return nil
    }
}

/// A human checkpoint waiting for (or given) a decision.
public struct ReviewTask: Sendable, Hashable {
    /// Task id.
    public var id: Int64
    /// The instance.
    public var instanceID: String
    /// Template of the instance.
    public var template: String
    /// Customer of the instance.
    public var customer: String?
    /// The checkpoint state.
    public var state: String
    /// Credential required to decide.
    public var credential: String
    /// `open` or `decided`.
    public var status: String
    /// The data under review.
    public var subject: JSONValue
    /// Decisions allowed.
    public var decisions: [Decision]
    /// Opened, ms since 1970.
    public var openedAt: Int64
    /// SLA deadline, ms since 1970.
    public var dueAt: Int64?
    /// How many escalation rungs it climbed.
    public var escalationLevel: Int
    /// The credential it was reassigned to by escalation, if any (its own credential still counts).
    public var assigned: String?
    /// Decided, ms since 1970.
    public var decidedAt: Int64?
    /// approve / edit / reject.
    public var decision: String?
    /// Who decided.
    public var reviewer: String?

    /// Creates a task record.
    public init(
        id: Int64, instanceID: String, template: String, customer: String?, state: String, credential: String, status: String,
        subject: JSONValue, decisions: [Decision], openedAt: Int64, dueAt: Int64?, escalationLevel: Int, assigned: String?,
        decidedAt: Int64?, decision: String?, reviewer: String?
    ) {
        self.id = id
        self.instanceID = instanceID
        self.template = template
        self.customer = customer
        self.state = state
        self.credential = credential
        self.status = status
        self.subject = subject
        self.decisions = decisions
        self.openedAt = openedAt
        self.dueAt = dueAt
        self.escalationLevel = escalationLevel
        self.assigned = assigned
        self.decidedAt = decidedAt
        self.decision = decision
        self.reviewer = reviewer
    }
}

/// A reviewer's hold on an open review task: while it lasts, only they may decide the task.
/// What a claim means (who may take one, when it has lapsed) is the review desk's business; a
/// store only keeps the newest claim of each task.
public struct ReviewClaim: Sendable, Hashable {
    /// The task held.
    public var task: Int64
    /// The reviewer's id.
    public var reviewer: String
    /// When it was taken (or last renewed), ms since 1970.
    public var claimedAt: Int64
    /// When it lapses, ms since 1970.
    public var until: Int64

    /// Creates a claim record.
    public init(task: Int64, reviewer: String, claimedAt: Int64, until: Int64) {
        self.task = task
        self.reviewer = reviewer
        self.claimedAt = claimedAt
        self.until = until
    }

    /// Whether the claim still holds at `now` (it lapses at `until`).
    public func holds(at now: Int64) -> Bool { now < until }
}

/// A row of the instance list.
public struct InstanceSummary: Sendable, Hashable {
    /// Instance id.
    public var id: String
    /// Template name.
    public var template: String
    /// Template version.
    public var version: String
    /// Customer.
    public var customer: String?
    /// Status.
    public var status: InstanceStatus
    /// Current state.
    public var current: String
    /// Events applied.
    public var sequence: Int
    /// Created, ms since 1970.
    public var createdAt: Int64
    /// Last change, ms since 1970.
    public var updatedAt: Int64

    /// Creates a summary.
    public init(
        id: String, template: String, version: String, customer: String?, status: InstanceStatus, current: String, sequence: Int,
        createdAt: Int64, updatedAt: Int64
    ) {
        self.id = id
        self.template = template
        self.version = version
        self.customer = customer
        self.status = status
        self.current = current
        self.sequence = sequence
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One entry of the journal.
public struct JournalEntry: Sendable, Hashable {
    /// Position in the global journal.
    public var id: Int64
    /// Instance id, for instance events.
    public var instance: String?
    /// The instance's event number (1-based), for instance events.
    public var sequence: Int?
    /// Event or audit kind (`started`, `step_succeeded`, `decision_refused`, ...).
    public var kind: String
    /// When, ms since 1970.
    public var at: Int64
    /// Who: `engine` or a reviewer id.
    public var actor: String
    /// The payload.
    public var payload: JSONValue

    /// Creates an entry.
    public init(id: Int64, instance: String?, sequence: Int?, kind: String, at: Int64, actor: String, payload: JSONValue) {
        self.id = id
        self.instance = instance
        self.sequence = sequence
        self.kind = kind
        self.at = at
        self.actor = actor
        self.payload = payload
    }
}

/// What checking the journal's hash chain found.
public struct JournalVerification: Sendable {
    /// Rows checked.
    public var rowsChecked: Int
    /// Problems, one line each (empty when the chain is intact).
    public var problems: [String]

    /// Creates a verification result.
    public init(rowsChecked: Int, problems: [String]) {
        self.rowsChecked = rowsChecked
        self.problems = problems
    }
}

/// The end of the journal's hash chain with the sizes of the tables that grant or record
/// authority: what a signed audit head states.
public struct JournalHead: Sendable, Hashable {
    /// The newest journal row's id (0 for an empty journal).
    public var lastID: Int64
    /// That row's chain hash, lower-case hex (64 zeros for an empty journal).
    public var lastHash: String
    /// Journal rows.
    public var rows: Int
    /// Reviewers (people and operators holding a token).
    public var reviewers: Int
    /// Review tasks, open and decided.
    public var tasks: Int

    /// Creates a head.
    public init(lastID: Int64, lastHash: String, rows: Int, reviewers: Int, tasks: Int) {
        self.lastID = lastID
        self.lastHash = lastHash
        self.rows = rows
        self.reviewers = reviewers
        self.tasks = tasks
    }
}

/// A durable timer that is due.
public struct DueTimer: Sendable, Hashable {
    /// Timer id.
    public var id: Int64
    /// `sla_warning` or `sla_breach`.
    public var kind: String
    /// When it was due, ms since 1970.
    public var dueAt: Int64
    /// What was stored with it.
    public var payload: JSONValue
    /// The instance.
    public var instanceID: String
    /// The state it belongs to.
    public var state: String
    /// The review task it belongs to, if any.
    public var task: Int64?

    /// Creates a due timer.
    public init(id: Int64, kind: String, dueAt: Int64, payload: JSONValue, instanceID: String, state: String, task: Int64?) {
        self.id = id
        self.kind = kind
        self.dueAt = dueAt
        self.payload = payload
        self.instanceID = instanceID
        self.state = state
        self.task = task
    }
}

/// Open review tasks per credential, and how many of them are past their SLA deadline.
public struct QueueDepth: Sendable, Hashable {
    /// The credential the tasks need.
    public var credential: String
    /// Open tasks.
    public var open: Int
    /// Open tasks whose deadline is before now.
    public var overdue: Int

    /// Creates a queue depth.
    public init(credential: String, open: Int, overdue: Int) {
        self.credential = credential
        self.open = open
        self.overdue = overdue
    }
}
