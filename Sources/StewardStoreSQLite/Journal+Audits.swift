import Foundation
import GRDB
import StewardCore
import StewardDigest
import StewardEngine
import StewardJSON

/// An audit item as the journal states it: the commit that samples an instance journals all of
/// it in its `authority` (`sampled`), the judged values, bindings, input and rate as one
/// SHA-256, so `verifyJournal` can tell an item edited or inserted by hand.
struct AuditItemRecord: Equatable {
    var id: Int64
    var instance: String
    var state: String
    var visit: Int
    var template: String
    var version: String
    var customer: String?
    var credential: String
    var neededReviews: Int
    var createdAt: Int64
    /// SHA-256 (hex) of the stored items, bindings, input and rate.
    var content: String

    /// A request's JSON columns, encoded before the commit queues for the writer.
    struct Encoded: Sendable {
        let items: String
        let bindings: String
        let input: String

        init(_ request: AuditRequest) {
            items = JSONValue.array(request.items.map { ["path": .string($0.path), "value": $0.value] }).jsonString
            bindings = JSONValue.object(request.bindings.mapValues { .string($0) }).jsonString
            input = request.input.jsonString
        }
    }

    static func content(items: String, bindings: String, input: String, rate: Double) -> String {
        SHA256.hex(Array("\(items)\u{1F}\(bindings)\u{1F}\(input)\u{1F}\(rate)".utf8))
    }

    /// An item just written by the commit of `instance`'s transition.
    init(id: Int64, instance: InstanceState, request: AuditRequest, encoded: Encoded, at: Int64) {
        (self.id, self.instance, state, visit) = (id, instance.id, request.state, request.visit)
        (template, version, customer) = (instance.template, instance.templateVersion, instance.customer)
        (credential, neededReviews, createdAt) = (request.credential, request.neededReviews, at)
        content = Self.content(items: encoded.items, bindings: encoded.bindings, input: encoded.input, rate: request.rate)
    }

    /// A row of `audit_items` joined with its instance's id as `instance_id`.
    init(row: Row) {
        (id, instance, state, visit) = (row["id"], row["instance_id"], row["state"], row["visit"])
        (template, version, customer) = (row["template"], row["version"], row["customer"])
        (credential, neededReviews, createdAt) = (row["credential"], row["needed_reviews"], row["created_at"])
        content = Self.content(items: row["items"], bindings: row["bindings"], input: row["input"], rate: row["rate"])
    }

    init?(payload: JSONValue) {
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

    var payload: JSONValue {
        [
            "item": .integer(id), "instance": .string(instance), "state": .string(state), "visit": .integer(Int64(visit)),
            "template": .string(template), "version": .string(version), "customer": customer.map { .string($0) } ?? .null,
            "credential": .string(credential), "needed_reviews": .integer(Int64(neededReviews)), "created_at": .integer(createdAt),
            "content": .string(content),
        ]
    }

    /// The columns (by name; `content` for items, bindings, input and rate) in which `other` differs.
    func differences(from other: AuditItemRecord) -> [String] {
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
struct AuditVerdictRecord: Equatable {
    var item: Int64
    var ordinal: Int
    var reviewer: String
    var credential: String
    /// The judgements' JSON as stored.
    var judgements: String
    var at: Int64

    init(item: Int64, ordinal: Int, reviewer: String, credential: String, judgements: String, at: Int64) {
        (self.item, self.ordinal, self.reviewer, self.credential, self.judgements, self.at) = (item, ordinal, reviewer, credential, judgements, at)
    }

    /// A row of `audit_verdicts`.
    init(row: Row) {
        (item, ordinal, reviewer, credential, judgements, at) = (row["item"], row["ordinal"], row["reviewer"], row["credential"], row["judgements"], row["at"])
    }

    init?(payload: JSONValue) {
        guard let item = payload["item"]?.integerValue, let ordinal = payload["ordinal"]?.integerValue,
            let reviewer = payload["reviewer"]?.stringValue, let credential = payload["credential"]?.stringValue,
            let judgements = payload["judgements"], let at = payload["at"]?.integerValue
        else { return nil }
        self.init(item: item, ordinal: Int(ordinal), reviewer: reviewer, credential: credential, judgements: judgements.jsonString, at: at)
    }

    var payload: JSONValue {
        [
            "item": .integer(item), "ordinal": .integer(Int64(ordinal)), "reviewer": .string(reviewer), "credential": .string(credential),
            "judgements": (try? JSONValue.parse(judgements)) ?? .null, "at": .integer(at),
        ]
    }

    var key: String { "\(item)/\(ordinal)" }
}

extension Journal {
    /// The journal entry of a verdict.
    static let verdictKind = "audit_verdict"

    /// Writes a verdict as the next review of `item` and journals it, refusing (before
    /// writing) a reviewer who already reviewed the item and an item that has its reviews.
    static func applyVerdict(_ verdict: AuditVerdict, item: Int64, judgements: String, chain: inout ChainHead, db: Database) throws {
        guard let row = try Row.fetchOne(
            db,
            sql: """
                SELECT a.instance, a.needed_reviews, i.id AS instance_id,
                       (SELECT COUNT(*) FROM audit_verdicts v WHERE v.item = a.id) AS given,
                       (SELECT COUNT(*) FROM audit_verdicts v WHERE v.item = a.id AND v.reviewer = ?) AS mine
                FROM audit_items a JOIN instances i ON i.rowid = a.instance WHERE a.id = ?
                """,
            arguments: [verdict.reviewer, item])
        else { throw AuditItemMissing(id: item) }
        let instance: String = row["instance_id"]
        let given: Int = row["given"]
        let needed: Int = row["needed_reviews"]
        guard row["mine"] as Int == 0 else {
            throw StoreConflict(instanceID: instance, message: "\(verdict.reviewer) already reviewed audit item \(item)")
        }
        guard given < needed else {
            throw StoreConflict(instanceID: instance, message: "audit item \(item) already has its \(needed) review(s)")
        }
        let record = AuditVerdictRecord(
            item: item, ordinal: given + 1, reviewer: verdict.reviewer, credential: verdict.credential, judgements: judgements, at: verdict.at)
        try db.execute(
            sql: "INSERT INTO audit_verdicts (item, ordinal, reviewer, credential, judgements, at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [item, record.ordinal, record.reviewer, record.credential, record.judgements, record.at])
        try append(
            kind: verdictKind, instance: row["instance"], instanceID: instance, seq: nil, at: verdict.at, actor: verdict.reviewer,
            payload: record.payload.jsonString, authority: nil, chain: &chain, db: db)
    }
}

/// What the journal says `audit_items` and `audit_verdicts` hold (part of `AuthorityReplay`).
struct AuditReplay {
    var items: [Int64: AuditItemRecord] = [:]
    var verdicts: [String: AuditVerdictRecord] = [:]

    static let itemSelect = "SELECT a.*, i.id AS instance_id FROM audit_items a JOIN instances i ON i.rowid = a.instance"

    /// Applies one journal row: verdicts by kind, items from the `sampled` of its authority.
    mutating func apply(kind: String, payload: String, authority: JSONValue?) {
        if kind == Journal.verdictKind, let value = try? JSONValue.parse(payload), let record = AuditVerdictRecord(payload: value) {
            verdicts[record.key] = record
        }
        for entry in authority?["sampled"]?.arrayValue ?? [] {
            if let record = AuditItemRecord(payload: entry) { items[record.id] = record }
        }
    }

    /// Every difference between the tables and what the journal says.
    func problems(_ db: Database) throws -> [String] {
        var problems: [String] = []
        var seen = Set<Int64>()
        for row in try Row.fetchAll(db, sql: Self.itemSelect + " ORDER BY a.id") {
            let stored = AuditItemRecord(row: row)
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
        for row in try Row.fetchAll(db, sql: "SELECT * FROM audit_verdicts ORDER BY item, ordinal") {
            let stored = AuditVerdictRecord(row: row)
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
