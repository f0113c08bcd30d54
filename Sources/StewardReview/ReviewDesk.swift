import StewardCore
import StewardDigest
import StewardEngine
import StewardJSON
import StewardTemplates

/// Everything a reviewer needs to decide a task.
public struct ReviewContext: Sendable {
    /// The task.
    public var task: ReviewTask
    /// The instance's submitted input.
    public var input: JSONValue
    /// Step outputs by name (e.g. `classification` with its confidence).
    public var outputs: [String: JSONValue]
    /// The template's operating procedure.
    public var aop: OperatingProcedure?
    /// The instance's history, oldest first.
    public var history: [JournalEntry]
    /// Why the checkpoint opened when its condition could not be evaluated (nil: it opened
    /// because the condition held, or it has none).
    public var openedBecause: String?
}

/// The review workflow: who may see and decide what, with every refusal audited.
public struct ReviewDesk: Sendable {
    /// The engine that applies decisions.
    public let engine: Engine
    /// The engine's store.
    public var store: any EngineStore { engine.store }
    /// How long a claim holds, in milliseconds (see `claim(task:by:)`).
    public var claimDuration: Int64

    /// How long a claim holds unless the server is told otherwise: 15 minutes.
    public static let defaultClaimDuration: Int64 = 15 * 60_000

    /// Creates a desk over `engine` and its store whose claims hold for `claimDuration` ms.
    public init(engine: Engine, claimDuration: Int64 = ReviewDesk.defaultClaimDuration) {
        self.engine = engine
        self.claimDuration = claimDuration
    }

    /// The reviewer a token belongs to, or `unauthenticated`.
    public func authenticate(token: String?) async throws -> Reviewer {
        try await store.authenticate(token: token)
    }

    /// Open tasks the reviewer may decide, soonest deadline first.
    public func queue(for reviewer: Reviewer, credential: String? = nil) async throws -> [ReviewTask] {
        var credentials = reviewer.credentials
        if let credential {
            guard reviewer.holds(credential) else {
                throw ReviewError(.forbidden, "\(reviewer.id) does not hold credential '\(credential)'")
            }
            credentials = [credential]
        }
        return try await store.openTasks(credentials: credentials, limit: 200)
    }

    /// A task with its context. Reviewers see only tasks for credentials they hold.
    public func context(task id: Int64, for reviewer: Reviewer?) async throws -> ReviewContext {
        guard let task = try await store.task(id: id) else { throw ReviewError(.notFound, "no review task \(id)") }
        if let reviewer, reviewer.credential(for: task) == nil, reviewer.role != "operator" {
            throw ReviewError(.forbidden, "task \(id) needs credential '\(task.credential)', which \(reviewer.id) does not hold")
        }
        let state = try await engine.currentState(id: task.instanceID)
        var outputs: [String: JSONValue] = [:]
        for (key, value) in state?.data.objectValue ?? [:] where !["input", "reviews", "errors"].contains(key) {
            outputs[key] = value
        }
        let plan = state.flatMap { engine.plans.plan(template: $0.template, version: $0.templateVersion) }
        return ReviewContext(
            task: task, input: state?.data["input"] ?? .null, outputs: outputs, aop: plan?.template.aop,
            history: try await store.history(of: task.instanceID),
            openedBecause: state?.data.value(at: ["reviews", task.state, "opened_because"])?.stringValue)
    }

    /// Decides a task. Refuses (and audits the attempt) when the reviewer lacks the task's
    /// credential; refuses a second decision, and a decision on a task someone else's claim
    /// holds, with a conflict; validates edits and rejections.
    public func decide(
        task id: Int64, by reviewer: Reviewer, decision: Decision, output: JSONValue? = nil, reason: String? = nil,
        drive: Bool = true
    ) async throws -> InstanceState {
        guard let task = try await store.task(id: id) else { throw ReviewError(.notFound, "no review task \(id)") }
        guard let credential = reviewer.credential(for: task) else {
            try await store.appendAudit(
                kind: "decision_refused", actor: reviewer.id,
                payload: [
                    "task": .integer(id), "decision": .string(decision.rawValue), "needs": .string(task.credential),
                    "holds": .array(reviewer.credentials.map { .string($0) }),
                ],
                at: engine.clock.nowMilliseconds(), instance: task.instanceID)
            let needs = task.assigned.map { "'\(task.credential)' or '\($0)' (escalated)" } ?? "'\(task.credential)'"
            throw ReviewError(.forbidden, "task \(id) needs credential \(needs); \(reviewer.name) (\(reviewer.id)) holds \(reviewer.credentials.isEmpty ? "none" : reviewer.credentials.joined(separator: ", "))")
        }
        guard task.status == "open" else {
            throw ReviewError(.conflict, "task \(id) was already decided (\(task.decision ?? "?") by \(try await reviewerName(task.reviewer)))")
        }
        try await checkNotClaimedByAnother(task, reviewer: reviewer)
        guard task.decisions.contains(decision) else {
            throw ReviewError(.invalid, "decision '\(decision.rawValue)' is not allowed for task \(id); expected one of: \(task.decisions.map(\.rawValue).joined(separator: ", "))")
        }
        if decision == .edit, output == nil { throw ReviewError(.invalid, "an edit needs the replacement output") }
        if decision == .reject, (reason ?? "").allSatisfy(\.isWhitespace) { throw ReviewError(.invalid, "a rejection needs a reason") }
        do {
            return try await engine.decide(
                instance: task.instanceID,
                CheckpointDecision(state: task.state, decision: decision, output: output, reason: reason, reviewer: reviewer.id, credential: credential),
                drive: drive)
        } catch let error as EngineError {
            throw ReviewError(error.isConflict ? .conflict : (error.isNotFound ? .notFound : .invalid), error.description)
        }
    }
}

/// Reviewer administration: making and checking bearer tokens. The store keeps only a
/// token's SHA-256; the token itself is shown once, when the reviewer is added.
extension ReviewerStore {
    /// Adds a reviewer and returns it with its bearer token (`stw_` and 64 hex digits from the
    /// system's random source), shown only now. Audited as `reviewer_added` by `actor`.
    public func addReviewer(
        name: String, credentials: [String], role: String = "reviewer", by actor: String = "operator", at: Int64
    ) async throws -> (Reviewer, token: String) {
        var random = SystemRandomNumberGenerator()
        let token = "stw_" + Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
        let id = "rv-" + Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255, using: &random) })
        let reviewer = Reviewer(id: id, name: name, credentials: credentials, role: role, createdAt: at)
        try await insertReviewer(reviewer, tokenHash: Self.tokenHash(token), by: actor)
        return (reviewer, token)
    }

    /// Removes a reviewer; their token stops working at once. Audited. Returns false when
    /// there is no such reviewer.
    @discardableResult
    public func removeReviewer(id: String, by actor: String, at: Int64) async throws -> Bool {
        try await deleteReviewer(id: id, by: actor, at: at)
    }

    /// The reviewer a bearer token belongs to (compared by hash).
    public func reviewer(token: String) async throws -> Reviewer? {
        try await reviewer(tokenHash: Self.tokenHash(token))
    }

    /// The reviewer a token belongs to.
    /// - Throws: `ReviewError` `.unauthenticated` for no token or an unknown one.
    public func authenticate(token: String?) async throws -> Reviewer {
        guard let token, !token.isEmpty else { throw ReviewError(.unauthenticated, "a reviewer token is required") }
        guard let reviewer = try await reviewer(token: token) else { throw ReviewError(.unauthenticated, "unknown token") }
        return reviewer
    }

    /// How a token is stored: SHA-256 in hex.
    public static func tokenHash(_ token: String) -> String { SHA256.hex(Array(token.utf8)) }
}
