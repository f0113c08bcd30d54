import Foundation
import Logging
import PostgresNIO
import StewardCore
import StewardEngine
import StewardJSON
import Synchronization

/// Something to append to the journal through the writer.
enum PostgresWrite: Sendable {
    /// An instance transition.
    case transition(InstanceCommit, EncodedTransition)
    /// An audit entry.
    case audit(kind: String, actor: String, payload: String, at: Int64, instance: String?)
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
struct EncodedTransition: Sendable {
    /// The state snapshot, when this transition writes one (`InstanceCommit.writesSnapshot`).
    let state: String?
    /// The event's payload (the text the hash chain covers).
    let payload: String
    /// The pinned config, on an instance's first commit.
    let config: String?
    /// The pinned template's prompts, on an instance's first commit.
    let prompts: String?
    /// Each audit item's items, bindings and input, in `auditSamples` order.
    let auditSamples: [AuditItemRecord.Encoded]

    init(_ commit: InstanceCommit) {
        state = commit.writesSnapshot ? commit.state.jsonValue.jsonString : nil
        payload = commit.journalPayload
        config = commit.pinnedConfig?.jsonString
        prompts = commit.pinnedPromptsText
        auditSamples = commit.auditSamples.map(AuditItemRecord.Encoded.init)
    }
}

/// The store's single writer: batches concurrent writes into one transaction, a write waiting
/// only for the transaction in progress, never for a timer. Each write in a batch has its own
/// savepoint: a conflicting one is rolled back alone and reported to its caller.
///
/// Every write transaction of the store (this writer's and `JournalWriter.transaction`'s) locks
/// the `chain_head` row first, so the journal stays one chain across every engine on the database.
actor PostgresWriter {
    private let client: PostgresClient
    private let context: JournalWriter
    private var pending: [(PostgresWrite, CheckedContinuation<Void, any Error>)] = []
    private var writing = false
    private var closed = false
    private var idle: [CheckedContinuation<Void, Never>] = []
    /// Write transactions committed so far (commits per transaction, for tests and benchmarks).
    nonisolated let transactions = Atomic<Int>(0)
    /// Writes per transaction at most: each has a savepoint, and PostgreSQL slows every session's
    /// snapshots once a transaction has more than 64 subtransactions.
    static let batchLimit = 48

    init(client: PostgresClient, context: JournalWriter) {
        self.client = client
        self.context = context
    }

    /// Queues `write` and returns once the transaction holding it committed.
    /// - Throws: What the write threw (`StoreConflict`, `ReviewerMissing`, `AuditItemMissing`),
    ///   or `PostgresStoreError` when the transaction failed or the store is closed.
    func submit(_ write: PostgresWrite) async throws {
        guard !closed else { throw PostgresStoreError(.closed, "the PostgreSQL store at \(context.place) is closed") }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            pending.append((write, continuation))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    /// Refuses new writes and returns once the queued ones are written.
    func close() async {
        closed = true
        guard writing else { return }
        await withCheckedContinuation { idle.append($0) }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(Self.batchLimit))
            pending.removeFirst(batch.count)
            let writes = batch.map(\.0)
            let results: [Result<Void, any Error>]
            do {
                results = try await context.transaction(client) { journal in try await journal.apply(writes) }
                transactions.add(1, ordering: .relaxed)
            } catch {
                results = Array(repeating: .failure(context.wrap(error)), count: batch.count)
            }
            for (index, entry) in batch.enumerated() {
                entry.1.resume(with: results[index])
            }
        }
        writing = false
        for waiter in idle { waiter.resume() }
        idle = []
    }
}

/// What every journal write needs: the engine it writes for, its lease, where the store is.
struct JournalWriter: Sendable {
    let engineID: String
    let leaseDuration: Int64
    let logger: Logger
    /// `host:port/database`, for errors.
    let place: String
    let user: String

    func wrap(_ error: any Error) -> any Error { PostgresStoreError.wrap(error, place: place, user: user) }

    /// Runs `body` in one write transaction that holds the chain head (locked first), and saves
    /// the head `body` leaves; notifies the other engines when `body` asked to.
    func transaction<Result: Sendable>(
        _ client: PostgresClient, isolation: isolated (any Actor)? = #isolation, _ body: (inout Journal) async throws -> Result
    ) async throws -> Result {
        try await client.withConnection(isolation: isolation) { connection in
            try await connection.transaction(logger: logger, isolation: isolation) { connection in
                var journal = try await Journal(connection: connection, writer: self)
                let result = try await body(&journal)
                try await journal.finish()
                return result
            }
        }
    }
}

/// The SQL of appending to the journal and updating the projections, inside one write
/// transaction on one connection. `chain` is the head as this transaction has moved it.
struct Journal {
    let connection: PostgresConnection
    let writer: JournalWriter
    private(set) var chain: (lastID: Int64, lastHash: [UInt8])
    /// Whether to wake the other engines when the transaction commits (a timer due soon).
    var wakeOthers = false
    /// A timer due within this long of its commit's time wakes the other engines (ms).
    static let soon: Int64 = 5_000

    /// Locks the chain head and reads it.
    init(connection: PostgresConnection, writer: JournalWriter) async throws {
        self.connection = connection
        self.writer = writer
        let head = try await connection.rows("SELECT last_id, last_hash FROM chain_head WHERE one = 1 FOR UPDATE", logger: writer.logger).first
        if let head {
            chain = (try head["last_id"], try head.bytes("last_hash"))
        } else {
            // The head row was deleted by hand: continue after the journal's last row (verification reports it).
            let last = try await connection.rows("SELECT id, hash FROM journal ORDER BY id DESC LIMIT 1", logger: writer.logger).first
            chain = try last.map { (try $0["id"], try $0.bytes("hash")) } ?? (0, JournalChain.genesis)
        }
    }

    func rows(_ query: PostgresQuery) async throws -> [Row] { try await connection.rows(query, logger: writer.logger) }
    func run(_ query: PostgresQuery) async throws { try await connection.run(query, logger: writer.logger) }

    /// Saves the head and queues the wake-up (both take effect when the transaction commits).
    func finish() async throws {
        try await run(
            """
            INSERT INTO chain_head (one, last_id, last_hash) VALUES (1, \(chain.lastID), \(Data(chain.lastHash)))
            ON CONFLICT (one) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash
            """)
        if wakeOthers { try await run("SELECT pg_notify(\(workChannel), \(writer.engineID))") }
    }

    /// Applies writes in order, one savepoint each. A lone write needs none: when it fails, it
    /// throws and the whole transaction, which holds nothing else, rolls back.
    mutating func apply(_ writes: [PostgresWrite]) async throws -> [Result<Void, any Error>] {
        if writes.count == 1, let write = writes.first {
            do {
                try await apply(write)
                return [.success(())]
            } catch {
                throw Self.conflict(error, write) ?? error
            }
        }
        var results: [Result<Void, any Error>] = []
        results.reserveCapacity(writes.count)
        for write in writes {
            let before = (chain, wakeOthers)
            try await run("SAVEPOINT steward_write")
            do {
                try await apply(write)
                results.append(.success(()))
            } catch {
                results.append(.failure(Self.conflict(error, write) ?? writer.wrap(error)))
                try await run("ROLLBACK TO SAVEPOINT steward_write")
                (chain, wakeOthers) = before
            }
            try await run("RELEASE SAVEPOINT steward_write")
        }
        return results
    }

    /// A unique violation of a transition is a conflict (another engine got there first).
    private static func conflict(_ error: any Error, _ write: PostgresWrite) -> StoreConflict? {
        guard case .transition(let commit, _) = write, PostgresStoreError.sqlState(of: error) == "23505" else { return nil }
        return StoreConflict(instanceID: commit.state.id, message: "another write of this instance got there first")
    }

    private mutating func apply(_ write: PostgresWrite) async throws {
        switch write {
        case .transition(let commit, let encoded): try await applyTransition(commit, encoded: encoded)
        case .audit(let kind, let actor, let payload, let at, let instance):
            var rowid: Int64?
            if let instance { rowid = try await rows("SELECT rowid FROM instances WHERE id = \(instance)").first?["rowid"] }
            try await append(kind: kind, instance: rowid, instanceID: instance, seq: nil, at: at, actor: actor, payload: payload, authority: nil)
        case .reviewerAdded(let reviewer, let tokenHash, let actor):
            let credentials = JSONValue.array(reviewer.credentials.map { .string($0) }).jsonString
            try await run(
                """
                INSERT INTO reviewers (id, name, token_hash, credentials, role, created_at)
                VALUES (\(reviewer.id), \(reviewer.name), \(tokenHash), \(credentials), \(reviewer.role), \(reviewer.createdAt))
                """)
            // The whole row, token hash included, so verification can rebuild the table.
            try await append(
                kind: "reviewer_added", instance: nil, instanceID: nil, seq: nil, at: reviewer.createdAt, actor: actor,
                payload: ReviewerRecord(reviewer, tokenHash: tokenHash).payload.jsonString, authority: nil)
        case .reviewerRemoved(let id, let actor, let at):
            guard !(try await rows("DELETE FROM reviewers WHERE id = \(id) RETURNING id").isEmpty) else { throw ReviewerMissing() }
            try await append(
                kind: "reviewer_removed", instance: nil, instanceID: nil, seq: nil, at: at, actor: actor,
                payload: JSONValue.object(["id": .string(id)]).jsonString, authority: nil)
        case .auditVerdict(let verdict, let item, let judgements):
            try await applyVerdict(verdict, item: item, judgements: judgements)
        }
    }

    /// Appends one chained row after the head and moves the head to it.
    mutating func append(
        kind: String, instance: Int64?, instanceID: String?, seq: Int?, at: Int64, actor: String, payload: String, authority: String?
    ) async throws {
        let id = chain.lastID + 1
        let hash = JournalChain.link(
            previous: chain.lastHash, id: id, instance: instanceID, seq: seq, kind: kind, at: at, actor: actor, payload: payload,
            authority: authority)
        try await run(
            """
            INSERT INTO journal (id, instance, seq, kind, at, actor, payload, authority, hash)
            VALUES (\(id), \(instance), \(seq), \(kind), \(at), \(actor), \(payload), \(authority), \(Data(hash)))
            """)
        chain = (id, hash)
    }

    /// Records notifications tied to no instance or task.
    func insertNotifications(_ notifications: [NotificationRecord]) async throws {
        for notification in notifications {
            try await run("INSERT INTO notifications (recipient, message, at) VALUES (\(notification.recipient), \(notification.message), \(notification.at))")
        }
    }

    // MARK: Transitions

    /// Everything a transition writes, as `SQLiteStore`'s `Journal.applyTransition`, plus the lease.
    mutating func applyTransition(_ commit: InstanceCommit, encoded: EncodedTransition) async throws {
        let state = commit.state
        if let config = encoded.config, let hash = state.configHash {
            try await run("INSERT INTO configs (hash, body) VALUES (\(hash), \(config)) ON CONFLICT DO NOTHING")
        }
        if let template = commit.pinnedTemplate {
            try await run(
                """
                INSERT INTO templates (hash, name, version, text, prompts, stored_at)
                VALUES (\(template.hash), \(template.name), \(template.version), \(template.text), \(encoded.prompts ?? "{}"), \(commit.at))
                ON CONFLICT DO NOTHING
                """)
        }
        let rowid = state.sequence == 1 ? try await insertInstance(commit, encoded: encoded) : try await updateInstance(commit, encoded: encoded)
        if let timer = commit.firedTimer {
            let fired = try await rows(
                """
                UPDATE timers SET fired_at = \(commit.at)
                WHERE id = \(timer) AND instance = \(rowid) AND fired_at IS NULL AND cancelled_at IS NULL RETURNING id
                """)
            guard !fired.isEmpty else { throw StoreConflict(instanceID: state.id, message: "timer \(timer) already fired or was cancelled") }
        }
        if let withdrawn = commit.withdrawnTask {
            // Before any task the commit opens: a move's new one may have the same state name.
            try await run(
                """
                UPDATE review_tasks SET status = \(withdrawn.status), decided_at = \(commit.at)
                WHERE instance = \(rowid) AND state = \(withdrawn.state) AND status = 'open'
                """)
        }
        if let closed = commit.closedTask {
            try await run(
                """
                UPDATE review_tasks SET status = 'decided', decided_at = \(commit.at), decision = \(closed.decision.rawValue), reviewer = \(closed.reviewer)
                WHERE instance = \(rowid) AND state = \(closed.state) AND status = 'open'
                """)
        }
        if let left = commit.cancelTimersOf {
            try await run(
                """
                UPDATE timers SET cancelled_at = \(commit.at)
                WHERE instance = \(rowid) AND state = \(left) AND fired_at IS NULL AND cancelled_at IS NULL
                """)
            try await run("DELETE FROM event_waits WHERE instance = \(rowid) AND state = \(left)")
        }
        if let awaited = commit.eventWait {
            try await run(
                """
                INSERT INTO event_waits (instance, state, event, key) VALUES (\(rowid), \(awaited.state), \(awaited.event), \(awaited.key))
                ON CONFLICT (instance, state) DO UPDATE SET event = excluded.event, key = excluded.key
                """)
        }
        if let example = commit.labelledExample {
            try await run(
                """
                INSERT INTO labelled_examples (instance, state, template, input, model_output, human_output, reviewer, at)
                VALUES (\(rowid), \(example.state), \(example.template), \(example.input.jsonString), \(example.modelOutput.jsonString),
                        \(example.humanOutput.jsonString), \(example.reviewer), \(commit.at))
                """)
        }
        if let escalation = commit.escalation {
            try await run(
                """
                UPDATE review_tasks SET escalation_level = \(escalation.level), assigned = COALESCE(\(escalation.assigned), assigned)
                WHERE instance = \(rowid) AND state = \(escalation.state) AND status = 'open'
                """)
        }
        for notification in commit.notifications {
            try await run(
                """
                INSERT INTO notifications (instance, task, recipient, message, at)
                VALUES (\(rowid), \(notification.task), \(notification.recipient), \(notification.message), \(commit.at))
                """)
        }
        var opened: TaskRecord?
        if let request = commit.openedCheckpoint {
            let subject = request.subject.jsonString
            let dueAt = commit.schedule?.dueAt
            let task: Int64 = try await rows(
                """
                INSERT INTO review_tasks (instance, state, credential, status, subject, decisions, opened_at, due_at)
                VALUES (\(rowid), \(request.state), \(request.credential), 'open', \(subject),
                        \(request.decisions.map(\.rawValue).joined(separator: ",")), \(commit.at), \(dueAt))
                RETURNING id
                """
            ).first?["id"] ?? 0
            opened = TaskRecord(id: task, instance: state.id, request: request, subject: subject, openedAt: commit.at, dueAt: dueAt)
            for timer in commit.schedule?.timers ?? [] {
                try await insertTimer(timer, instance: rowid, task: task, state: timer.state ?? request.state, commitAt: commit.at)
            }
        }
        for timer in commit.timers {
            try await insertTimer(timer, instance: rowid, task: nil, state: timer.state, commitAt: commit.at)
        }
        var sampled: [AuditItemRecord] = []
        for (request, sample) in zip(commit.auditSamples, encoded.auditSamples) {
            let existing = try await rows(
                "SELECT 1 AS one FROM audit_items WHERE instance = \(rowid) AND state = \(request.state) AND visit = \(request.visit)")
            guard existing.isEmpty else {
                throw StoreConflict(instanceID: state.id, message: "an audit item for \(request.state) (visit \(request.visit)) already exists")
            }
            let item: Int64 = try await rows(
                """
                INSERT INTO audit_items (instance, state, visit, template, version, customer, credential, items, bindings, input, rate, needed_reviews, created_at)
                VALUES (\(rowid), \(request.state), \(request.visit), \(state.template), \(state.templateVersion), \(state.customer), \(request.credential),
                        \(sample.items), \(sample.bindings), \(sample.input), \(request.rate), \(request.neededReviews), \(commit.at))
                RETURNING id
                """
            ).first?["id"] ?? 0
            sampled.append(AuditItemRecord(id: item, instance: state, request: request, encoded: sample, at: commit.at))
        }
        // Last, so the row can carry the ids of the task and the audit items this commit
        // opened: every change to review_tasks and audit_items is journalled (and hashed) with
        // the event that caused it.
        try await append(
            kind: commit.event.name, instance: rowid, instanceID: state.id, seq: state.sequence, at: commit.at, actor: commit.actor,
            payload: encoded.payload, authority: JournalChain.authority(commit, opened: opened, sampled: sampled))
    }

    private mutating func insertTimer(_ timer: ScheduledTimer, instance: Int64, task: Int64?, state: String?, commitAt: Int64) async throws {
        try await run(
            """
            INSERT INTO timers (instance, task, state, kind, due_at, payload)
            VALUES (\(instance), \(task), \(state), \(timer.kind), \(timer.at), \(timer.payload.jsonString))
            """)
        if timer.at <= commitAt + Self.soon { wakeOthers = true }
    }

    /// The lease columns' new values for `state`: this engine's lease while it runs, none otherwise (constant SQL).
    private func lease(_ state: InstanceState, _ statement: inout Statement) throws -> (owner: String, until: String) {
        guard state.status == .running else { return ("NULL", "NULL") }
        return (try statement.bind(writer.engineID), "\(databaseNow) + \(try statement.bind(writer.leaseDuration))")
    }

    private func insertInstance(_ commit: InstanceCommit, encoded: EncodedTransition) async throws -> Int64 {
        let state = commit.state
        let taken = try await rows(
            """
            SELECT EXISTS (SELECT 1 FROM instances WHERE client_key = \(commit.clientKey)) AS key_used,
                   EXISTS (SELECT 1 FROM instances WHERE id = \(state.id)) AS id_used
            """
        ).first
        if let key = commit.clientKey, try taken?["key_used"] == true {
            throw StoreConflict(instanceID: state.id, message: "client key '\(key)' is already used")
        }
        if try taken?["id_used"] == true { throw StoreConflict(instanceID: state.id, message: "instance already exists") }
        var insert = Statement("INSERT INTO instances (id, client_key, template, version, customer, status, current, sequence, state, created_at, updated_at, snapshot_seq, lease_owner, lease_until) VALUES (")
        let values = [
            try insert.bind(state.id), try insert.bind(commit.clientKey), try insert.bind(state.template), try insert.bind(state.templateVersion),
            try insert.bind(state.customer), try insert.bind(state.status.rawValue), try insert.bind(state.current), try insert.bind(state.sequence),
            try insert.bind(encoded.state ?? ""), try insert.bind(commit.at), try insert.bind(commit.at), "1",
        ]
        let lease = try lease(state, &insert)
        insert.append((values + [lease.owner, lease.until]).joined(separator: ", ") + ") RETURNING rowid")
        guard let rowid: Int64 = try await rows(insert.query).first?["rowid"] else {
            throw PostgresStoreError(.server, "the PostgreSQL store at \(writer.place) stored instance \(state.id) without returning its row")
        }
        return rowid
    }

    /// Applies the sequence check and the lease check in the UPDATE itself; when it matches no
    /// row, reads why.
    private func updateInstance(_ commit: InstanceCommit, encoded: EncodedTransition) async throws -> Int64 {
        let state = commit.state
        var update = Statement("UPDATE instances SET ")
        var sets = [
            "status = \(try update.bind(state.status.rawValue))", "current = \(try update.bind(state.current))",
            "sequence = \(try update.bind(state.sequence))", "updated_at = \(try update.bind(commit.at))",
        ]
        if let snapshot = encoded.state {
            sets += ["state = \(try update.bind(snapshot))", "snapshot_seq = \(try update.bind(state.sequence))"]
        }
        // A move to another template version: the listing's version column follows it.
        if case .moved = commit.event { sets.append("version = \(try update.bind(state.templateVersion))") }
        let lease = try lease(state, &update)
        sets += ["lease_owner = \(lease.owner)", "lease_until = \(lease.until)"]
        let me = try update.bind(writer.engineID)
        update.append(
            sets.joined(separator: ", ")
                + " WHERE id = \(try update.bind(state.id)) AND sequence = \(try update.bind(state.sequence - 1))"
                + " AND (lease_owner IS NULL OR lease_owner = \(me) OR lease_until IS NULL OR lease_until <= \(databaseNow)) RETURNING rowid")
        if let rowid: Int64 = try await rows(update.query).first?["rowid"] { return rowid }
        guard let row = try await rows(
            "SELECT sequence, lease_owner, lease_until - \(unescaped: databaseNow) AS left_ms FROM instances WHERE id = \(state.id)"
        ).first else {
            throw StoreConflict(instanceID: state.id, message: "instance does not exist")
        }
        let owner: String? = try row["lease_owner"]
        let left: Int64? = try row["left_ms"]
        if let owner, owner != writer.engineID, let left, left > 0 {
            throw StoreConflict(instanceID: state.id, message: "engine \(owner) holds its lease (for another \(left) ms)")
        }
        let stored: Int = try row["sequence"]
        throw StoreConflict(instanceID: state.id, message: "expected sequence \(state.sequence - 1), store has \(stored)")
    }

    // MARK: Verdicts

    /// Writes a verdict as the next review of `item` and journals it, refusing (before
    /// writing) a reviewer who already reviewed the item and an item that has its reviews.
    mutating func applyVerdict(_ verdict: AuditVerdict, item: Int64, judgements: String) async throws {
        guard let row = try await rows(
            """
            SELECT a.instance, a.needed_reviews, i.id AS instance_id,
                   (SELECT COUNT(*) FROM audit_verdicts v WHERE v.item = a.id) AS given,
                   (SELECT COUNT(*) FROM audit_verdicts v WHERE v.item = a.id AND v.reviewer = \(verdict.reviewer)) AS mine
            FROM audit_items a JOIN instances i ON i.rowid = a.instance WHERE a.id = \(item)
            """
        ).first else { throw AuditItemMissing(id: item) }
        let instance: String = try row["instance_id"]
        let given: Int = try row["given"]
        let needed: Int = try row["needed_reviews"]
        guard try row["mine"] as Int == 0 else {
            throw StoreConflict(instanceID: instance, message: "\(verdict.reviewer) already reviewed audit item \(item)")
        }
        guard given < needed else {
            throw StoreConflict(instanceID: instance, message: "audit item \(item) already has its \(needed) review(s)")
        }
        let record = AuditVerdictRecord(
            item: item, ordinal: given + 1, reviewer: verdict.reviewer, credential: verdict.credential, judgements: judgements, at: verdict.at)
        try await run(
            """
            INSERT INTO audit_verdicts (item, ordinal, reviewer, credential, judgements, at)
            VALUES (\(item), \(record.ordinal), \(record.reviewer), \(record.credential), \(record.judgements), \(record.at))
            """)
        try await append(
            kind: JournalChain.verdictKind, instance: try row["instance"], instanceID: instance, seq: nil, at: verdict.at, actor: verdict.reviewer,
            payload: record.payload.jsonString, authority: nil)
    }
}
