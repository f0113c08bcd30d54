import StewardCore
import StewardDigest
import StewardJSON

/// The journal's hash chain and what a commit journals, shared by every store backend so that
/// a journal written by one verifies byte for byte like a journal written by another.
///
/// Each journal row's hash covers the previous row's hash and the row's own content, so editing
/// or deleting any row breaks every hash after it. Pure functions: no I/O, callable from any thread.
public enum JournalChain {
    /// The "previous hash" of the first row: 32 zero bytes.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// The kind of the entry a schema migration appends when it starts journalling the
    /// authority tables: what they held before, so rows older than the journalling are not reported.
    public static let baselineKind = "authority_baseline"

    /// The kind of the journal entry of an audit verdict.
    public static let verdictKind = "audit_verdict"

    /// The hash of one row.
    ///
    /// - Parameters:
    ///   - previous: The previous row's hash (`genesis` for row 1).
    ///   - id: The row's id (the chain's position, 1...).
    ///   - instance: The instance's id (not a store's internal row number), nil for an entry of none.
    ///   - seq: The instance's sequence, nil for an audit entry.
    ///   - kind: The event's or entry's kind.
    ///   - at: When, ms since 1970.
    ///   - actor: Who.
    ///   - payload: The payload's JSON text exactly as stored (the chain covers the text, not a re-serialisation).
    ///   - authority: The review-task and audit-item change the row records (JSON), if any. A row
    ///     without one hashes as before the column existed, so chains written by older versions still verify.
    /// - Returns: The SHA-256 of previous ‖ id US instance US seq US kind US at US actor US payload [RS authority].
    public static func link(
        previous: [UInt8], id: Int64, instance: String?, seq: Int?, kind: String, at: Int64, actor: String, payload: String,
        authority: String? = nil
    ) -> [UInt8] {
        // Fed piece by piece: the same bytes as concatenating them, without building the message.
        var hasher = SHA256.Hasher()
        hasher.update(previous)
        hasher.update(utf8: String(id))
        hasher.update(byte: 0x1F)
        if let instance { hasher.update(utf8: instance) }
        hasher.update(byte: 0x1F)
        if let seq { hasher.update(utf8: String(seq)) }
        hasher.update(byte: 0x1F)
        hasher.update(utf8: kind)
        hasher.update(byte: 0x1F)
        hasher.update(utf8: String(at))
        hasher.update(byte: 0x1F)
        hasher.update(utf8: actor)
        hasher.update(byte: 0x1F)
        hasher.update(utf8: payload)
        if let authority {
            hasher.update(byte: 0x1E)
            hasher.update(utf8: authority)
        }
        return hasher.finalize()
    }

    /// The journalled task and audit-item changes of a commit (its row's `authority`), nil when
    /// it changes neither.
    /// - Parameters:
    ///   - commit: The transition.
    ///   - opened: The task it opened, with the id the store gave it.
    ///   - sampled: The audit items it wrote, with their ids.
    public static func authority(_ commit: InstanceCommit, opened: TaskRecord?, sampled: [AuditItemRecord] = []) -> String? {
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

extension InstanceCommit {
    /// Whether this commit writes the instance's state snapshot: at creation and whenever the
    /// instance comes to rest (waits or finishes). A running instance's state is its last
    /// snapshot plus its newer journal events, which recovery replays.
    public var writesSnapshot: Bool { state.status != .running || state.sequence == 1 }

    /// The event's payload as journalled (the text the hash chain covers): the event's own JSON,
    /// with `binary` (the plugin's SHA-256, `servedBy`) beside its fields when there is one.
    /// Replay reads the event and ignores `binary`. Encode it off any single writer: it is pure.
    public var journalPayload: String {
        if let binary = servedBy, case .object(var members) = event.payload {
            members["binary"] = .string(binary)
            return JSONValue.object(members).jsonString
        }
        return event.payload.jsonString
    }

    /// The pinned template's prompts as stored beside it (a JSON object of texts), on an
    /// instance's first commit; nil when the commit pins no template.
    public var pinnedPromptsText: String? {
        pinnedTemplate.map { JSONValue.object($0.prompts.mapValues { .string($0) }).jsonString }
    }
}

/// Walks a journal row by row, in id order, recomputing the hash chain and replaying what the
/// rows say the authority tables hold; a store feeds it its rows and tables (read in one
/// snapshot) and reports `verification`. Stops collecting after 20 chain problems.
public struct JournalVerifier {
    /// Chain problems found so far.
    public private(set) var problems: [String] = []
    /// Rows checked so far.
    public private(set) var checked = 0
    /// What the rows so far say the authority tables hold.
    public private(set) var authority = AuthorityReplay()
    private var previous = JournalChain.genesis
    private var expectedID: Int64 = 1

    /// A verifier before the first row.
    public init() {}

    /// Checks the next row.
    /// - Parameters:
    ///   - payload: Reads the row's payload text; an error is reported as a damaged payload.
    ///   - hash: The hash stored with the row.
    /// - Returns: False when enough problems were found and the walk should stop.
    public mutating func check(
        id: Int64, instance: String?, seq: Int?, kind: String, at: Int64, actor: String, payload: () throws -> String, authority recorded: String?,
        hash stored: [UInt8]
    ) -> Bool {
        checked += 1
        if id != expectedID {
            problems.append("journal rows \(expectedID)...\(id - 1) are missing (deleted)")
        }
        do {
            let text = try payload()
            let computed = JournalChain.link(
                previous: previous, id: id, instance: instance, seq: seq, kind: kind, at: at, actor: actor, payload: text, authority: recorded)
            authority.apply(kind: kind, at: at, instance: instance, payload: text, authority: recorded)
            if stored != computed {
                problems.append("journal row \(id) (\(kind)) does not match its hash: edited, or a row before it was changed")
                if problems.count >= 20 { return false }
            }
        } catch {
            // A damaged stored payload is a finding like an edited one, not the end of the check.
            problems.append("journal row \(id) (\(kind)): its stored payload is damaged (\(error))")
            if problems.count >= 20 { return false }
        }
        previous = stored
        expectedID = id + 1
        return true
    }

    /// Compares the recorded end of the chain with the last row checked: catches deleted newest rows.
    /// - Parameter head: The recorded last id and hash, nil when the store has no record of its end.
    public mutating func checkEnd(_ head: (lastID: Int64, lastHash: [UInt8])?) {
        if let head {
            if head.lastID != expectedID - 1 || head.lastHash != previous {
                problems.append(
                    "the journal ends at row \(expectedID - 1) but its recorded end is row \(head.lastID): rows were deleted from the end, or the head was edited")
            }
        } else if checked > 0 {
            problems.append("the journal's recorded end (chain_head) is missing")
        }
    }

    /// The result, with the differences the store found between its tables and `authority`.
    public func verification(tableProblems: [String]) -> JournalVerification {
        JournalVerification(rowsChecked: checked, problems: problems + tableProblems)
    }
}
