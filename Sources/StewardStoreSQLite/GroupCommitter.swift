import Foundation
import GRDB
import Synchronization
import StewardDigest
import StewardCore
import StewardEngine
import StewardJSON

/// Something to append to the journal.
enum JournalWrite: Sendable {
    /// An instance transition.
    case transition(InstanceCommit, EncodedCommit)
    /// An audit entry.
    case audit(kind: String, actor: String, payload: JSONValue, at: Int64, instance: String?)
    /// A reviewer added, with the audit entry saying so.
    case reviewerAdded(Reviewer, tokenHash: String, actor: String)
    /// A reviewer removed (the write fails with `ReviewerMissing` when there is none).
    case reviewerRemoved(id: String, actor: String, at: Int64)
    /// A verdict on an audit item, with the audit entry recording it.
    case auditVerdict(AuditVerdict, item: Int64, judgements: String)
}

/// A `reviewerRemoved` write found no such reviewer.
struct ReviewerMissing: Error {}

/// A transition's JSON, encoded by the committing task before it queues for the single
/// writer, so the serial part of a commit does only SQL.
struct EncodedCommit: Sendable {
    /// The state snapshot, when this transition writes one: at creation and whenever the
    /// instance comes to rest. A running instance's state is its last snapshot plus its newer
    /// journal events, which recovery replays. Deflated here, off the single writer.
    let state: StoredText?
    /// The event's payload (the text the hash chain covers).
    let payload: String
    /// The payload as the row stores it.
    let storedPayload: StoredText
    /// The pinned config, on an instance's first commit.
    let config: String?
    /// The pinned template's prompts, on an instance's first commit.
    let prompts: String?
    /// Each audit item's items, bindings and input, in `auditSamples` order.
    let auditSamples: [AuditItemRecord.Encoded]

    init(_ commit: InstanceCommit) {
        // A snapshot at rest (waiting or finished) is deflated: it stays for hours or for good.
        // The first snapshot of an instance still running is replaced within milliseconds.
        if commit.writesSnapshot {
            let json = commit.state.jsonValue.jsonString
            state = commit.state.status != .running ? StoredText(json, threshold: StoredText.snapshotThreshold) : .text(json)
        } else {
            state = nil
        }
        payload = commit.journalPayload
        storedPayload = StoredText(payload, threshold: StoredText.payloadThreshold)
        config = commit.pinnedConfig?.jsonString
        prompts = commit.pinnedPromptsText
        auditSamples = commit.auditSamples.map(AuditItemRecord.Encoded.init)
    }
}

/// Batches concurrent writes into one SQLite transaction (one fsync). A write waits only for
/// the transaction in progress, never for a timer. Each write in a batch succeeds or fails on
/// its own: a conflicting transition is rolled back to its savepoint and reported.
actor GroupCommitter {
    private let pool: DatabasePool
    /// Write transactions committed so far (for the benchmarks' transitions per fsync).
    nonisolated let transactions = Atomic<Int>(0)
    private var pending: [(JournalWrite, CheckedContinuation<Void, any Error>)] = []
    private var writing = false

    init(pool: DatabasePool) {
        self.pool = pool
    }

    func submit(_ write: JournalWrite) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            pending.append((write, continuation))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            let writes = batch.map(\.0)
            let results: [Result<Void, any Error>]
            do {
                results = try await pool.write { db in try Journal.apply(writes, in: db) }
                transactions.add(1, ordering: .relaxed)
            } catch {
                results = Array(repeating: .failure(error), count: batch.count)
            }
            for (index, entry) in batch.enumerated() {
                entry.1.resume(with: results[index])
            }
        }
        writing = false
    }
}

/// The SQL of appending to the journal and updating the projections.
enum Journal {
    /// Applies writes in order inside the caller's transaction, one savepoint each.
    static func apply(_ writes: [JournalWrite], in db: Database) throws -> [Result<Void, any Error>] {
        var chain = try ChainHead.load(db)
        var results: [Result<Void, any Error>] = []
        results.reserveCapacity(writes.count)
        // One savepoint per write, through cached statements: GRDB's `inSavepoint` compiles
        // its SAVEPOINT and RELEASE statements anew each time, on the writer's hot path.
        let savepoint = try db.cachedStatement(sql: "SAVEPOINT steward_write")
        let release = try db.cachedStatement(sql: "RELEASE SAVEPOINT steward_write")
        let rollback = try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT steward_write")
        for write in writes {
            var result: Result<Void, any Error> = .success(())
            try savepoint.execute()
            do {
                switch write {
                case .transition(let commit, let encoded): try applyTransition(commit, encoded: encoded, chain: &chain, db: db)
                case .audit(let kind, let actor, let payload, let at, let instance):
                    let rowid = try instance.flatMap { try Int64.fetchOne(db, sql: "SELECT rowid FROM instances WHERE id = ?", arguments: [$0]) }
                    try append(
                        kind: kind, instance: rowid, instanceID: instance, seq: nil, at: at, actor: actor, payload: payload.jsonString,
                        authority: nil, chain: &chain, db: db)
                case .reviewerAdded(let reviewer, let tokenHash, let actor):
                    let credentials = JSONValue.array(reviewer.credentials.map { .string($0) })
                    try db.execute(
                        sql: "INSERT INTO reviewers (id, name, token_hash, credentials, role, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [reviewer.id, reviewer.name, tokenHash, credentials.jsonString, reviewer.role, reviewer.createdAt])
                    // The whole row, token hash included, so verification can rebuild the table.
                    try append(
                        kind: "reviewer_added", instance: nil, instanceID: nil, seq: nil, at: reviewer.createdAt, actor: actor,
                        payload: ReviewerRecord(reviewer, tokenHash: tokenHash).payload.jsonString, authority: nil, chain: &chain, db: db)
                case .reviewerRemoved(let id, let actor, let at):
                    try db.execute(sql: "DELETE FROM reviewers WHERE id = ?", arguments: [id])
                    guard db.changesCount == 1 else { throw ReviewerMissing() }
                    try append(
                        kind: "reviewer_removed", instance: nil, instanceID: nil, seq: nil, at: at, actor: actor,
                        payload: JSONValue.object(["id": .string(id)]).jsonString, authority: nil, chain: &chain, db: db)
                case .auditVerdict(let verdict, let item, let judgements):
                    try applyVerdict(verdict, item: item, judgements: judgements, chain: &chain, db: db)
                }
            } catch {
                result = .failure(error)
                try rollback.execute()
            }
            try release.execute()
            if case .failure = result { chain = try ChainHead.load(db) }
            results.append(result)
        }
        try chain.save(db)
        return results
    }

    static func applyTransition(_ commit: InstanceCommit, encoded: EncodedCommit, chain: inout ChainHead, db: Database) throws {
        let state = commit.state
        let snapshot = encoded.state != nil
        let stateJSON = encoded.state ?? .text("")
        if let config = encoded.config, let hash = state.configHash {
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO configs (hash, body) VALUES (?, ?)").execute(arguments: [hash, config])
        }
        if let template = commit.pinnedTemplate {
            try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO templates (hash, name, version, text, prompts, stored_at) VALUES (?, ?, ?, ?, ?, ?)"
            ).execute(arguments: [template.hash, template.name, template.version, template.text, encoded.prompts ?? "{}", commit.at])
        }
        let rowid: Int64
        if state.sequence == 1 {
            // Cached statements: these run once per transition on the writer's hot path.
            if let key = commit.clientKey,
                try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM instances WHERE client_key = ?"), arguments: [key]) != nil
            {
                throw StoreConflict(instanceID: state.id, message: "client key '\(key)' is already used")
            }
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM instances WHERE id = ?"), arguments: [state.id]) != nil {
                throw StoreConflict(instanceID: state.id, message: "instance already exists")
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO instances (id, client_key, template, version, customer, status, current, sequence, state, created_at, updated_at, snapshot_seq)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                    """
            ).execute(
                arguments: [state.id, commit.clientKey, state.template, state.templateVersion, state.customer, state.status.rawValue,
                            state.current, state.sequence, stateJSON, commit.at, commit.at])
            rowid = db.lastInsertedRowID
        } else {
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT rowid, sequence FROM instances WHERE id = ?"), arguments: [state.id]) else {
                throw StoreConflict(instanceID: state.id, message: "instance does not exist")
            }
            let stored: Int = row["sequence"]
            guard stored == state.sequence - 1 else {
                throw StoreConflict(instanceID: state.id, message: "expected sequence \(state.sequence - 1), store has \(stored)")
            }
            rowid = row["rowid"]
            if snapshot {
                try db.cachedStatement(sql: "UPDATE instances SET status = ?, current = ?, sequence = ?, state = ?, snapshot_seq = ?, updated_at = ? WHERE rowid = ?")
                    .execute(arguments: [state.status.rawValue, state.current, state.sequence, stateJSON, state.sequence, commit.at, rowid])
            } else {
                try db.cachedStatement(sql: "UPDATE instances SET status = ?, current = ?, sequence = ?, updated_at = ? WHERE rowid = ?")
                    .execute(arguments: [state.status.rawValue, state.current, state.sequence, commit.at, rowid])
            }
        }
        if let timer = commit.firedTimer {
            try db.cachedStatement(sql: "UPDATE timers SET fired_at = ? WHERE id = ? AND instance = ? AND fired_at IS NULL AND cancelled_at IS NULL")
                .execute(arguments: [commit.at, timer, rowid])
            guard db.changesCount == 1 else {
                throw StoreConflict(instanceID: state.id, message: "timer \(timer) already fired or was cancelled")
            }
        }
        if case .moved = commit.event {
            // A move to another template version: the listing's version column follows it.
            try db.cachedStatement(sql: "UPDATE instances SET version = ? WHERE rowid = ?").execute(arguments: [state.templateVersion, rowid])
        }
        if let withdrawn = commit.withdrawnTask {
            // Before any task the commit opens: a move's new one may have the same state name.
            try db.cachedStatement(
                sql: "UPDATE review_tasks SET status = ?, decided_at = ? WHERE instance = ? AND state = ? AND status = 'open'"
            ).execute(arguments: [withdrawn.status, commit.at, rowid, withdrawn.state])
        }
        if let closed = commit.closedTask {
            try db.cachedStatement(
                sql: """
                    UPDATE review_tasks SET status = 'decided', decided_at = ?, decision = ?, reviewer = ?
                    WHERE instance = ? AND state = ? AND status = 'open'
                    """
            ).execute(arguments: [commit.at, closed.decision.rawValue, closed.reviewer, rowid, closed.state])
        }
        if let left = commit.cancelTimersOf {
            try db.cachedStatement(
                sql: "UPDATE timers SET cancelled_at = ? WHERE instance = ? AND state = ? AND fired_at IS NULL AND cancelled_at IS NULL"
            ).execute(arguments: [commit.at, rowid, left])
            try db.cachedStatement(sql: "DELETE FROM event_waits WHERE instance = ? AND state = ?").execute(arguments: [rowid, left])
        }
        if let awaited = commit.eventWait {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO event_waits (instance, state, event, key) VALUES (?, ?, ?, ?)")
                .execute(arguments: [rowid, awaited.state, awaited.event, awaited.key])
        }
        if let example = commit.labelledExample {
            try db.cachedStatement(
                sql: """
                    INSERT INTO labelled_examples (instance, state, template, input, model_output, human_output, reviewer, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [rowid, example.state, example.template, example.input.jsonString, example.modelOutput.jsonString,
                            example.humanOutput.jsonString, example.reviewer, commit.at])
        }
        if let escalation = commit.escalation {
            try db.cachedStatement(
                sql: "UPDATE review_tasks SET escalation_level = ?, assigned = COALESCE(?, assigned) WHERE instance = ? AND state = ? AND status = 'open'"
            ).execute(arguments: [escalation.level, escalation.assigned, rowid, escalation.state])
        }
        for notification in commit.notifications {
            try db.cachedStatement(sql: "INSERT INTO notifications (instance, task, recipient, message, at) VALUES (?, ?, ?, ?, ?)")
                .execute(arguments: [rowid, notification.task, notification.recipient, notification.message, commit.at])
        }
        var opened: TaskRecord?
        if let request = commit.openedCheckpoint {
            let subject = request.subject.jsonString
            try db.cachedStatement(
                sql: """
                    INSERT INTO review_tasks (instance, state, credential, status, subject, decisions, opened_at, due_at)
                    VALUES (?, ?, ?, 'open', ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [rowid, request.state, request.credential, subject,
                            request.decisions.map(\.rawValue).joined(separator: ","), commit.at, commit.schedule?.dueAt])
            let task = db.lastInsertedRowID
            opened = TaskRecord(id: task, instance: state.id, request: request, subject: subject, openedAt: commit.at, dueAt: commit.schedule?.dueAt)
            for timer in commit.schedule?.timers ?? [] {
                try db.cachedStatement(sql: "INSERT INTO timers (instance, task, state, kind, due_at, payload) VALUES (?, ?, ?, ?, ?, ?)")
                    .execute(arguments: [rowid, task, timer.state ?? request.state, timer.kind, timer.at, timer.payload.jsonString])
            }
        }
        for timer in commit.timers {
            try db.cachedStatement(sql: "INSERT INTO timers (instance, task, state, kind, due_at, payload) VALUES (?, NULL, ?, ?, ?, ?)")
                .execute(arguments: [rowid, timer.state, timer.kind, timer.at, timer.payload.jsonString])
        }
        var sampled: [AuditItemRecord] = []
        for (request, encodedSample) in zip(commit.auditSamples, encoded.auditSamples) {
            if try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM audit_items WHERE instance = ? AND state = ? AND visit = ?"),
                arguments: [rowid, request.state, request.visit]) != nil
            {
                throw StoreConflict(instanceID: state.id, message: "an audit item for \(request.state) (visit \(request.visit)) already exists")
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO audit_items (instance, state, visit, template, version, customer, credential, items, bindings, input, rate, needed_reviews, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [rowid, request.state, request.visit, state.template, state.templateVersion, state.customer, request.credential,
                            encodedSample.items, encodedSample.bindings, encodedSample.input, request.rate, request.neededReviews, commit.at])
            sampled.append(AuditItemRecord(id: db.lastInsertedRowID, instance: state, request: request, encoded: encodedSample, at: commit.at))
        }
        // Last, so the row can carry the ids of the task and the audit items this commit
        // opened: every change to review_tasks and audit_items is journalled (and hashed) with
        // the event that caused it.
        try append(
            kind: commit.event.name, instance: rowid, instanceID: state.id, seq: state.sequence, at: commit.at, actor: commit.actor,
            payload: encoded.payload, stored: encoded.storedPayload, authority: JournalChain.authority(commit, opened: opened, sampled: sampled),
            chain: &chain, db: db)
    }

    /// Appends one audit row tied to no instance, in the caller's write transaction (a write
    /// outside the group committer: GRDB's single writer keeps the chain in order), and saves
    /// the chain's new head.
    static func appendStandalone(_ db: Database, kind: String, actor: String, at: Int64, payload: JSONValue) throws {
        var chain = try ChainHead.load(db)
        try append(kind: kind, instance: nil, instanceID: nil, seq: nil, at: at, actor: actor, payload: payload.jsonString, authority: nil, chain: &chain, db: db)
        try chain.save(db)
    }

    /// Records notifications tied to no instance or task, in the caller's transaction.
    static func insertNotifications(_ notifications: [NotificationRecord], db: Database) throws {
        for notification in notifications {
            try db.cachedStatement(sql: "INSERT INTO notifications (recipient, message, at) VALUES (?, ?, ?)")
                .execute(arguments: [notification.recipient, notification.message, notification.at])
        }
    }

    /// Appends one chained row. `authority` is the review-task and audit-item change the row records (JSON),
    /// hashed with it. `stored` is `payload` as the row keeps it (encoded here when nil).
    static func append(
        kind: String, instance: Int64?, instanceID: String?, seq: Int?, at: Int64, actor: String, payload: String,
        stored: StoredText? = nil, authority: String?, chain: inout ChainHead, db: Database
    ) throws {
        let id = chain.lastID + 1
        let hash = JournalChain.link(
            previous: chain.lastHash, id: id, instance: instanceID, seq: seq, kind: kind, at: at, actor: actor, payload: payload,
            authority: authority)
        let statement = try db.cachedStatement(
            sql: "INSERT INTO journal (id, instance, seq, kind, at, actor, payload, authority, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        try statement.execute(arguments: [id, instance, seq, kind, at, actor, stored ?? StoredText(payload, threshold: StoredText.payloadThreshold), authority, Data(hash)])
        chain = ChainHead(lastID: id, lastHash: hash)
    }
}

/// The end of the hash chain (`JournalChain`): the last row's id and hash, as this store's
/// single writer appends after it.
struct ChainHead {
    var lastID: Int64
    var lastHash: [UInt8]

    static let genesis = JournalChain.genesis

    static func load(_ db: Database) throws -> ChainHead {
        guard let row = try Row.fetchOne(db, sql: "SELECT id, hash FROM journal ORDER BY id DESC LIMIT 1") else {
            return ChainHead(lastID: 0, lastHash: genesis)
        }
        let hash: Data = row["hash"]
        return ChainHead(lastID: row["id"], lastHash: Array(hash))
    }

    /// Records this head as the journal's end.
    func save(_ db: Database) throws {
        guard lastID > 0 else { return }
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO chain_head (one, last_id, last_hash) VALUES (1, ?, ?)")
            .execute(arguments: [lastID, Data(lastHash)])
    }
}
