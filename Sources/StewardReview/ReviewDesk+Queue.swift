import Foundation
import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates

/// Which of a reviewer's open tasks a queue page shows (nil: any) and which page of them.
public struct DeskFilter: Sendable, Hashable {
    /// Only tasks needing (or reassigned to) this credential; a reviewer must hold it.
    public var credential: String?
    /// Only this customer's tasks (the instance's customer, e.g. `acme-bank`).
    public var customer: String?
    /// Only tasks of this priority (e.g. `P1`).
    public var priority: String?
    /// Only this template's tasks.
    public var template: String?
    /// The page, from 1.
    public var page: Int
    /// Tasks per page.
    public var pageSize: Int

    /// Creates a filter; `page` below 1 reads as 1, `pageSize` is kept within 1...200.
    public init(credential: String? = nil, customer: String? = nil, priority: String? = nil, template: String? = nil, page: Int = 1, pageSize: Int = 25) {
        self.credential = credential
        self.customer = customer
        self.priority = priority
        self.template = template
        self.page = max(1, page)
        self.pageSize = min(200, max(1, pageSize))
    }
}

/// Where a task stands against its SLA deadline.
public enum SLAState: String, Sendable, CaseIterable {
    /// Before its warning time.
    case ok
    /// Past its warning time (the SLA warning timer is due or fired, or it was escalated).
    case warning
    /// Past its deadline.
    case breached
    /// It has no deadline.
    case none

    /// The state of an open task at `now`: breached at or past `dueAt`; warning once its
    /// `sla_warning` timer is due or no longer pending (it fired), or once escalated; else ok.
    /// `pending` are the instance's pending timers.
    public static func of(_ task: ReviewTask, pending: [(kind: String, dueAt: Int64)], now: Int64) -> SLAState {
        guard let dueAt = task.dueAt else { return .none }
        if now >= dueAt { return .breached }
        if task.escalationLevel > 0 { return .warning }
        guard let warning = pending.first(where: { $0.kind == TimerFired.slaWarning }) else { return .warning }
        return now >= warning.dueAt ? .warning : .ok
    }
}

/// One row of the queue: a task with what a reviewer reads to pick it.
public struct DeskEntry: Sendable {
    /// The task.
    public var task: ReviewTask
    /// The ticket's subject, or the first line of its text (see `TaskFacts.summary`).
    public var summary: String
    /// The priority (e.g. `P1`), when the instance has one.
    public var priority: String?
    /// The name of the person the work is for (e.g. who wrote the ticket), when the input says.
    public var customerName: String?
    /// Where it stands against its deadline.
    public var sla: SLAState
    /// The claim that holds on it now, if any.
    public var claim: ReviewClaim?
    /// The claimer's display name.
    public var claimedBy: String?
    /// The time zone of the customer's business calendar, in which its times are shown.
    public var timeZone: TimeZone
}

/// One page of a reviewer's queue with what the filter form offers.
public struct DeskPage: Sendable {
    /// The tasks on this page, soonest deadline first.
    public var entries: [DeskEntry]
    /// How many tasks match the filter on all pages.
    public var total: Int
    /// The filter, with `page` clamped to the pages there are.
    public var filter: DeskFilter
    /// How many pages there are (at least 1).
    public var pageCount: Int
    /// The values each filter offers: credentials the reviewer may filter by, and the
    /// customers, priorities and templates of their open tasks.
    public var credentials: [String], customers: [String], priorities: [String], templates: [String]
}

/// What a queue row and the task page read from an instance's data.
public enum TaskFacts {
    /// The input's `subject` (or `title`), else the first non-empty line of its `text`,
    /// `body` or `message`, at most 120 characters; nil when there is none of these.
    public static func summary(input: JSONValue) -> String? {
        for key in ["subject", "title"] {
            if let text = input[key]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty { return clip(text) }
        }
        for key in ["text", "body", "message"] {
            guard let text = input[key]?.stringValue else { continue }
            if let line = text.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) }).first(where: { !$0.isEmpty }) {
                return clip(line)
            }
        }
        return nil
    }

    /// The priority the SLA used: the template's `sla.priority` expression over the data (with
    /// the template's config); else a top-level `priority` string; else the `priority` string
    /// of a step output (the first by output name, e.g. `routing.priority`); nil when none has one.
    public static func priority(data: JSONValue, plan: Plan?) -> String? {
        if let levels = plan?.template.serviceLevels {
            var scope = data.objectValue ?? [:]
            scope["config"] = plan?.template.config
            if let priority = levels.priority.evaluate(in: .object(scope)).stringValue { return priority }
        }
        if let priority = data["priority"]?.stringValue { return priority }
        let outputs = (data.objectValue ?? [:]).filter { !["input", "reviews", "errors"].contains($0.key) }
        return outputs.sorted { $0.key < $1.key }.lazy.compactMap { $0.value["priority"]?.stringValue }.first
    }

    /// The name of whom the work is for: the input's `customer.name` or `customer_name`.
    public static func customerName(input: JSONValue) -> String? {
        input["customer"]?["name"]?.stringValue ?? input["customer_name"]?.stringValue
    }

    static func clip(_ text: String) -> String {
        text.count <= 120 ? text : String(text.prefix(119)) + "…"
    }
}

extension ReviewDesk {
    /// The open tasks `reviewer` may decide (an operator: every open task), filtered and paged,
    /// soonest deadline first, each with its summary, priority, SLA state and claim.
    ///
    /// Reads at most 1,000 open tasks; filters on priority read each task's instance.
    /// - Throws: `ReviewError` `.forbidden` when a reviewer filters by a credential they do not hold.
    public func desk(for reviewer: Reviewer, filter: DeskFilter) async throws -> DeskPage {
        let isOperator = reviewer.role == "operator"
        if let credential = filter.credential, !isOperator, !reviewer.holds(credential) {
            throw ReviewError(.forbidden, "\(reviewer.name) does not hold credential '\(credential)'")
        }
        let credentials = filter.credential.map { [$0] } ?? (isOperator ? nil : reviewer.credentials)
        let all = try await store.openTasks(credentials: credentials, limit: 1_000)
        let now = engine.clock.nowMilliseconds()
        var entries: [DeskEntry] = []
        for task in all {
            let state = try await engine.currentState(id: task.instanceID)
            let data = state?.data ?? .null
            let plan = state.flatMap { engine.plans.plan(template: $0.template, version: $0.templateVersion) }
            let pending = try await store.pendingTimers(of: task.instanceID)
            entries.append(DeskEntry(
                task: task, summary: TaskFacts.summary(input: data["input"] ?? .null) ?? "\(task.template) at \(task.state)",
                priority: TaskFacts.priority(data: data, plan: plan), customerName: TaskFacts.customerName(input: data["input"] ?? .null),
                sla: SLAState.of(task, pending: pending, now: now), claim: nil, claimedBy: nil, timeZone: timeZone(customer: task.customer)))
        }
        let customers = Set(entries.compactMap(\.task.customer)).sorted()
        let priorities = Set(entries.compactMap(\.priority)).sorted()
        let templates = Set(entries.map(\.task.template)).sorted()
        let matching = entries.filter { entry in
            (filter.customer == nil || entry.task.customer == filter.customer) && (filter.priority == nil || entry.priority == filter.priority)
                && (filter.template == nil || entry.task.template == filter.template)
        }
        let pageCount = max(1, (matching.count + filter.pageSize - 1) / filter.pageSize)
        var shown = filter
        shown.page = min(filter.page, pageCount)
        var page = Array(matching.dropFirst((shown.page - 1) * shown.pageSize).prefix(shown.pageSize))
        let claims = try await holdingClaims(tasks: page.map(\.task.id))
        let names = claims.isEmpty ? [:] : try await reviewerNames()
        for index in page.indices {
            guard let claim = claims[page[index].task.id] else { continue }
            page[index].claim = claim
            page[index].claimedBy = names[claim.reviewer] ?? claim.reviewer
        }
        let heldCredentials = isOperator ? Set(all.flatMap { [$0.credential] + ($0.assigned.map { [$0] } ?? []) }).sorted() : reviewer.credentials
        return DeskPage(
            entries: page, total: matching.count, filter: shown, pageCount: pageCount, credentials: heldCredentials, customers: customers,
            priorities: priorities, templates: templates)
    }

    /// The open task `reviewer` should take after task `id`: the next one in queue order (the
    /// first when `id` is last or not in the queue) that nobody else's claim holds; nil when
    /// there is none. Reads tasks and claims only, not instances.
    public func nextTask(after id: Int64?, for reviewer: Reviewer) async throws -> ReviewTask? {
        let tasks = try await store.openTasks(credentials: reviewer.role == "operator" ? nil : reviewer.credentials, limit: 1_000)
        let claims = try await holdingClaims(tasks: tasks.map(\.id))
        let free = tasks.filter { task in task.id != id && (claims[task.id].map { $0.reviewer == reviewer.id } ?? true) }
        guard let id, let position = tasks.firstIndex(where: { $0.id == id }) else { return free.first }
        let later = Set(tasks[tasks.index(after: position)...].map(\.id))
        return free.first { later.contains($0.id) } ?? free.first
    }
}
