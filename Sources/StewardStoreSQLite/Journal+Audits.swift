import Foundation
import GRDB
import StewardCore
import StewardEngine
import StewardJSON

extension AuditItemRecord {
    /// A row of `audit_items` joined with its instance's id as `instance_id`.
    init(row: Row) {
        self.init(
            id: row["id"], instance: row["instance_id"], state: row["state"], visit: row["visit"], template: row["template"],
            version: row["version"], customer: row["customer"], credential: row["credential"], neededReviews: row["needed_reviews"],
            createdAt: row["created_at"], items: row["items"], bindings: row["bindings"], input: row["input"], rate: row["rate"])
    }
}

extension AuditVerdictRecord {
    /// A row of `audit_verdicts`.
    init(row: Row) {
        self.init(item: row["item"], ordinal: row["ordinal"], reviewer: row["reviewer"], credential: row["credential"], judgements: row["judgements"], at: row["at"])
    }
}

extension Journal {
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
            kind: JournalChain.verdictKind, instance: row["instance"], instanceID: instance, seq: nil, at: verdict.at, actor: verdict.reviewer,
            payload: record.payload.jsonString, authority: nil, chain: &chain, db: db)
    }
}

extension AuditReplay {
    static let itemSelect = "SELECT a.*, i.id AS instance_id FROM audit_items a JOIN instances i ON i.rowid = a.instance"
}
