import StewardCore
import StewardJSON

/// Texts and configs stored by content hash, so replay, audit and recovery never depend on
/// files on disk.
public protocol ContentStore: Sendable {
    /// A pinned config by its content hash.
    func config(hash: String) async throws -> JSONValue?
    /// A pinned template snapshot by its hash.
    func template(hash: String) async throws -> TemplateSnapshot?
    /// Every stored template snapshot, oldest first (engines load them at start so that
    /// instances pinned to texts no longer on disk still run and replay).
    func templates() async throws -> [TemplateSnapshot]
}

/// Read-side queries over instances for people (lists, counts).
public protocol InstanceQueryStore: Sendable {
    /// Instances, newest first, optionally filtered.
    func instances(status: InstanceStatus?, template: String?, customer: String?, limit: Int) async throws -> [InstanceSummary]
    /// Instances matching every filter `query` sets, newest first: `query.limit` of them after
    /// skipping the first `query.offset` (a page of the list).
    func instances(_ query: InstanceQuery) async throws -> [InstanceSummary]
    /// How many instances match every filter `query` sets, per template, version and status
    /// (`limit` and `offset` are ignored; combinations with no instance are left out), sorted by
    /// template, version and status name. The operator console's counts: per status with the
    /// status filter unset, per template version with no filter.
    func instanceCounts(_ query: InstanceQuery) async throws -> [InstanceCount]
    /// The ids of the instances waiting now for event `name` whose correlation key is `key`, oldest first.
    func instancesWaiting(forEvent name: String, key: String) async throws -> [String]
    /// Counts instances by status.
    func countByStatus() async throws -> [InstanceStatus: Int]
}

/// Filters of an instance listing (nil: any).
public struct InstanceQuery: Sendable, Hashable {
    /// The status.
    public var status: InstanceStatus?
    /// The template.
    public var template: String?
    /// The template version (`1.1.0`); meaningful with `template`, though not required.
    public var version: String?
    /// The customer.
    public var customer: String?
    /// The state it is at.
    public var state: String?
    /// Created at or before this time, ms since 1970 (`--older-than`).
    public var createdBefore: Int64?
    /// At most this many.
    public var limit: Int
    /// Skip this many of the newest matches first (paging: page `n` of `limit` skips `n * limit`).
    public var offset: Int

    /// Creates a query.
    public init(
        status: InstanceStatus? = nil, template: String? = nil, version: String? = nil, customer: String? = nil, state: String? = nil,
        createdBefore: Int64? = nil, limit: Int = 100, offset: Int = 0
    ) {
        self.status = status
        self.template = template
        self.version = version
        self.customer = customer
        self.state = state
        self.createdBefore = createdBefore
        self.limit = limit
        self.offset = offset
    }
}

/// How many instances of one template version have one status (`InstanceQueryStore.instanceCounts`).
public struct InstanceCount: Sendable, Hashable {
    /// Template name.
    public var template: String
    /// Template version.
    public var version: String
    /// Status.
    public var status: InstanceStatus
    /// How many (at least 1).
    public var count: Int

    /// Creates a count.
    public init(template: String, version: String, status: InstanceStatus, count: Int) {
        self.template = template
        self.version = version
        self.status = status
        self.count = count
    }
}

/// The hash-chained journal: instance events and audit entries in one chain.
///
/// Contract: `appendAudit` is durable when it returns; `verifyJournal` recomputes the whole
/// chain and reports every break (edited, inserted or deleted rows, a moved end), and checks
/// that the tables granting or recording authority (reviewers with their credentials and
/// token hashes, review tasks) hold exactly what the journal's entries say they should: a
/// backend journals every write to them (`reviewer_added` carries the token hash; a commit
/// that opens, escalates or closes a task journals the task's new state with its event).
public protocol JournalStore: Sendable {
    /// Appends an audit entry (not tied to an instance's sequence).
    func appendAudit(kind: String, actor: String, payload: JSONValue, at: Int64, instance: String?) async throws
    /// The journal entries of one instance, in order.
    func history(of id: String) async throws -> [JournalEntry]
    /// Audit entries not tied to an instance sequence, newest first.
    func auditEntries(limit: Int) async throws -> [JournalEntry]
    /// Recomputes the hash chain over the whole journal and compares the authority tables
    /// with what the journal implies; every difference is a problem.
    func verifyJournal() async throws -> JournalVerification
    /// The journal's newest row and the sizes of the authority tables, read in one snapshot
    /// (what `steward audit head` signs).
    func journalHead() async throws -> JournalHead
    /// The chain hash (lower-case hex) stored with journal row `id`, or nil when there is no
    /// such row.
    func journalHash(id: Int64) async throws -> String?
    /// Every stored instance snapshot with all its journal events, in id order after `after`
    /// (for replay verification).
    func instancesWithEvents(after: String?, limit: Int) async throws -> [(InstanceState, [Event])]
}

/// Review tasks (opened and closed by instance commits) and the labelled data edits produce.
public protocol ReviewStore: Sendable {
    /// Open review tasks, soonest deadline first, optionally only those needing (or
    /// reassigned to) one of `credentials`.
    func openTasks(credentials: [String]?, limit: Int) async throws -> [ReviewTask]
    /// One review task.
    func task(id: Int64) async throws -> ReviewTask?
    /// The labelled examples reviewers' edits produced, oldest first, as JSON objects.
    func labelledExamples(template: String?) async throws -> [JSONValue]
    /// Open tasks per credential and how many are overdue at `now` (for metrics).
    func queueDepths(now: Int64) async throws -> [QueueDepth]
    /// The claim recorded for each of `tasks` that has one (lapsed claims included: whether a
    /// claim still holds is the caller's decision).
    func claims(tasks: [Int64]) async throws -> [Int64: ReviewClaim]
    /// Replaces the claim of task `task` with `claim` (nil: removes it; `claim.task` is `task`)
    /// if and only if the claim stored now equals `expected` (nil: no claim stored). Returns
    /// false, changing nothing, when another writer got there first, or when the task is not
    /// open. The compare and the write are atomic, so two reviewers claiming at once cannot
    /// both succeed.
    func replaceClaim(task: Int64, expected: ReviewClaim?, with claim: ReviewClaim?) async throws -> Bool
}

/// Reviewers and their tokens. The store keeps only a token's hash; making and hashing tokens
/// is the review desk's business (`StewardReview`).
///
/// Contract: adding and removing a reviewer is audited in the same transaction.
public protocol ReviewerStore: Sendable {
    /// Stores a reviewer with the hash of their token and audits it as `reviewer_added` by `actor`.
    func insertReviewer(_ reviewer: Reviewer, tokenHash: String, by actor: String) async throws
    /// Removes a reviewer (their token stops working at once), audited as `reviewer_removed`.
    /// Returns false when there is no such reviewer.
    func deleteReviewer(id: String, by actor: String, at: Int64) async throws -> Bool
    /// Every reviewer, oldest first.
    func reviewers() async throws -> [Reviewer]
    /// The reviewer whose token has this hash.
    func reviewer(tokenHash: String) async throws -> Reviewer?
}

/// Durable timers. They are set, fired and cancelled only by instance commits.
public protocol TimerStore: Sendable {
    /// Timers due at or before `now` that have neither fired nor been cancelled, oldest first.
    func dueTimers(now: Int64, limit: Int) async throws -> [DueTimer]
    /// Pending timers of one instance, soonest first.
    func pendingTimers(of instance: String) async throws -> [(kind: String, dueAt: Int64)]
    /// Marks a pending timer cancelled without an event (its instance left the timer's state
    /// before it could fire). Does nothing when it is no longer pending.
    func discardTimer(id: Int64, at: Int64) async throws
}

/// Notifications recorded for delivery.
public protocol NotificationStore: Sendable {
    /// Notifications, newest first.
    func notifications(limit: Int) async throws -> [NotificationRecord]
}

/// Everything the engine, the review desk, the SLA clock, the auditor and the server need of a
/// store. Every backend implements all of it and passes `StewardStoreConformance`.
public typealias EngineStore = InstanceStore & ContentStore & InstanceQueryStore & JournalStore & ReviewStore & ReviewerStore
    & TimerStore & NotificationStore & NotificationOutboxStore & EvalStore & AuditStore & MigrationStore

// Conveniences with the limits people use; every backend gets them for free.

extension ReviewStore {
    /// Open review tasks (at most 200), optionally only those for `credentials`.
    public func openTasks(credentials: [String]? = nil) async throws -> [ReviewTask] {
        try await openTasks(credentials: credentials, limit: 200)
    }

    /// Every labelled example.
    public func labelledExamples() async throws -> [JSONValue] { try await labelledExamples(template: nil) }
}

extension InstanceQueryStore {
    /// The newest instances (at most `limit`, default 100), optionally filtered.
    public func instances(status: InstanceStatus? = nil, template: String? = nil, customer: String? = nil) async throws -> [InstanceSummary] {
        try await instances(status: status, template: template, customer: customer, limit: 100)
    }
}

extension JournalStore {
    /// The newest 100 audit entries.
    public func auditEntries() async throws -> [JournalEntry] { try await auditEntries(limit: 100) }

    /// Appends an audit entry tied to no instance.
    public func appendAudit(kind: String, actor: String, payload: JSONValue, at: Int64) async throws {
        try await appendAudit(kind: kind, actor: actor, payload: payload, at: at, instance: nil)
    }
}

extension TimerStore {
    /// Timers due at `now` (at most 500).
    public func dueTimers(now: Int64) async throws -> [DueTimer] { try await dueTimers(now: now, limit: 500) }
}

extension NotificationStore {
    /// The newest 100 notifications.
    public func notifications() async throws -> [NotificationRecord] { try await notifications(limit: 100) }
}
