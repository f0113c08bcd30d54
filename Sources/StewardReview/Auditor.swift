import StewardJSON
import StewardRuntime
import StewardStore
import StewardTemplates

/// Checks that the store has not been tampered with: the journal's hash chain is intact and
/// every instance's stored state is exactly what replaying its events produces.
public struct Auditor: Sendable {
    /// The store.
    public let store: SQLiteStore
    /// The plans instances are pinned to (for replay).
    public let plans: any PlanResolver

    /// Creates an auditor.
    public init(store: SQLiteStore, plans: any PlanResolver) {
        self.store = store
        self.plans = plans
    }

    /// The outcome of a verification.
    public struct Report: Sendable {
        /// Journal rows checked.
        public var journalRows: Int
        /// Instances replayed.
        public var instancesReplayed: Int
        /// Problems found; empty means intact.
        public var problems: [String]
    }

    /// Verifies the chain and replays every instance.
    public func verify() async throws -> Report {
        let chain = try await store.verifyJournal()
        var problems = chain.problems
        var replayed = 0
        var after: String?
        while true {
            let page = try await store.instancesWithEvents(after: after, limit: 500)
            guard let last = page.last else { break }
            after = last.0.id
            for (stored, events) in page {
                replayed += 1
                guard let plan = plans.plan(template: stored.template, version: stored.templateVersion) else {
                    problems.append("instance \(stored.id): template \(stored.template) \(stored.templateVersion) is not loaded; cannot replay")
                    continue
                }
                // Replay with the config the instance was pinned to when it started.
                var config = plans.config(for: plan, customer: stored.customer)
                if let hash = stored.configHash {
                    guard let pinned = try await store.config(hash: hash) else {
                        problems.append("instance \(stored.id): its pinned config \(hash) is missing from the store")
                        continue
                    }
                    config = pinned
                }
                var state = InstanceState(id: stored.id, template: stored.template, templateVersion: stored.templateVersion, customer: stored.customer)
                // The snapshot reflects its first `sequence` events; later ones (a running
                // instance) must still replay on top.
                var snapshotMatches = stored.sequence == 0
                do {
                    for event in events {
                        state = try Transition.apply(event, to: state, plan: plan, config: config).state
                        if state.sequence == stored.sequence { snapshotMatches = state == stored }
                    }
                } catch {
                    problems.append("instance \(stored.id): its events do not replay: \(error)")
                    continue
                }
                if !snapshotMatches {
                    problems.append("instance \(stored.id): stored state differs from the replay of its first \(stored.sequence) of \(events.count) events (edited by hand?)")
                }
            }
        }
        return Report(journalRows: chain.rowsChecked, instancesReplayed: replayed, problems: problems)
    }
}
