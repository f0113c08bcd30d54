import StewardJSON

/// Eval runs (stored immutably), the schedules that make them due, and the release blocks a
/// failed gate raises.
///
/// Contract: a stored run is never changed or removed (a backend refuses updates and deletes
/// of its rows); `commitEvalRun` stores the run, advances its schedule, raises the block and
/// records the notifications in one transaction, and journals an `eval_run` audit entry with
/// them; a schedule's due time yields at most one stored run, across processes and restarts.
public protocol EvalStore: Sendable {
    /// Stores a finished run with what follows from it. Returns the run's id, or nil when
    /// `commit.due` names a due time that already has a run (nothing is written then).
    func commitEvalRun(_ commit: EvalRunCommit) async throws -> Int64?
    /// One run with its cases.
    func evalRun(id: Int64) async throws -> EvalRunRecord?
    /// Runs without their cases, newest first, optionally of one template and (when
    /// `customer` is given) one customer (`""` for runs with no customer).
    func evalRuns(template: String?, customer: String?, limit: Int) async throws -> [EvalRunRecord]
    /// Every schedule.
    func evalSchedules() async throws -> [EvalSchedule]
    /// Creates or updates the schedule of `schedule.template` and `schedule.customer`. An
    /// existing schedule with the same cadence keeps its due time (a restart does not move
    /// it); a changed cadence takes `schedule.nextDue`.
    func setEvalSchedule(_ schedule: EvalSchedule) async throws
    /// Removes the schedule of a template and customer (its cadence was removed).
    func removeEvalSchedule(template: String, customer: String?) async throws
    /// Release blocks, newest first, optionally of one template; cleared ones only when asked.
    func releaseBlocks(template: String?, includeCleared: Bool) async throws -> [ReleaseBlock]
    /// Clears a block (audited as `release_unblocked` by `actor`). False when there is no
    /// such open block.
    func clearReleaseBlock(id: Int64, by actor: String, at: Int64) async throws -> Bool
}

/// A stored eval run. `summary` is the run without its cases (what lists and trends read);
/// `body` is everything, cases included (nil in lists).
public struct EvalRunRecord: Sendable, Hashable {
    /// The store's id (0 before it is stored).
    public var id: Int64
    /// The template evaluated.
    public var template: String
    /// Its version.
    public var templateVersion: String
    /// The content hash of its text with its prompts.
    public var templateHash: String
    /// The customer whose config, bindings and gates were used (nil: the template's own).
    public var customer: String?
    /// The dataset as named (a path relative to the workspace).
    public var dataset: String
    /// SHA-256 (hex) of the dataset's bytes.
    public var datasetHash: String
    /// Whether every counted gate passed.
    public var passed: Bool
    /// When it finished, ms since 1970.
    public var createdAt: Int64
    /// What started it: `cli`, `api`, `schedule`, `migration`.
    public var trigger: String
    /// The run without cases (metrics, bindings, hashes, counts).
    public var summary: JSONValue
    /// The whole run, cases included (nil when listed).
    public var body: JSONValue?

    /// Creates a record.
    public init(
        id: Int64 = 0, template: String, templateVersion: String, templateHash: String, customer: String?, dataset: String, datasetHash: String,
        passed: Bool, createdAt: Int64, trigger: String, summary: JSONValue, body: JSONValue?
    ) {
        self.id = id
        self.template = template
        self.templateVersion = templateVersion
        self.templateHash = templateHash
        self.customer = customer
        self.dataset = dataset
        self.datasetHash = datasetHash
        self.passed = passed
        self.createdAt = createdAt
        self.trigger = trigger
        self.summary = summary
        self.body = body
    }

    /// The summary as lists print it: times that runs stored by earlier versions kept as ms
    /// since 1970 become RFC 3339 text, so every list has one time format.
    public var printableSummary: JSONValue { Timestamps.rendering(["started_at", "finished_at"], in: summary) }
}

/// A run to store and what follows from it, in one transaction.
public struct EvalRunCommit: Sendable {
    /// The run (its `body` is required).
    public var run: EvalRunRecord
    /// The scheduled due time it ran for, and the schedule's next one (nil: not scheduled).
    public var due: EvalDue?
    /// The release block its failed gate raises (nil: none).
    public var block: ReleaseBlock?
    /// Who is told (a failed gate tells the template's escalation target).
    public var notifications: [NotificationRecord]
    /// Who or what stored it, for the journal.
    public var actor: String

    /// Creates a commit.
    public init(run: EvalRunRecord, due: EvalDue? = nil, block: ReleaseBlock? = nil, notifications: [NotificationRecord] = [], actor: String) {
        self.run = run
        self.due = due
        self.block = block
        self.notifications = notifications
        self.actor = actor
    }
}

/// The due time a scheduled run answers.
public struct EvalDue: Sendable, Hashable {
    /// The template.
    public var template: String
    /// The customer (nil: the template's own schedule).
    public var customer: String?
    /// The due time, ms since 1970.
    public var dueAt: Int64
    /// The schedule's next due time after this run.
    public var nextDue: Int64

    /// Creates a due time.
    public init(template: String, customer: String?, dueAt: Int64, nextDue: Int64) {
        self.template = template
        self.customer = customer
        self.dueAt = dueAt
        self.nextDue = nextDue
    }
}

/// When a template's (or a customer's) scheduled eval runs next.
public struct EvalSchedule: Sendable, Hashable {
    /// The template.
    public var template: String
    /// The customer (nil: the template's own).
    public var customer: String?
    /// The cadence as written (`weekly`, a cron expression).
    public var cadence: String
    /// The next due time, ms since 1970.
    public var nextDue: Int64
    /// The due time of the last scheduled run (nil: none yet).
    public var lastDue: Int64?
    /// The last scheduled run's id.
    public var lastRun: Int64?

    /// Creates a schedule.
    public init(template: String, customer: String?, cadence: String, nextDue: Int64, lastDue: Int64? = nil, lastRun: Int64? = nil) {
        self.template = template
        self.customer = customer
        self.cadence = cadence
        self.nextDue = nextDue
        self.lastDue = lastDue
        self.lastRun = lastRun
    }
}

/// A template release an eval gate blocked: no migration moves customers onto it until an
/// operator clears it (or a passing run is stored for it).
public struct ReleaseBlock: Sendable, Hashable {
    /// The store's id (0 before it is stored).
    public var id: Int64
    /// The template.
    public var template: String
    /// The blocked version.
    public var version: String
    /// The content hash of the blocked text.
    public var templateHash: String
    /// The customer whose gate failed (nil: the template's own).
    public var customer: String?
    /// The run whose gate failed (0 until stored with it).
    public var run: Int64
    /// Which gates failed, for people.
    public var reason: String
    /// When, ms since 1970.
    public var blockedAt: Int64
    /// When it was cleared (nil: still blocking).
    public var clearedAt: Int64?
    /// Who cleared it.
    public var clearedBy: String?

    /// Creates a block.
    public init(
        id: Int64 = 0, template: String, version: String, templateHash: String, customer: String?, run: Int64 = 0, reason: String, blockedAt: Int64,
        clearedAt: Int64? = nil, clearedBy: String? = nil
    ) {
        self.id = id
        self.template = template
        self.version = version
        self.templateHash = templateHash
        self.customer = customer
        self.run = run
        self.reason = reason
        self.blockedAt = blockedAt
        self.clearedAt = clearedAt
        self.clearedBy = clearedBy
    }
}

extension EvalStore {
    /// The newest runs (at most 100), optionally of one template.
    public func evalRuns(template: String? = nil) async throws -> [EvalRunRecord] {
        try await evalRuns(template: template, customer: nil, limit: 100)
    }

    /// Open release blocks, optionally of one template.
    public func releaseBlocks(template: String? = nil) async throws -> [ReleaseBlock] {
        try await releaseBlocks(template: template, includeCleared: false)
    }
}
