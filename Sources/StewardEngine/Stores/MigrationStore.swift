import StewardCore
import StewardJSON
import StewardTemplates
import Synchronization

/// Migrations of model bindings and template versions: the stored plan, each customer's progress through its stages, and
/// the routes the engine applies to new instances.
///
/// Contract: every change (start, stage moves, gate results, approvals, pauses, rollbacks) is
/// written with a journal entry (`migration_<action>`, actor and evidence) in one transaction.
public protocol MigrationStore: Sendable {
    /// Stores a new migration and its customers' first progress rows. Throws when the name is taken.
    func insertMigration(_ migration: MigrationRecord, progress: [MigrationProgress], actor: String, at: Int64) async throws
    /// Every migration, oldest first.
    func migrations() async throws -> [MigrationRecord]
    /// One migration's customers, in plan order.
    func migrationProgress(_ name: String) async throws -> [MigrationProgress]
    /// Writes a customer's new progress, journals `migration_<action>` with `evidence`, and
    /// records `notifications` (a failed gate tells the template's escalation target), in one transaction.
    func updateMigrationProgress(
        _ progress: MigrationProgress, action: String, actor: String, evidence: JSONValue, at: Int64, notifications: [NotificationRecord]
    ) async throws
    /// Sets a migration's status (`running`, `paused`, `rolled_back`, `completed`), journalled.
    func setMigrationStatus(_ name: String, status: String, actor: String, at: Int64) async throws
    /// Records one shadow call (not journalled: an observation, not a change of authority).
    func recordShadowObservation(_ observation: ShadowObservation) async throws
    /// A customer's shadow observations in a migration at or after `since`, oldest first.
    func shadowObservations(migration: String, customer: String, since: Int64) async throws -> [ShadowObservation]
}

/// One shadow call: the candidate called beside the current binding on a live instance's input.
public struct ShadowObservation: Sendable, Hashable {
    /// The migration.
    public var migration: String
    /// The customer.
    public var customer: String
    /// The live instance.
    public var instance: String
    /// The model state.
    public var state: String
    /// Whether the candidate's answer matched the current one (label, or the output without
    /// confidence, adapter and usage); false when the candidate failed.
    public var agreed: Bool
    /// Why the candidate failed, if it did.
    public var error: String?
    /// The candidate call's latency, in microseconds.
    public var latencyMicroseconds: Int64
    /// When, ms since 1970.
    public var at: Int64

    /// Creates an observation.
    public init(migration: String, customer: String, instance: String, state: String, agreed: Bool, error: String?, latencyMicroseconds: Int64, at: Int64) {
        self.migration = migration
        self.customer = customer
        self.instance = instance
        self.state = state
        self.agreed = agreed
        self.error = error
        self.latencyMicroseconds = latencyMicroseconds
        self.at = at
    }
}

/// A stored migration.
public struct MigrationRecord: Sendable, Hashable {
    /// Its name.
    public var name: String
    /// The template whose binding moves.
    public var template: String
    /// The plan's text, as started.
    public var plan: String
    /// `running`, `paused`, `rolled_back` or `completed`.
    public var status: String
    /// When it started, ms since 1970.
    public var startedAt: Int64
    /// Who started it.
    public var startedBy: String

    /// Creates a record.
    public init(name: String, template: String, plan: String, status: String, startedAt: Int64, startedBy: String) {
        self.name = name
        self.template = template
        self.plan = plan
        self.status = status
        self.startedAt = startedAt
        self.startedBy = startedBy
    }
}

/// Where one customer is in a migration.
public struct MigrationProgress: Sendable, Hashable {
    /// The migration.
    public var migration: String
    /// The customer.
    public var customer: String
    /// The index of the current stage (the stage count once completed).
    public var stage: Int
    /// `waiting` (not its turn yet), `running`, `awaiting_approval`, `failed`, `completed`, `rolled_back`.
    public var state: String
    /// The share of the customer's new instances on the candidate now (0 to 1).
    public var share: Double
    /// When the current stage started, ms since 1970.
    public var stageStartedAt: Int64
    /// The last gate's evidence (JSON for people and the status page).
    public var evidence: JSONValue

    /// Creates progress.
    public init(migration: String, customer: String, stage: Int, state: String, share: Double, stageStartedAt: Int64, evidence: JSONValue = .emptyObject) {
        self.migration = migration
        self.customer = customer
        self.stage = stage
        self.state = state
        self.share = share
        self.stageStartedAt = stageStartedAt
        self.evidence = evidence
    }
}

/// A route the engine applies at submission: for this template and customer, a `share` of new
/// instances (by `CanaryBucket` over the migration's name) binds `role` to `candidate`, or, for
/// a version route (`role` nil), runs template version `candidate` while the others run `current`.
public struct BindingRoute: Sendable, Hashable {
    /// The migration.
    public var migration: String
    /// The template.
    public var template: String
    /// The customer.
    public var customer: String
    /// The role (nil: a version route).
    public var role: String?
    /// The candidate binding, or template version.
    public var candidate: String
    /// For a version route: the version instances outside the share run (a rolled-back or
    /// failed customer stays on it even when a newer version is loaded).
    public var current: String?
    /// The share on the candidate.
    public var share: Double
    /// Whether this route shadows (calls the candidate beside the current binding and records
    /// the comparison) instead of serving new instances from the candidate.
    public var shadow: Bool

    /// Creates a binding route.
    public init(migration: String, template: String, customer: String, role: String, candidate: String, share: Double, shadow: Bool = false) {
        self.shadow = shadow
        self.migration = migration
        self.template = template
        self.customer = customer
        self.role = role
        self.candidate = candidate
        self.share = share
    }

    /// Creates a version route: `share` of new instances on version `candidate`, the rest on `current`.
    public init(migration: String, template: String, customer: String, current: String, candidate: String, share: Double) {
        self.migration = migration
        self.template = template
        self.customer = customer
        self.role = nil
        self.current = current
        self.candidate = candidate
        self.share = share
        self.shadow = false
    }

    /// The template version a new instance `id` runs under this version route (nil for a binding route).
    public func version(for id: String) -> String? {
        guard role == nil else { return nil }
        return CanaryBucket.isCandidate(instance: id, migration: migration, share: share) ? candidate : current
    }
}

/// The routes in force, shared by the engine (which reads them at every submission) and the
/// migration controller (which replaces them when a stage moves or a migration rolls back).
/// Thread-safe; an instance already started keeps the bindings it started with.
public final class BindingRoutes: Sendable {
    private let routes = Mutex<[String: [BindingRoute]]>([:])
    /// Whether any route is in force: submissions and model calls read it first, so with no
    /// migration running they take no lock and build no key.
    private let active = Atomic<Bool>(false)

    /// Creates an empty table.
    public init() {}

    /// Replaces every route.
    public func replace(with routes: [BindingRoute]) {
        let grouped = Dictionary(grouping: routes.filter { $0.share > 0 || $0.shadow || $0.role == nil }) { "\($0.template)\u{0}\($0.customer)" }
        self.routes.withLock { $0 = grouped }
        active.store(!grouped.isEmpty, ordering: .releasing)
    }

    /// The routes of a template and customer.
    public func routes(template: String, customer: String?) -> [BindingRoute] {
        guard let customer, active.load(ordering: .acquiring) else { return [] }
        return routes.withLock { $0["\(template)\u{0}\(customer)"] ?? [] }
    }
}

extension MigrationStore {
    /// `updateMigrationProgress` without notifications.
    public func updateMigrationProgress(_ progress: MigrationProgress, action: String, actor: String, evidence: JSONValue, at: Int64) async throws {
        try await updateMigrationProgress(progress, action: action, actor: actor, evidence: evidence, at: at, notifications: [])
    }
}

extension BindingRoutes {
    /// The routes the stored migrations put in force: every customer with a share above 0 in a
    /// migration that was not rolled back (a completed migration keeps its customers on the
    /// candidate at share 1). A stored plan that no longer parses contributes nothing.
    public static func routes(in store: any MigrationStore) async throws -> [BindingRoute] {
        var routes: [BindingRoute] = []
        for migration in try await store.migrations() {
            guard let plan = try? TemplateParser.parseMigration(migration.plan, file: migration.name) else { continue }
            for progress in try await store.migrationProgress(migration.name) {
                guard let role = plan.role else {
                    // A version route holds for every customer of the plan, even at share 0: a
                    // customer not (or no longer) on the candidate stays on `from` when a newer
                    // version is loaded. Rolled back: everyone new on `from`.
                    let share = migration.status == "rolled_back" ? 0 : progress.share
                    routes.append(BindingRoute(
                        migration: migration.name, template: plan.template, customer: progress.customer, current: plan.from, candidate: plan.to,
                        share: share))
                    continue
                }
                guard migration.status != "rolled_back" else { continue }
                if progress.share > 0 {
                    routes.append(BindingRoute(
                        migration: migration.name, template: plan.template, customer: progress.customer, role: role, candidate: plan.to,
                        share: progress.share))
                }
                let shadowing = (progress.state == "running" || progress.state == "awaiting_approval") && progress.stage < plan.stages.count
                    && plan.stages[progress.stage].kind == .shadow && migration.status == "running"
                if shadowing {
                    routes.append(BindingRoute(
                        migration: migration.name, template: plan.template, customer: progress.customer, role: role, candidate: plan.to,
                        share: 0, shadow: true))
                }
            }
        }
        return routes
    }

    /// Replaces the routes with those `store` holds now.
    public func reload(from store: any MigrationStore) async throws {
        replace(with: try await Self.routes(in: store))
    }
}
