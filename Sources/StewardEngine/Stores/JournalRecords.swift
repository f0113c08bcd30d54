import StewardCore
import StewardDigest
import StewardJSON

// The rows of the authority tables (reviewers, review tasks, audit items and verdicts) as the
// journal states them, and the replay that rebuilds those tables from the journal and compares
// them with what a store holds. Shared by every store backend; pure values, any thread.

/// A reviewer row as the journal states it: `reviewer_added` carries all of it (the token hash
/// since token hashes are journalled), so verification can rebuild the `reviewers` table from the chain.
public struct ReviewerRecord: Equatable, Sendable {
    /// The reviewer's id.
    public var id: String
    /// Their name.
    public var name: String
    /// Their token's hash; nil for a `reviewer_added` entry written before token hashes were journalled.
    public var tokenHash: String?
    /// Their credentials.
    public var credentials: [String]
    /// Their role.
    public var role: String
    /// When they were added, ms since 1970.
    public var createdAt: Int64

    /// A reviewer as stored, with their token's hash.
    public init(_ reviewer: Reviewer, tokenHash: String) {
        self.init(
            id: reviewer.id, name: reviewer.name, tokenHash: tokenHash, credentials: reviewer.credentials, role: reviewer.role,
            createdAt: reviewer.createdAt)
    }

    /// A record of every field.
    public init(id: String, name: String, tokenHash: String?, credentials: [String], role: String, createdAt: Int64) {
        (self.id, self.name, self.tokenHash, self.credentials, self.role, self.createdAt) = (id, name, tokenHash, credentials, role, createdAt)
    }

    /// A `reviewer_added` payload (or an entry of a baseline); `at` is the entry's time. Nil
    /// when the payload has no id or name.
    public init?(payload: JSONValue, at: Int64) {
        guard let id = payload["id"]?.stringValue, let name = payload["name"]?.stringValue else { return nil }
        self.init(
            id: id, name: name, tokenHash: payload["token_hash"]?.stringValue,
            credentials: payload["credentials"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            role: payload["role"]?.stringValue ?? "reviewer", createdAt: payload["created_at"]?.integerValue ?? at)
    }

    /// The `reviewer_added` payload.
    public var payload: JSONValue {
        [
            "id": .string(id), "name": .string(name), "credentials": .array(credentials.map { .string($0) }), "role": .string(role),
            "token_hash": tokenHash.map { .string($0) } ?? .null, "created_at": .integer(createdAt),
        ]
    }

    /// Whether the table's row is what the journal says (a legacy entry without a token hash
    /// matches any hash).
    public func matches(_ stored: ReviewerRecord) -> Bool {
        var expected = self
        if expected.tokenHash == nil { expected.tokenHash = stored.tokenHash }
        return expected == stored
    }
}

/// A review task as the journal states it. The commit that opens a task journals all of it
/// (the subject as its SHA-256); the commits that escalate or close it journal the change.
public struct TaskRecord: Equatable, Sendable {
    /// The task's id.
    public var id: Int64
    /// The instance's id.
    public var instance: String
    /// The checkpoint state.
    public var state: String
    /// The credential it needs.
    public var credential: String
    /// `open`, `decided`, `moved` or `cancelled`.
    public var status: String
    /// The SHA-256 (hex) of the subject's JSON text as stored.
    public var subject: String
    /// The decisions offered, comma-separated.
    public var decisions: String
    /// When it opened, ms since 1970.
    public var openedAt: Int64
    /// Its deadline.
    public var dueAt: Int64?
    /// How far escalation climbed.
    public var escalationLevel: Int
    /// The credential escalation reassigned it to.
    public var assigned: String?
    /// When it was decided or withdrawn.
    public var decidedAt: Int64?
    /// The decision.
    public var decision: String?
    /// Who decided.
    public var reviewer: String?

    /// A row of a store's review task table; `subjectText` is the stored subject JSON (hashed here).
    public init(
        id: Int64, instance: String, state: String, credential: String, status: String, subjectText: String, decisions: String, openedAt: Int64,
        dueAt: Int64?, escalationLevel: Int, assigned: String?, decidedAt: Int64?, decision: String?, reviewer: String?
    ) {
        (self.id, self.instance, self.state, self.credential, self.status) = (id, instance, state, credential, status)
        subject = SHA256.hex(Array(subjectText.utf8))
        (self.decisions, self.openedAt, self.dueAt, self.escalationLevel) = (decisions, openedAt, dueAt, escalationLevel)
        (self.assigned, self.decidedAt, self.decision, self.reviewer) = (assigned, decidedAt, decision, reviewer)
    }

    /// A task just opened by a commit of `instance`; `subject` is its stored JSON text.
    public init(id: Int64, instance: String, request: CheckpointRequest, subject: String, openedAt: Int64, dueAt: Int64?) {
        (self.id, self.instance, state, credential, status) = (id, instance, request.state, request.credential, "open")
        self.subject = SHA256.hex(Array(subject.utf8))
        decisions = request.decisions.map(\.rawValue).joined(separator: ",")
        (self.openedAt, self.dueAt, escalationLevel) = (openedAt, dueAt, 0)
    }

    /// A task as journalled (`opened` of an authority, or a baseline's entry); nil when a field is missing.
    public init?(payload: JSONValue) {
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
    public func differences(from other: TaskRecord) -> [String] {
        let columns: [(String, Bool)] = [
            ("instance", instance != other.instance), ("state", state != other.state), ("credential", credential != other.credential),
            ("status", status != other.status), ("subject", subject != other.subject), ("decisions", decisions != other.decisions),
            ("opened_at", openedAt != other.openedAt), ("due_at", dueAt != other.dueAt),
            ("escalation_level", escalationLevel != other.escalationLevel), ("assigned", assigned != other.assigned),
            ("decided_at", decidedAt != other.decidedAt), ("decision", decision != other.decision), ("reviewer", reviewer != other.reviewer),
        ]
        return columns.filter(\.1).map(\.0)
    }

    /// The task as journalled.
    public var payload: JSONValue {
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

/// An audit item as the journal states it: the commit that samples an instance journals all of
/// it in its `authority` (`sampled`), the judged values, bindings, input and rate as one
/// SHA-256, so verification can tell an item edited or inserted by hand.
public struct AuditItemRecord: Equatable, Sendable {
    /// The item's id.
    public var id: Int64
    /// The instance's id.
    public var instance: String
    /// The checkpoint passed.
    public var state: String
    /// Which visit of it.
    public var visit: Int
    /// The template.
    public var template: String
    /// Its version.
    public var version: String
    /// The customer.
    public var customer: String?
    /// The credential that reviews it.
    public var credential: String
    /// How many reviews it needs.
    public var neededReviews: Int
    /// When it was sampled.
    public var createdAt: Int64
    /// SHA-256 (hex) of the stored items, bindings, input and rate.
    public var content: String

    /// A request's JSON columns as stored, encoded before the commit queues for a store's writer.
    public struct Encoded: Sendable {
        /// The judged paths with their values.
        public let items: String
        /// The bindings.
        public let bindings: String
        /// The input.
        public let input: String

        /// Encodes `request`'s columns.
        public init(_ request: AuditRequest) {
            items = JSONValue.array(request.items.map { ["path": .string($0.path), "value": $0.value] }).jsonString
            bindings = JSONValue.object(request.bindings.mapValues { .string($0) }).jsonString
            input = request.input.jsonString
        }
    }

    /// The `content` hash of stored columns.
    public static func content(items: String, bindings: String, input: String, rate: Double) -> String {
        SHA256.hex(Array("\(items)\u{1F}\(bindings)\u{1F}\(input)\u{1F}\(rate)".utf8))
    }

    /// An item just written by the commit of `instance`'s transition.
    public init(id: Int64, instance: InstanceState, request: AuditRequest, encoded: Encoded, at: Int64) {
        (self.id, self.instance, state, visit) = (id, instance.id, request.state, request.visit)
        (template, version, customer) = (instance.template, instance.templateVersion, instance.customer)
        (credential, neededReviews, createdAt) = (request.credential, request.neededReviews, at)
        content = Self.content(items: encoded.items, bindings: encoded.bindings, input: encoded.input, rate: request.rate)
    }

    /// A row of a store's audit item table (its JSON columns as stored, hashed here).
    public init(
        id: Int64, instance: String, state: String, visit: Int, template: String, version: String, customer: String?, credential: String,
        neededReviews: Int, createdAt: Int64, items: String, bindings: String, input: String, rate: Double
    ) {
        (self.id, self.instance, self.state, self.visit) = (id, instance, state, visit)
        (self.template, self.version, self.customer) = (template, version, customer)
        (self.credential, self.neededReviews, self.createdAt) = (credential, neededReviews, createdAt)
        content = Self.content(items: items, bindings: bindings, input: input, rate: rate)
    }

    /// An item as journalled (an entry of `sampled`); nil when a field is missing.
    public init?(payload: JSONValue) {
        guard let id = payload["item"]?.integerValue, let instance = payload["instance"]?.stringValue,
            let state = payload["state"]?.stringValue, let visit = payload["visit"]?.integerValue,
            let template = payload["template"]?.stringValue, let version = payload["version"]?.stringValue,
            let credential = payload["credential"]?.stringValue, let needed = payload["needed_reviews"]?.integerValue,
            let createdAt = payload["created_at"]?.integerValue, let content = payload["content"]?.stringValue
        else { return nil }
        (self.id, self.instance, self.state, self.visit) = (id, instance, state, Int(visit))
        (self.template, self.version, customer) = (template, version, payload["customer"]?.stringValue)
        (self.credential, neededReviews, self.createdAt, self.content) = (credential, Int(needed), createdAt, content)
    }

    /// The item as journalled.
    public var payload: JSONValue {
        [
            "item": .integer(id), "instance": .string(instance), "state": .string(state), "visit": .integer(Int64(visit)),
            "template": .string(template), "version": .string(version), "customer": customer.map { .string($0) } ?? .null,
            "credential": .string(credential), "needed_reviews": .integer(Int64(neededReviews)), "created_at": .integer(createdAt),
            "content": .string(content),
        ]
    }

    /// The columns (by name; `content` for items, bindings, input and rate) in which `other` differs.
    public func differences(from other: AuditItemRecord) -> [String] {
        let columns: [(String, Bool)] = [
            ("instance", instance != other.instance), ("state", state != other.state), ("visit", visit != other.visit),
            ("template", template != other.template), ("version", version != other.version), ("customer", customer != other.customer),
            ("credential", credential != other.credential), ("needed_reviews", neededReviews != other.neededReviews),
            ("created_at", createdAt != other.createdAt), ("items, bindings, input or rate", content != other.content),
        ]
        return columns.filter(\.1).map(\.0)
    }
}

/// A verdict as the journal states it: the `audit_verdict` entry carries all of it.
public struct AuditVerdictRecord: Equatable, Sendable {
    /// The audit item.
    public var item: Int64
    /// Its position among the item's reviews (1: the first).
    public var ordinal: Int
    /// Who.
    public var reviewer: String
    /// With which credential.
    public var credential: String
    /// The judgements' JSON as stored.
    public var judgements: String
    /// When.
    public var at: Int64

    /// A record of every field.
    public init(item: Int64, ordinal: Int, reviewer: String, credential: String, judgements: String, at: Int64) {
        (self.item, self.ordinal, self.reviewer, self.credential, self.judgements, self.at) = (item, ordinal, reviewer, credential, judgements, at)
    }

    /// A verdict as journalled; nil when a field is missing.
    public init?(payload: JSONValue) {
        guard let item = payload["item"]?.integerValue, let ordinal = payload["ordinal"]?.integerValue,
            let reviewer = payload["reviewer"]?.stringValue, let credential = payload["credential"]?.stringValue,
            let judgements = payload["judgements"], let at = payload["at"]?.integerValue
        else { return nil }
        self.init(item: item, ordinal: Int(ordinal), reviewer: reviewer, credential: credential, judgements: judgements.jsonString, at: at)
    }

    /// The `audit_verdict` payload.
    public var payload: JSONValue {
        [
            "item": .integer(item), "ordinal": .integer(Int64(ordinal)), "reviewer": .string(reviewer), "credential": .string(credential),
            "judgements": (try? JSONValue.parse(judgements)) ?? .null, "at": .integer(at),
        ]
    }

    /// "item/ordinal".
    public var key: String { "\(item)/\(ordinal)" }
}

/// What the journal says the authority tables hold, rebuilt entry by entry; `problems`
/// compares it with the tables a store holds.
public struct AuthorityReplay: Sendable {
    /// Reviewers by id.
    public var reviewers: [String: ReviewerRecord] = [:]
    /// Review tasks by id.
    public var tasks: [Int64: TaskRecord] = [:]
    /// The open task of each instance and checkpoint state ("instance\u{1F}state").
    public var open: [String: Int64] = [:]
    /// The audit items and verdicts.
    public var audits = AuditReplay()

    /// An empty replay (before the first row).
    public init() {}

    /// Applies one journal row: reviewer and verdict entries by kind, task changes and
    /// sampled audit items from its `authority`.
    public mutating func apply(kind: String, at: Int64, instance: String?, payload: String, authority: String?) {
        let authorityValue = authority.flatMap { try? JSONValue.parse($0) }
        audits.apply(kind: kind, payload: payload, authority: authorityValue)
        switch kind {
        case "reviewer_added":
            if let value = try? JSONValue.parse(payload), let record = ReviewerRecord(payload: value, at: at) { reviewers[record.id] = record }
        case "reviewer_removed":
            if let id = (try? JSONValue.parse(payload))?["id"]?.stringValue { reviewers[id] = nil }
        case JournalChain.baselineKind:
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
    /// - Parameters:
    ///   - storedReviewers: The reviewers table, ordered by id (byte order).
    ///   - storedTasks: The review task table, ordered by id.
    ///   - storedItems: The audit item table, ordered by id.
    ///   - storedVerdicts: The verdict table, ordered by item and ordinal.
    public func problems(
        reviewers storedReviewers: [ReviewerRecord], tasks storedTasks: [TaskRecord], items storedItems: [AuditItemRecord],
        verdicts storedVerdicts: [AuditVerdictRecord], limit: Int = 20
    ) -> [String] {
        var problems: [String] = []
        var seen = Set<String>()
        for stored in storedReviewers {
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
        for stored in storedTasks {
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
        if problems.count < limit { problems += audits.problems(items: storedItems, verdicts: storedVerdicts) }
        return Array(problems.prefix(limit))
    }
}

/// What the journal says the audit item and verdict tables hold (part of `AuthorityReplay`).
public struct AuditReplay: Sendable {
    /// Audit items by id.
    public var items: [Int64: AuditItemRecord] = [:]
    /// Verdicts by `key`.
    public var verdicts: [String: AuditVerdictRecord] = [:]

    /// An empty replay.
    public init() {}

    /// Applies one journal row: verdicts by kind, items from the `sampled` of its authority.
    public mutating func apply(kind: String, payload: String, authority: JSONValue?) {
        if kind == JournalChain.verdictKind, let value = try? JSONValue.parse(payload), let record = AuditVerdictRecord(payload: value) {
            verdicts[record.key] = record
        }
        for entry in authority?["sampled"]?.arrayValue ?? [] {
            if let record = AuditItemRecord(payload: entry) { items[record.id] = record }
        }
    }

    /// Every difference between the tables (items by id, verdicts by item and ordinal) and what the journal says.
    public func problems(items storedItems: [AuditItemRecord], verdicts storedVerdicts: [AuditVerdictRecord]) -> [String] {
        var problems: [String] = []
        var seen = Set<Int64>()
        for stored in storedItems {
            seen.insert(stored.id)
            guard let expected = items[stored.id] else {
                problems.append("audit item \(stored.id) (\(stored.instance) at \(stored.state)) was sampled by no journal entry: inserted by hand")
                continue
            }
            if expected != stored {
                problems.append("audit item \(stored.id) (\(stored.instance) at \(stored.state)): \(expected.differences(from: stored).joined(separator: ", ")) differ from what the journal recorded: edited by hand")
            }
        }
        for id in items.keys.sorted() where !seen.contains(id) {
            problems.append("audit item \(id) was sampled in the journal but is missing from the audit_items table")
        }
        var seenVerdicts = Set<String>()
        for stored in storedVerdicts {
            seenVerdicts.insert(stored.key)
            guard let expected = verdicts[stored.key] else {
                problems.append("verdict \(stored.ordinal) on audit item \(stored.item) (by \(stored.reviewer)) was recorded by no journal entry: inserted by hand")
                continue
            }
            if expected != stored {
                let fields = [
                    expected.reviewer != stored.reviewer ? "reviewer" : nil, expected.credential != stored.credential ? "credential" : nil,
                    expected.judgements != stored.judgements ? "judgements" : nil, expected.at != stored.at ? "at" : nil,
                ].compactMap { $0 }
                problems.append("verdict \(stored.ordinal) on audit item \(stored.item): \(fields.joined(separator: ", ")) differ from what the journal recorded: edited by hand")
            }
        }
        for (key, record) in verdicts.sorted(by: { $0.key < $1.key }) where !seenVerdicts.contains(key) {
            problems.append("verdict \(record.ordinal) on audit item \(record.item) was journalled but is missing from the audit_verdicts table")
        }
        return problems
    }
}
