import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates

/// Checks that the store has not been tampered with: the journal's hash chain is intact and
/// every instance's stored state is exactly what replaying its events produces.
public struct Auditor: Sendable {
    /// The engine whose store is checked; its plans (with every stored template text loaded)
    /// replay the instances.
    public let engine: Engine
    /// The store.
    public var store: any EngineStore { engine.store }

    /// Creates an auditor.
    public init(engine: Engine) {
        self.engine = engine
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

    /// Verifies the chain and the authority tables and replays every instance. With
    /// `expected`, also checks the store against that signed head: its signature must verify
    /// with `publicKey` (the configured key, never the one the head names), and the store must
    /// still hold the head's row with the head's hash, so a truncated, wiped or re-hashed store
    /// is reported even when its own chain is consistent.
    public func verify(expecting expected: SignedAuditHead? = nil, publicKey: AuditPublicKey? = nil) async throws -> Report {
        let chain = try await store.verifyJournal()
        var problems = try await anchorProblems(expected, publicKey: publicKey) + chain.problems
        var replayed = 0
        var after: String?
        while true {
            let page = try await store.instancesWithEvents(after: after, limit: 500)
            guard let last = page.last else { break }
            after = last.0.id
            for (stored, events) in page {
                replayed += 1
                // Replay with the template text and the config the instance was pinned to.
                if let hash = stored.templateHash, try await store.template(hash: TemplateSnapshot.storedHash(of: hash)) == nil {
                    problems.append("instance \(stored.id): its pinned template text \(hash.prefix(12)) is missing from the store")
                    continue
                }
                if let hash = stored.configHash, try await store.config(hash: hash) == nil {
                    problems.append("instance \(stored.id): its pinned config \(hash) is missing from the store")
                    continue
                }
                // A moved instance is pinned now to what it moved to; its journal replays from
                // what it started on (the started event's text and config, the first move's version).
                var pinned = stored
                if case .started(_, _, _, let configHash, let templateHash, _)? = events.first {
                    pinned.templateHash = templateHash
                    pinned.configHash = configHash
                }
                for case .moved(let move) in events {
                    pinned.templateVersion = move.fromVersion
                    break
                }
                let plan: Plan
                let config: JSONValue
                do {
                    (plan, config) = try await engine.planAndConfig(for: pinned)
                } catch {
                    problems.append("instance \(stored.id): cannot replay: \(error)")
                    continue
                }
                let initial = InstanceState(id: stored.id, template: stored.template, templateVersion: pinned.templateVersion, customer: stored.customer)
                // The snapshot reflects its first `sequence` events; later ones (a running
                // instance) must still replay on top.
                var snapshotMatches = stored.sequence == 0
                do {
                    _ = try await engine.replay(events, onto: initial, plan: plan, config: config) { state in
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

    /// What differs between the store and a signed head (empty without a head).
    func anchorProblems(_ expected: SignedAuditHead?, publicKey: AuditPublicKey?) async throws -> [String] {
        guard let expected else { return [] }
        guard let publicKey else { throw AuditKeyError("checking a signed head needs the audit public key") }
        let when = expected.json["at_utc"]?.stringValue ?? "\(expected.at)"
        guard publicKey.verifies(expected) else {
            return ["the expected head's signature does not verify with the configured public key: it was altered, forged or signed by another key"]
        }
        let id = expected.head.lastID
        guard id > 0 else { return [] }
        let current = try await store.journalHead()
        guard let stored = try await store.journalHash(id: id) else {
            if current.lastID < id {
                return ["the signed head of \(when) says the journal reaches row \(id), but the store ends at row \(current.lastID): rows were deleted (truncated or wiped)"]
            }
            return ["journal row \(id), the signed head of \(when), is missing from the store"]
        }
        guard stored == expected.head.lastHash else {
            return ["journal row \(id) has another hash than the signed head of \(when) records: the journal was rewritten (re-hashed) up to that point"]
        }
        return []
    }
}
