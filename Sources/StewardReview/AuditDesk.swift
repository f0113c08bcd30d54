import StewardCore
import StewardEngine
import StewardJSON

/// An audit item as one reviewer may see it. While the item still needs reviews, it shows
/// only the viewer's own verdict, so a second reviewer judges blind and the first cannot
/// see the second's; once complete, it shows every verdict.
public struct AuditView: Sendable, Hashable {
    /// The item, its `verdicts` limited to those the viewer may see (only an incomplete item
    /// loses any, so `item.isComplete` and `item.status` stay true to the stored item).
    public var item: AuditItem
    /// How many reviews it has (seen or not).
    public var reviewsGiven: Int
    /// Whether the viewer may review it now: holds its credential, has not reviewed it, and
    /// it still needs a review.
    public var canReview: Bool
    /// Whether the review the viewer would give is the second of a double review.
    public var isSecondReview: Bool

    /// What `viewer` (nil: someone with no reviews of their own, such as the CLI without a
    /// token) may see of `item`.
    public init(_ item: AuditItem, viewer: Reviewer?) {
        var visible = item
        if !item.isComplete { visible.verdicts = item.verdicts.filter { $0.reviewer == viewer?.id } }
        self.item = visible
        reviewsGiven = item.verdicts.count
        let reviewed = item.verdicts.contains { $0.reviewer == viewer?.id }
        canReview = viewer.map { $0.holds(item.credential) } == true && !reviewed && !item.isComplete
        isSecondReview = item.neededReviews == 2 && item.verdicts.count == 1 && !reviewed
    }
}

/// Audits of sampled production work: who may see and judge which item, with refusals
/// audited like refused decisions. Audits never touch an instance, so the desk needs only the
/// store and a clock (no engine, no plugins).
public struct AuditDesk: Sendable {
    /// Where the items, verdicts, reviewers and the journal are.
    public let store: any EngineStore
    /// The time verdicts and refusals are stamped with.
    public let clock: any EngineClock

    /// Creates a desk over `store`.
    public init(store: any EngineStore, clock: any EngineClock = SystemEngineClock()) {
        self.store = store
        self.clock = clock
    }

    /// Open audit items `reviewer` may review (their credentials, not yet reviewed by them),
    /// oldest first; for an operator or nobody (nil), every open item.
    public func audits(for reviewer: Reviewer?, template: String? = nil, customer: String? = nil) async throws -> [AuditView] {
        let sees = reviewer.map { $0.role != "operator" } == true
        let items = try await store.auditItems(
            AuditQuery(open: true, credentials: sees ? reviewer?.credentials : nil, template: template, customer: customer, limit: 200))
        return items.map { AuditView($0, viewer: reviewer) }.filter { !sees || $0.canReview }
    }

    /// One audit item as `reviewer` may see it (nil: no viewer, every verdict hidden until it
    /// is complete).
    /// - Throws: `ReviewError` `.notFound`, or `.forbidden` for a reviewer who neither holds
    ///   its credential nor is an operator.
    public func audit(id: Int64, for reviewer: Reviewer?) async throws -> AuditView {
        guard let item = try await store.auditItem(id: id) else { throw ReviewError(.notFound, "no audit item \(id)") }
        if let reviewer, !reviewer.holds(item.credential), reviewer.role != "operator" {
            throw ReviewError(.forbidden, "audit item \(id) needs credential '\(item.credential)', which \(reviewer.id) does not hold")
        }
        return AuditView(item, viewer: reviewer)
    }

    /// Records `reviewer`'s verdict on audit item `id`: one judgement per judged path, each
    /// `correct`, or wrong with the correct value. Returns the item as the reviewer now sees it.
    ///
    /// - Throws: `ReviewError`: `.notFound` for no such item; `.forbidden` (audited as
    ///   `verdict_refused`) when the reviewer lacks the item's credential, and when they
    ///   already reviewed it (a second review must come from someone else); `.conflict` when
    ///   the item already has its reviews (or another review landed first); `.invalid` for a
    ///   path the item does not judge, a path judged twice or not at all, a `wrong` without a
    ///   value (or with JSON null), or one whose value is the instance's own.
    public func giveVerdict(item id: Int64, by reviewer: Reviewer, judgements: [AuditJudgement]) async throws -> AuditView {
        guard let item = try await store.auditItem(id: id) else { throw ReviewError(.notFound, "no audit item \(id)") }
        guard reviewer.holds(item.credential) else {
            try await store.appendAudit(
                kind: "verdict_refused", actor: reviewer.id,
                payload: [
                    "item": .integer(id), "needs": .string(item.credential), "holds": .array(reviewer.credentials.map { .string($0) }),
                ],
                at: clock.nowMilliseconds(), instance: item.instanceID)
            throw ReviewError(
                .forbidden,
                "audit item \(id) needs credential '\(item.credential)'; \(reviewer.name) (\(reviewer.id)) holds \(reviewer.credentials.isEmpty ? "none" : reviewer.credentials.joined(separator: ", "))")
        }
        if item.verdicts.contains(where: { $0.reviewer == reviewer.id }) {
            throw ReviewError(
                .forbidden,
                "\(reviewer.name) (\(reviewer.id)) already reviewed audit item \(id); \(item.isComplete ? "it is complete" : "its second review must come from another reviewer")")
        }
        guard !item.isComplete else {
            throw ReviewError(.conflict, "audit item \(id) already has its \(item.neededReviews) review\(item.neededReviews == 1 ? "" : "s")")
        }
        let ordered = try Self.check(judgements, against: item)
        do {
            try await store.recordVerdict(
                AuditVerdict(reviewer: reviewer.id, credential: item.credential, at: clock.nowMilliseconds(), judgements: ordered),
                item: id)
        } catch let conflict as StoreConflict {
            throw ReviewError(.conflict, "audit item \(id) was reviewed concurrently: \(conflict.message)")
        } catch is AuditItemMissing {
            throw ReviewError(.notFound, "no audit item \(id)")
        }
        return try await audit(id: id, for: reviewer)
    }

    /// `judgements` in the item's path order, or the first problem with them.
    static func check(_ judgements: [AuditJudgement], against item: AuditItem) throws(ReviewError) -> [AuditJudgement] {
        let paths = item.items.map(\.path)
        var byPath: [String: AuditJudgement] = [:]
        for judgement in judgements {
            guard paths.contains(judgement.path) else {
                throw ReviewError(.invalid, "audit item \(item.id) does not judge '\(judgement.path)'; expected one of: \(paths.joined(separator: ", "))")
            }
            guard byPath[judgement.path] == nil else {
                throw ReviewError(.invalid, "'\(judgement.path)' is judged twice; give one verdict per item")
            }
            if !judgement.correct {
                guard let correction = judgement.correction, !correction.isNull else {
                    throw ReviewError(.invalid, "a 'wrong' verdict on '\(judgement.path)' needs the correct value (not null)")
                }
                if correction == item.value(at: judgement.path) {
                    throw ReviewError(.invalid, "the correct value given for '\(judgement.path)' is the instance's own value (\(correction.jsonString)); judge it 'correct', or give the value it should have been")
                }
            }
            byPath[judgement.path] = judgement
        }
        let missing = paths.filter { byPath[$0] == nil }
        guard missing.isEmpty else {
            throw ReviewError(.invalid, "every judged item needs a verdict; missing: \(missing.joined(separator: ", "))")
        }
        return paths.compactMap { byPath[$0] }
    }

    /// The production accuracy of `template` (optionally one customer's) from its complete
    /// audit items (see `ProductionAccuracy.report`).
    public func productionAccuracy(template: String, customer: String? = nil) async throws -> ProductionAccuracyReport {
        ProductionAccuracy.report(try await store.auditItems(AuditQuery(template: template, customer: customer)), template: template, customer: customer)
    }

    /// Reviewer agreement on `template`'s double-reviewed items (see `ReviewerAgreement.report`).
    public func agreement(template: String) async throws -> AgreementReport {
        ReviewerAgreement.report(try await store.auditItems(AuditQuery(open: false, template: template)), template: template)
    }

    /// Labelled data from `template`'s complete audit items (see `AuditLabels.dataset`).
    public func labels(template: String, customer: String? = nil) async throws -> [JSONValue] {
        AuditLabels.dataset(try await store.auditItems(AuditQuery(open: false, template: template, customer: customer)))
    }
}

extension ReviewDesk {
    /// The audit desk over the engine's store and clock.
    public var audits: AuditDesk { AuditDesk(store: store, clock: engine.clock) }
}
