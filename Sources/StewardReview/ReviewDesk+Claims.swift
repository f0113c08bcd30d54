import Foundation
import StewardEngine

/// Claims: a reviewer reserves an open task for a while, so two people do not work on the same
/// reply. The rules live here; the store only compares and swaps the newest claim
/// (`ReviewStore.replaceClaim`).
///
/// - Who may claim: a reviewer who may decide the task (its credential, or the one escalation
///   reassigned it to). Operators without the credential may not.
/// - A claim holds for `claimDuration` from when it was taken; claiming again renews it.
/// - While it holds, nobody else may claim or decide the task; a lapsed claim is as good as none.
/// - Only the claimer releases a claim; releasing a task one does not hold is refused.
/// - Taking and releasing a claim is audited (`task_claimed`, `task_released`).
extension ReviewDesk {
    /// Claims task `id` for `reviewer` until `claimDuration` from now, or renews their claim.
    ///
    /// - Returns: the claim now stored.
    /// - Throws: `ReviewError` `.notFound` (no such task), `.forbidden` (the reviewer may not
    ///   decide it), `.conflict` (it is decided), `.claimed` (someone else's claim holds: the
    ///   message names them and when it lapses).
    @discardableResult
    public func claim(task id: Int64, by reviewer: Reviewer) async throws -> ReviewClaim {
        let task = try await claimableTask(id, by: reviewer)
        // A writer that lost the race re-reads once: the new claim may itself be lapsed or theirs.
        for _ in 0..<2 {
            let now = engine.clock.nowMilliseconds()
            let current = try await store.claims(tasks: [id])[id]
            if let current, current.reviewer != reviewer.id, current.holds(at: now) {
                throw ReviewError(.claimed, try await claimedMessage(current, task: task))
            }
            let claim = ReviewClaim(task: id, reviewer: reviewer.id, claimedAt: now, until: now + claimDuration)
            if try await store.replaceClaim(task: id, expected: current, with: claim) {
                try await store.appendAudit(
                    kind: "task_claimed", actor: reviewer.id, payload: ["task": .integer(id), "until": .integer(claim.until)], at: now,
                    instance: task.instanceID)
                return claim
            }
        }
        guard let winner = try await store.claims(tasks: [id])[id] else {
            throw ReviewError(.conflict, "task \(id) was decided while it was being claimed")
        }
        throw ReviewError(.claimed, try await claimedMessage(winner, task: task))
    }

    /// Releases `reviewer`'s claim on task `id`, so others may take it at once.
    ///
    /// - Returns: false when there was nothing to release (no claim, or it had lapsed).
    /// - Throws: `ReviewError` `.notFound` (no such task), `.forbidden` (someone else's claim
    ///   holds: only they release it).
    @discardableResult
    public func release(task id: Int64, by reviewer: Reviewer) async throws -> Bool {
        guard let task = try await store.task(id: id) else { throw ReviewError(.notFound, "no review task \(id)") }
        let now = engine.clock.nowMilliseconds()
        guard let current = try await store.claims(tasks: [id])[id], current.holds(at: now) else { return false }
        guard current.reviewer == reviewer.id else {
            throw ReviewError(.forbidden, "only the reviewer who claimed it may release it: " + (try await claimedMessage(current, task: task)))
        }
        guard try await store.replaceClaim(task: id, expected: current, with: nil) else { return false }
        try await store.appendAudit(kind: "task_released", actor: reviewer.id, payload: ["task": .integer(id)], at: now, instance: task.instanceID)
        return true
    }

    /// The claims that hold now on `tasks` (lapsed ones left out).
    public func holdingClaims(tasks: [Int64]) async throws -> [Int64: ReviewClaim] {
        let now = engine.clock.nowMilliseconds()
        return try await store.claims(tasks: tasks).filter { $0.value.holds(at: now) }
    }

    /// Refuses a decision on a task someone else's claim holds (`.conflict`, naming them).
    func checkNotClaimedByAnother(_ task: ReviewTask, reviewer: Reviewer) async throws {
        guard let claim = try await holdingClaims(tasks: [task.id])[task.id], claim.reviewer != reviewer.id else { return }
        throw ReviewError(.claimed, try await claimedMessage(claim, task: task) + "; it can be decided by others once the claim lapses or is released")
    }

    /// The task, if `reviewer` may claim it.
    func claimableTask(_ id: Int64, by reviewer: Reviewer) async throws -> ReviewTask {
        guard let task = try await store.task(id: id) else { throw ReviewError(.notFound, "no review task \(id)") }
        guard reviewer.credential(for: task) != nil else {
            throw ReviewError(.forbidden, "task \(id) needs credential '\(task.credential)', which \(reviewer.name) (\(reviewer.id)) does not hold")
        }
        guard task.status == "open" else {
            throw ReviewError(.conflict, "task \(id) was already decided (\(task.decision ?? "?") by \(try await reviewerName(task.reviewer)))")
        }
        return task
    }

    /// "task 7 is claimed by Ana Agent until 2026-12-02 10:15 GMT-5 (America/New_York)".
    func claimedMessage(_ claim: ReviewClaim, task: ReviewTask) async throws -> String {
        "task \(task.id) is claimed by \(try await reviewerName(claim.reviewer)) until \(localTime(claim.until, customer: task.customer))"
    }

    /// A reviewer's display name, or the id when the reviewer was removed (nil: "?").
    public func reviewerName(_ id: String?) async throws -> String {
        guard let id else { return "?" }
        return try await reviewerNames()[id] ?? id
    }

    /// Every reviewer's display name by id.
    public func reviewerNames() async throws -> [String: String] {
        Dictionary(try await store.reviewers().map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    /// The time zone people read a customer's times in: the customer's business calendar's
    /// (through the engine's scheduler), else UTC.
    public func timeZone(customer: String?) -> TimeZone {
        engine.scheduler?.timeZoneID(customer: customer).flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
    }

    /// `at` as the customer's local time with the zone named: "2026-12-02 10:15 GMT-5 (America/New_York)".
    public func localTime(_ at: Int64, customer: String?) -> String {
        LocalTimeText.format(at, in: timeZone(customer: customer))
    }
}

/// Times as people in a customer's time zone read them.
public enum LocalTimeText {
    /// "2026-12-02 10:15 GMT-5 (America/New_York)"; UTC reads "2026-12-02 15:15 UTC".
    public static func format(_ milliseconds: Int64, in zone: TimeZone) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let text = String(
            format: "%04d-%02d-%02d %02d:%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0)
        if isUTC(zone) { return text + " UTC" }
        let abbreviation = zone.abbreviation(for: date) ?? zone.identifier
        return "\(text) \(abbreviation) (\(zone.identifier))"
    }

    /// The zone's IANA name, "UTC" for UTC (which some platforms call GMT).
    public static func name(_ zone: TimeZone) -> String { isUTC(zone) ? "UTC" : zone.identifier }

    static func isUTC(_ zone: TimeZone) -> Bool { ["UTC", "GMT", "Etc/UTC", "Etc/GMT"].contains(zone.identifier) }
}
