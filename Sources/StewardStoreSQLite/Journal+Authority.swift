import Foundation
import GRDB
import StewardDigest
import StewardCore
import StewardEngine
import StewardJSON

/// A reviewer row as the journal states it: `reviewer_added` carries all of it (the token hash
/// since the v6 schema), so `verifyJournal` can rebuild the `reviewers` table from the chain.
struct ReviewerRecord: Equatable {
    var id: String
    var name: String
    /// Nil for a `reviewer_added` entry written before token hashes were journalled.
    var tokenHash: String?
    var credentials: [String]
    var role: String
    var createdAt: Int64

    init(_ reviewer: Reviewer, tokenHash: String) {
        self.init(
            id: reviewer.id, name: reviewer.name, tokenHash: tokenHash, credentials: reviewer.credentials, role: reviewer.role,
            createdAt: reviewer.createdAt)
    }

    init(id: String, name: String, tokenHash: String?, credentials: [String], role: String, createdAt: Int64) {
        (self.id, self.name, self.tokenHash, self.credentials, self.role, self.createdAt) = (id, name, tokenHash, credentials, role, createdAt)
    }

    /// A row of `reviewers`.
    init(row: Row) throws {
        let reviewer = try SQLiteStore.reviewer(row)
        self.init(reviewer, tokenHash: row["token_hash"])
    }

    /// A `reviewer_added` payload (or an entry of a baseline); `at` is the entry's time.
    init?(payload: JSONValue, at: Int64) {
        guard let id = payload["id"]?.stringValue, let name = payload["name"]?.stringValue else { return nil }
        self.init(
            id: id, name: name, tokenHash: payload["token_hash"]?.stringValue,
            credentials: payload["credentials"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            role: payload["role"]?.stringValue ?? "reviewer", createdAt: payload["created_at"]?.integerValue ?? at)
    }

    var payload: JSONValue {
        [
            "id": .string(id), "name": .string(name), "credentials": .array(credentials.map { .string($0) }), "role": .string(role),
            "token_hash": tokenHash.map { .string($0) } ?? .null, "created_at": .integer(createdAt),
        ]
    }

    /// Whether the table's row is what the journal says (a legacy entry without a token hash
    /// matches any hash).
    func matches(_ stored: ReviewerRecord) -> Bool {
        var expected = self
        if expected.tokenHash == nil { expected.tokenHash = stored.tokenHash }
        return expected == stored
    }
}

/// A review task as the journal states it. The commit that opens a task journals all of it
/// (the subject as its SHA-256); the commits that escalate or close it journal the change.
struct TaskRecord: Equatable {
    var id: Int64
    var instance: String
    var state: String
    var credential: String
    var status: String
    var subject: String
    var decisions: String
    var openedAt: Int64
    var dueAt: Int64?
    var escalationLevel: Int
    var assigned: String?
    var decidedAt: Int64?
    var decision: String?
    var reviewer: String?

    /// A row of `review_tasks` joined with its instance's id as `instance_id`.
    init(row: Row) {
        let subject: String = row["subject"]
        (id, instance, state, credential, status) = (row["id"], row["instance_id"], row["state"], row["credential"], row["status"])
        self.subject = SHA256.hex(Array(subject.utf8))
        (decisions, openedAt, dueAt, escalationLevel) = (row["decisions"], row["opened_at"], row["due_at"], row["escalation_level"])
        (assigned, decidedAt, decision, reviewer) = (row["assigned"], row["decided_at"], row["decision"], row["reviewer"])
    }

    /// A task just opened.
    init(id: Int64, instance: String, request: CheckpointRequest, subject: String, openedAt: Int64, dueAt: Int64?) {
        (self.id, self.instance, state, credential, status) = (id, instance, request.state, request.credential, "open")
        self.subject = SHA256.hex(Array(subject.utf8))
        decisions = request.decisions.map(\.rawValue).joined(separator: ",")
        (self.openedAt, self.dueAt, escalationLevel) = (openedAt, dueAt, 0)
    }

    init?(payload: JSONValue) {
        guard let id = payload["task"]?.integerValue, let instance = payload["instance"]?.stringValue,
            let state = payload["state"]?.stringValue, let credential = payload["credential"]?.stringValue,
            let status = payload["status"]?.stringValue, let subject = payload["subject"]?.stringValue,
            let decisions = payload["decisions"]?.stringValue, let openedAt = payload["opened_at"]?.integerValue
        else { return nil }
        (self.id, self.instance, self.state, self.credential, self.status) = (id, instance, state, credential, status)
        (self.subject, self.decisions, self.openedAt, dueAt) = (subject, decisions, openedAt, payload["due_at"]?.integerValue)
        escalationLevel = Int(payload["escalation_level"]?.integerValue ?? 0)
        (assigned, decidedAt) = (payload["assigned"]?.stringValue, payload["decided_at"]?.integerValue)
        (decision, reviewer) = (payload["decision"]?.stringValue, payload["reviewer"]?.stringValue)
    }

    /// The columns (by name) in which `other` differs.
    func differences(from other: TaskRecord) -> [String] {
        let columns: [(String, Bool)] = [
            ("instance", instance != other.instance), ("state", state != other.state), ("credential", credential != other.credential),
            ("status", status != other.status), ("subject", subject != other.subject), ("decisions", decisions != other.decisions),
            ("opened_at", openedAt != other.openedAt), ("due_at", dueAt != other.dueAt),
            ("escalation_level", escalationLevel != other.escalationLevel), ("assigned", assigned != other.assigned),
            ("decided_at", decidedAt != other.decidedAt), ("decision", decision != other.decision), ("reviewer", reviewer != other.reviewer),
        ]
        return columns.filter(\.1).map(\.0)
    }

    var payload: JSONValue {
        func optional(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        func optional(_ value: Int64?) -> JSONValue { value.map { .integer($0) } ?? .null }
        return [
            "task": .integer(id), "instance": .string(instance), "state": .string(state), "credential": .string(credential),
            "status": .string(status), "subject": .string(subject), "decisions": .string(decisions), "opened_at": .integer(openedAt),
            "due_at": optional(dueAt), "escalation_level": .integer(Int64(escalationLevel)), "assigned": optional(assigned),
            "decided_at": optional(decidedAt), "decision": optional(decision), "reviewer": optional(reviewer),
        ]
    }
}

/// What the journal says the authority tables hold, rebuilt entry by entry; `problems(db:)`
/// compares it with the tables.
struct AuthorityReplay {
    var reviewers: [String: ReviewerRecord] = [:]
    var tasks: [Int64: TaskRecord] = [:]
    /// The open task of each instance and checkpoint state ("instance\u{1F}state").
    var open: [String: Int64] = [:]
    /// The audit items and verdicts.
    var audits = AuditReplay()

    static let taskSelect = "SELECT t.*, i.id AS instance_id FROM review_tasks t JOIN instances i ON i.rowid = t.instance"

    /// Applies one journal row: reviewer and verdict entries by kind, task changes and
    /// sampled audit items from its `authority`.
    mutating func apply(kind: String, at: Int64, instance: String?, payload: String, authority: String?) {
        let authorityValue = authority.flatMap { try? JSONValue.parse($0) }
        audits.apply(kind: kind, payload: payload, authority: authorityValue)
        switch kind {
        case "reviewer_added":
            if let value = try? JSONValue.parse(payload), let record = ReviewerRecord(payload: value, at: at) { reviewers[record.id] = record }
        case "reviewer_removed":
            if let id = (try? JSONValue.parse(payload))?["id"]?.stringValue { reviewers[id] = nil }
        case Journal.baselineKind:
            guard let value = try? JSONValue.parse(payload) else { return }
            reviewers = [:]
            for entry in value["reviewers"]?.arrayValue ?? [] {
                if let record = ReviewerRecord(payload: entry, at: at) { reviewers[record.id] = record }
            }
            (tasks, open) = ([:], [:])
            for entry in value["tasks"]?.arrayValue ?? [] {
                guard let task = TaskRecord(payload: entry) else { continue }
                tasks[task.id] = task
                if task.status == "open" { open[task.instance + "\u{1F}" + task.state] = task.id }
            }
        default: break
        }
        guard let instance, let value = authorityValue else { return }
        if let closed = value["closed"], let state = closed["state"]?.stringValue, let id = open.removeValue(forKey: instance + "\u{1F}" + state) {
            tasks[id]?.status = "decided"
            tasks[id]?.decidedAt = at
            tasks[id]?.decision = closed["decision"]?.stringValue
            tasks[id]?.reviewer = closed["reviewer"]?.stringValue
        }
        if let withdrawn = value["withdrawn"], let state = withdrawn["state"]?.stringValue, let id = open.removeValue(forKey: instance + "\u{1F}" + state) {
            tasks[id]?.status = withdrawn["status"]?.stringValue ?? "moved"
            tasks[id]?.decidedAt = at
        }
        if let escalated = value["escalated"], let state = escalated["state"]?.stringValue, let id = open[instance + "\u{1F}" + state] {
            tasks[id]?.escalationLevel = Int(escalated["level"]?.integerValue ?? 0)
            if let assigned = escalated["assigned"]?.stringValue { tasks[id]?.assigned = assigned }
        }
        if let opened = value["opened"], let task = TaskRecord(payload: opened) {
            tasks[task.id] = task
            open[instance + "\u{1F}" + task.state] = task.id
        }
    }

    /// Every difference between the tables and what the journal says, at most `limit`.
    func problems(_ db: Database, limit: Int = 20) throws -> [String] {
        var problems: [String] = []
        var seen = Set<String>()
        for row in try Row.fetchAll(db, sql: "SELECT * FROM reviewers ORDER BY id") {
            let stored = try ReviewerRecord(row: row)
            seen.insert(stored.id)
            guard let expected = reviewers[stored.id] else {
                problems.append("reviewer \(stored.id) (\(stored.role)) is in the reviewers table but no journal entry added it: inserted by hand")
                continue
            }
            if !expected.matches(stored) {
                let fields = [
                    expected.name != stored.name ? "name" : nil, expected.tokenHash.map { $0 != stored.tokenHash } == true ? "token hash" : nil,
                    expected.credentials != stored.credentials ? "credentials" : nil, expected.role != stored.role ? "role" : nil,
                    expected.createdAt != stored.createdAt ? "created_at" : nil,
                ].compactMap { $0 }
                problems.append("reviewer \(stored.id): \(fields.joined(separator: ", ")) differ from what the journal recorded: edited by hand")
            }
        }
        for id in reviewers.keys.sorted() where !seen.contains(id) {
            problems.append("reviewer \(id) was added in the journal and never removed, but is missing from the reviewers table")
        }
        var seenTasks = Set<Int64>()
        for row in try Row.fetchAll(db, sql: Self.taskSelect + " ORDER BY t.id") {
            let stored = TaskRecord(row: row)
            seenTasks.insert(stored.id)
            guard let expected = tasks[stored.id] else {
                problems.append("review task \(stored.id) (\(stored.instance) at \(stored.state)) was opened by no journal entry: inserted by hand")
                continue
            }
            if expected != stored {
                let fields = expected.differences(from: stored)
                problems.append("review task \(stored.id) (\(stored.instance) at \(stored.state)): \(fields.joined(separator: ", ")) differ from what the journal recorded: edited by hand")
            }
            if problems.count >= limit { return problems }
        }
        for id in tasks.keys.sorted() where !seenTasks.contains(id) {
            problems.append("review task \(id) was opened in the journal but is missing from the review_tasks table")
        }
        if problems.count < limit { problems += try audits.problems(db) }
        return Array(problems.prefix(limit))
    }
}

extension Journal {
    /// The kind of the entry a v6 migration appends: the authority tables as they were, so
    /// rows written before the tables were journalled are not reported.
    static let baselineKind = "authority_baseline"

    /// Appends the baseline entry when the authority tables hold anything (schema migration).
    static func appendBaseline(_ db: Database, at: Int64) throws {
        let reviewers = try Row.fetchAll(db, sql: "SELECT * FROM reviewers ORDER BY id").map { try ReviewerRecord(row: $0).payload }
        let tasks = try Row.fetchAll(db, sql: AuthorityReplay.taskSelect + " ORDER BY t.id").map { TaskRecord(row: $0).payload }
        guard !reviewers.isEmpty || !tasks.isEmpty else { return }
        try appendStandalone(db, kind: baselineKind, actor: "migration", at: at, payload: ["reviewers": .array(reviewers), "tasks": .array(tasks)])
    }

    /// The journalled task and audit-item changes of a commit (nil when it changes neither).
    static func authority(_ commit: InstanceCommit, opened: TaskRecord?, sampled: [AuditItemRecord] = []) -> String? {
        var value: [String: JSONValue] = [:]
        if let closed = commit.closedTask {
            value["closed"] = [
                "state": .string(closed.state), "decision": .string(closed.decision.rawValue), "reviewer": .string(closed.reviewer),
            ]
        }
        if let withdrawn = commit.withdrawnTask { value["withdrawn"] = ["state": .string(withdrawn.state), "status": .string(withdrawn.status)] }
        if let escalation = commit.escalation {
            value["escalated"] = [
                "state": .string(escalation.state), "level": .integer(Int64(escalation.level)),
                "assigned": escalation.assigned.map { .string($0) } ?? .null,
            ]
        }
        if let opened { value["opened"] = opened.payload }
        if !sampled.isEmpty { value["sampled"] = .array(sampled.map(\.payload)) }
        return value.isEmpty ? nil : JSONValue.object(value).jsonString
    }
}
