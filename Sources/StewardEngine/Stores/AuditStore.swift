import StewardCore
import StewardJSON

/// A sampled production instance waiting for (or given) its audit: what it held at the paths
/// its checkpoint's `sample` rule judges, when it passed the checkpoint unreviewed.
public struct AuditItem: Sendable, Hashable {
    /// Item id (assigned by the store).
    public var id: Int64
    /// The instance.
    public var instanceID: String
    /// Its template.
    public var template: String
    /// The template version it is pinned to.
    public var templateVersion: String
    /// Its customer.
    public var customer: String?
    /// The checkpoint it passed.
    public var checkpoint: String
    /// Which visit of the checkpoint (`AuditRequest.visit`).
    public var visit: Int
    /// The credential an auditor needs.
    public var credential: String
    /// The judged paths and the instance's values there, in the rule's order.
    public var items: [AuditedValue]
    /// The instance's model bindings (adapter versions) at that moment.
    public var bindings: [String: String]
    /// The instance's input.
    public var input: JSONValue
    /// The sampling rate in force when it was picked.
    public var rate: Double
    /// Reviews needed to complete it: 1, or 2 for a double review.
    public var neededReviews: Int
    /// When it was picked, ms since 1970.
    public var createdAt: Int64
    /// The verdicts given, first review first.
    public var verdicts: [AuditVerdict]

    /// Creates an item.
    public init(
        id: Int64, instanceID: String, template: String, templateVersion: String, customer: String?, checkpoint: String, visit: Int,
        credential: String, items: [AuditedValue], bindings: [String: String], input: JSONValue, rate: Double, neededReviews: Int,
        createdAt: Int64, verdicts: [AuditVerdict]
    ) {
        self.id = id
        self.instanceID = instanceID
        self.template = template
        self.templateVersion = templateVersion
        self.customer = customer
        self.checkpoint = checkpoint
        self.visit = visit
        self.credential = credential
        self.items = items
        self.bindings = bindings
        self.input = input
        self.rate = rate
        self.neededReviews = neededReviews
        self.createdAt = createdAt
        self.verdicts = verdicts
    }

    /// Whether it has all the reviews it needs.
    public var isComplete: Bool { verdicts.count >= neededReviews }

    /// `open` or `complete`.
    public var status: String { isComplete ? "complete" : "open" }

    /// The instance's value at `path` when it was picked (nil: not a judged path).
    public func value(at path: String) -> JSONValue? { items.first { $0.path == path }?.value }

    /// The value `judgement` says is right: the instance's when judged correct, else the
    /// reviewer's correction.
    public func label(of judgement: AuditJudgement) -> JSONValue {
        judgement.correct ? value(at: judgement.path) ?? .null : judgement.correction ?? .null
    }
}

/// One reviewer's verdict on every judged path of an audit item.
public struct AuditVerdict: Sendable, Hashable {
    /// Who gave it.
    public var reviewer: String
    /// The credential they gave it with.
    public var credential: String
    /// When, ms since 1970.
    public var at: Int64
    /// One judgement per judged path, in the item's order.
    public var judgements: [AuditJudgement]

    /// Creates a verdict.
    public init(reviewer: String, credential: String, at: Int64, judgements: [AuditJudgement]) {
        self.reviewer = reviewer
        self.credential = credential
        self.at = at
        self.judgements = judgements
    }

    /// The judgement of `path`.
    public func judgement(of path: String) -> AuditJudgement? { judgements.first { $0.path == path } }
}

/// A reviewer's judgement of one path: the instance's value was correct, or wrong and this
/// is the correct value.
public struct AuditJudgement: Sendable, Hashable {
    /// The judged path.
    public var path: String
    /// Whether the instance's value was right.
    public var correct: Bool
    /// The right value when it was wrong (nil when correct).
    public var correction: JSONValue?

    /// Creates a judgement; a correct one carries no correction.
    public init(path: String, correct: Bool, correction: JSONValue? = nil) {
        self.path = path
        self.correct = correct
        self.correction = correct ? nil : correction
    }

    /// The judgement as stored: `{path, verdict: correct|wrong, value?}`.
    public var jsonValue: JSONValue {
        var object: [String: JSONValue] = ["path": .string(path), "verdict": correct ? "correct" : "wrong"]
        if let correction { object["value"] = correction }
        return .object(object)
    }

    /// Rebuilds a judgement from `jsonValue` (nil when it lacks a path or a verdict
    /// `correct` or `wrong`).
    public init?(json: JSONValue) {
        guard let path = json["path"]?.stringValue, let verdict = json["verdict"]?.stringValue, verdict == "correct" || verdict == "wrong" else {
            return nil
        }
        self.init(path: path, correct: verdict == "correct", correction: json["value"])
    }
}

/// Which audit items to list.
public struct AuditQuery: Sendable, Hashable {
    /// Only open items (true), only complete ones (false), or all (nil).
    public var open: Bool?
    /// Only items needing one of these credentials (nil: any).
    public var credentials: [String]?
    /// Only this template's items.
    public var template: String?
    /// Only this customer's items.
    public var customer: String?
    /// At most this many (nil: all).
    public var limit: Int?

    /// Creates a query.
    public init(open: Bool? = nil, credentials: [String]? = nil, template: String? = nil, customer: String? = nil, limit: Int? = nil) {
        self.open = open
        self.credentials = credentials
        self.template = template
        self.customer = customer
        self.limit = limit
    }
}

/// Audit items of sampled production work, and reviewers' verdicts on them. Items are
/// written only by instance commits (`InstanceCommit.auditSamples`); verdicts only here.
///
/// Contract: an item's verdicts keep the order they were given in. `recordVerdict` writes the
/// verdict and its journal entry (`audit_verdict`, tied to the item's instance, carrying the
/// whole verdict) in one transaction, and refuses, changing nothing, with `StoreConflict`
/// when the item already has its needed reviews or the reviewer already gave one. Whether the
/// verdict is allowed (credential, paths) is the review desk's business, not the store's.
public protocol AuditStore: Sendable {
    /// Items matching `query`, oldest first.
    func auditItems(_ query: AuditQuery) async throws -> [AuditItem]
    /// One item with its verdicts (nil: no such item).
    func auditItem(id: Int64) async throws -> AuditItem?
    /// Records `verdict` as the next review of item `id` (see the contract above).
    /// - Throws: `StoreConflict` as above; `AuditItemMissing` when there is no such item.
    func recordVerdict(_ verdict: AuditVerdict, item id: Int64) async throws
}

/// `recordVerdict` found no such item.
public struct AuditItemMissing: Error, Sendable, CustomStringConvertible {
    /// The item asked for.
    public let id: Int64

    /// Creates the error.
    public init(id: Int64) { self.id = id }

    /// "no audit item 7".
    public var description: String { "no audit item \(id)" }
}
