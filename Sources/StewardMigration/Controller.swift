import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardEval
import StewardJSON
import StewardReview
import StewardStatistics
import StewardTemplates

/// Why a migration command cannot proceed: a plan that does not fit the loaded templates and
/// overlays, an unknown migration or customer, an approver without the credential.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// What a move or rollback did with one waiting instance.
public struct InstanceMoveReport: Sendable, Hashable {
    /// The instance.
    public var instance: String
    /// Its customer.
    public var customer: String
    /// Where it waited (`state@version`).
    public var from: String
    /// Where it goes (`state@version`), nil when it stays.
    public var to: String?
    /// Whether it moved (false in a dry run).
    public var moved: Bool
    /// Why it stays, or where it is now.
    public var note: String?

    /// The report as JSON (`instance`, `customer`, `from`, `to`, `moved`, `note`).
    public var json: JSONValue {
        [
            "instance": .string(instance), "customer": .string(customer), "from": .string(from), "to": to.map { .string($0) } ?? .null,
            "moved": .bool(moved), "note": note.map { .string($0) } ?? .null,
        ]
    }
}

/// The outcome of a stage's gate.
public enum GateVerdict: String, Sendable, Codable {
    /// The evidence clears the gate.
    case passed
    /// The evidence fails it: the customer's migration stops and its share goes back to 0.
    case failed
    /// Too few observations, too short a time, or an interval across the threshold: a person decides.
    case inconclusive
}

/// Runs migrations on an assembled engine: validates plans against it, starts them, evaluates
/// each customer's current gate and moves the customer on, takes approvals, pauses and rolls
/// back. Every change is written with a journal entry and the engine's routes are reloaded at
/// once, so the next instance submitted through this engine sees it (another process sees it
/// at its next reload; `steward serve` reloads on its periodic tick).
public struct MigrationController: Sendable {
    /// The engine's parts.
    public let assembly: EngineAssembly

    /// Creates a controller.
    public init(assembly: EngineAssembly) { self.assembly = assembly }

    var store: any EngineStore { assembly.store }
    var now: Int64 { assembly.engine.clock.nowMilliseconds() }

    // MARK: Plans

    /// Reads and parses a plan file.
    /// - Throws: `TemplateErrors` with located problems; `MigrationError` when unreadable.
    public static func load(_ path: String) throws -> MigrationPlan {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw MigrationError("cannot read \(path)") }
        return try TemplateParser.parseMigration(text, file: path)
    }

    /// The problems of `plan` against the loaded engine, one line each (`file: error: ...` or
    /// `file: warning: ...`): the template and role exist, the candidate is loaded, every
    /// customer is onboarded (a warning when it is not on `from` now), and a regression stage
    /// has a rubric and a dataset.
    public func problems(_ plan: MigrationPlan) -> [String] {
        var problems: [String] = []
        let file = plan.file
        guard let template = assembly.plans.plan(template: plan.template, version: nil) else {
            return ["\(file): error: unknown template '\(plan.template)'"]
        }
        if let role = plan.role {
            if template.template.models[role] == nil {
                problems.append("\(file): error: template '\(plan.template)' has no model role '\(role)'; roles: \(template.template.models.keys.sorted().joined(separator: ", "))")
            }
            if !assembly.registry.adapterKeys.contains(plan.to) {
                problems.append("\(file): error: the candidate \(plan.to) is not loaded; loaded: \(assembly.registry.adapterKeys.sorted().joined(separator: ", "))")
            }
        } else {
            problems += versionProblems(plan)
        }
        for customer in plan.customers {
            guard assembly.overlays[customer] != nil else {
                problems.append("\(file): error: unknown customer '\(customer)'; customers are the overlays in workflows/customers/")
                continue
            }
            guard let role = plan.role else { continue }
            let current = currentBinding(plan, template: template, customer: customer)
            if current != plan.from {
                // A warning: the gates still compare `from` with `to` as written, and a rollback
                // returns the customer to what its overlay binds.
                problems.append("\(file): warning: customer '\(customer)' is on \(current ?? "no binding") for role '\(role)', not \(plan.from)")
            }
        }
        for stage in plan.stages where stage.kind == .regression {
            let rubricPlan = plan.changesTemplate ? assembly.plans.plan(template: plan.template, version: plan.to) ?? template : template
            if rubricPlan.template.eval == nil {
                problems.append("\(stage.location): error: stage '\(stage.name)' is a regression stage, but template '\(plan.template)' \(rubricPlan.version) has no 'eval' rubric")
            }
            for customer in plan.customers where datasetPath(plan, stage: stage, customer: customer) == nil {
                problems.append("\(stage.location): error: stage '\(stage.name)' has no dataset for customer '\(customer)': set 'dataset', the customer's eval.dataset or the rubric's")
            }
        }
        return problems
    }

    /// The problems of a version plan: both versions are loaded, and its state map takes states
    /// of `from` where an instance waits (checkpoints) to states of `to` that exist and are not ends.
    func versionProblems(_ plan: MigrationPlan) -> [String] {
        var problems: [String] = []
        let at = plan.statesLocation.map { "\($0)" } ?? plan.file
        let loaded = assembly.plans.all.filter { $0.name == plan.template }.map(\.version).sorted()
        let old = assembly.plans.plan(template: plan.template, version: plan.from)
        let new = assembly.plans.plan(template: plan.template, version: plan.to)
        for (version, resolved) in [(plan.from, old), (plan.to, new)] where resolved == nil {
            problems.append("\(plan.file): error: template '\(plan.template)' version \(version) is not loaded; loaded: \(loaded.joined(separator: ", "))")
        }
        guard let old, let new else { return problems }
        for (from, to) in plan.states.sorted(by: { $0.key < $1.key }) {
            switch old.state(from)?.kind {
            case nil:
                problems.append("\(at): error: 'change.template.states' maps '\(from)', which is not a state of \(plan.template) \(plan.from)")
            case .checkpoint?:
                break
            default:
                problems.append("\(at): error: 'change.template.states' maps '\(from)', which is not a checkpoint of \(plan.template) \(plan.from); only instances waiting at a checkpoint move")
            }
            switch new.state(to)?.kind {
            case nil:
                let names = new.template.states.map(\.name)
                let suggestion = Plan.closest(to, names).map { " (did you mean '\($0)'?)" } ?? ""
                problems.append("\(at): error: 'change.template.states' maps '\(from)' to '\(to)', which is not a state of \(plan.template) \(plan.to)\(suggestion)")
            case .end?:
                problems.append("\(at): error: 'change.template.states' maps '\(from)' to '\(to)', an end state of \(plan.template) \(plan.to); a move never ends an instance")
            default:
                break
            }
        }
        return problems
    }

    func currentBinding(_ plan: MigrationPlan, template: Plan, customer: String) -> String? {
        guard let role = plan.role else { return nil }
        return template.template.models.merging(assembly.plans.bindings(for: template, customer: customer)) { _, customer in customer }[role]
    }

    func datasetPath(_ plan: MigrationPlan, stage: MigrationStage, customer: String) -> String? {
        let template = assembly.plans.plan(template: plan.template, version: plan.changesTemplate ? plan.to : nil)
        let rubric = template?.template.eval?.applying(assembly.overlays[customer]?.templates[plan.template]?.eval)
        guard let named = stage.dataset ?? rubric?.dataset else { return nil }
        let path = named.hasPrefix("/") ? named : assembly.workspace.root.appendingPathComponent(named).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Warnings for a plan: the stages left cannot finish by `retire_by` at their minimum durations.
    public func deadlineWarning(_ plan: MigrationPlan, progress: [MigrationProgress]) -> String? {
        guard let text = plan.retireBy, let date = CivilDate(text) else { return nil }
        let remaining = progress.map { row in
            plan.stages.dropFirst(min(row.stage, plan.stages.count)).reduce(Int64(0)) { $0 + $1.minimumDuration }
        }.max() ?? plan.stages.reduce(Int64(0)) { $0 + $1.minimumDuration }
        let finish = now + remaining
        guard finish > date.milliseconds else { return nil }
        let days = Double(finish - date.milliseconds) / 86_400_000
        return "the remaining stages need \(String(format: "%.1f", Double(remaining) / 86_400_000)) days at their minimum durations and cannot finish before retire_by \(text) (\(String(format: "%.1f", days)) days late)"
    }

    // MARK: Commands

    /// Starts `plan`: the pilot customers enter the first stage, the rest wait for them.
    /// - Throws: `MigrationError` with every problem of the plan against this engine.
    public func start(_ plan: MigrationPlan, actor: String) async throws {
        let problems = problems(plan).filter { $0.contains(": error: ") }
        guard problems.isEmpty else { throw MigrationError(problems.joined(separator: "\n")) }
        if try await store.migrations().contains(where: { $0.name == plan.name }) {
            throw MigrationError("a migration named '\(plan.name)' already exists; migrations are never restarted, start one with a new name")
        }
        let at = now
        let first = plan.stages[0]
        let progress = plan.customers.map { customer in
            MigrationProgress(
                migration: plan.name, customer: customer, stage: 0, state: plan.pilot.contains(customer) ? "running" : "waiting",
                share: plan.pilot.contains(customer) ? Self.share(of: first) : 0, stageStartedAt: at)
        }
        try await store.insertMigration(
            MigrationRecord(name: plan.name, template: plan.template, plan: plan.text, status: "running", startedAt: at, startedBy: actor),
            progress: progress, actor: actor, at: at)
        try await assembly.engine.routes?.reload(from: store)
    }

    /// The share of new instances on the candidate while `stage` runs.
    static func share(of stage: MigrationStage) -> Double {
        switch stage.kind {
        case .regression, .shadow: return 0
        case .canary: return stage.share ?? 0
        case .full: return 1
        }
    }

    /// The stored plan of a migration.
    public func plan(named name: String) async throws -> (MigrationRecord, MigrationPlan) {
        guard let record = try await store.migrations().first(where: { $0.name == name }) else {
            throw MigrationError("no migration '\(name)'")
        }
        return (record, try TemplateParser.parseMigration(record.plan, file: "migration \(name)"))
    }

    /// What `advance` did for one customer.
    public struct Step: Sendable {
        /// The customer.
        public var customer: String
        /// The stage whose gate was evaluated.
        public var stage: String
        /// The gate's verdict.
        public var verdict: GateVerdict
        /// The state the customer is in now.
        public var state: String
        /// The gate's evidence.
        public var evidence: JSONValue
    }

    /// Evaluates the current gate of each running customer (or only `customer`) and moves those
    /// whose gate passed to their next stage; a failed gate stops the customer and puts its
    /// share back to 0; an inconclusive gate, or a passed one on a stage with
    /// `approval: required`, waits for a person with the plan's approver credential.
    public func advance(_ name: String, customer only: String? = nil, actor: String) async throws -> [Step] {
        try await syncGates(name)
        let (record, plan) = try await plan(named: name)
        guard record.status == "running" else { throw MigrationError("migration '\(name)' is \(record.status); resume it first") }
        var steps: [Step] = []
        for progress in try await store.migrationProgress(name) where progress.state == "running" && (only == nil || progress.customer == only) {
            guard progress.stage < plan.stages.count else { continue }
            let stage = plan.stages[progress.stage]
            let (verdict, evidence) = try await evaluate(stage, plan: plan, progress: progress)
            var next = progress
            next.evidence = evidence
            let action: String
            switch verdict {
            case .failed:
                next.state = "failed"
                next.share = 0
                action = "gate_failed"
            case .inconclusive:
                next.state = "awaiting_approval"
                action = "gate_inconclusive"
            case .passed where stage.approvalRequired:
                next.state = "awaiting_approval"
                action = "gate_passed"
            case .passed:
                next = moveOn(next, plan: plan)
                action = next.state == "completed" ? "completed" : "stage_entered"
            }
            var notifications: [NotificationRecord] = []
            if verdict == .failed, let target = assembly.plans.plan(template: plan.template, version: nil)?.template.aop.escalationTarget {
                notifications.append(NotificationRecord(
                    recipient: target,
                    message: "Migration \(name) stopped for \(progress.customer): the \(stage.name) gate failed; new instances are back on \(plan.from).",
                    at: now, instance: nil))
            }
            try await store.updateMigrationProgress(next, action: action, actor: actor, evidence: evidence, at: now, notifications: notifications)
            if next.state == "awaiting_approval" { try await openGate(plan, progress: next, verdict: verdict) }
            steps.append(Step(customer: progress.customer, stage: stage.name, verdict: verdict, state: next.state, evidence: evidence))
        }
        try await releaseWaitingCustomers(plan, actor: actor)
        try await assembly.engine.routes?.reload(from: store)
        return steps
    }

    /// `progress` in its next stage (or completed after the last).
    func moveOn(_ progress: MigrationProgress, plan: MigrationPlan) -> MigrationProgress {
        var next = progress
        next.stage += 1
        next.stageStartedAt = now
        if next.stage >= plan.stages.count {
            next.state = "completed"
            next.share = 1
        } else {
            next.state = "running"
            next.share = max(Self.share(of: plan.stages[next.stage]), progress.share)
        }
        return next
    }

    /// When every pilot customer completed, the rest start.
    func releaseWaitingCustomers(_ plan: MigrationPlan, actor: String) async throws {
        let progress = try await store.migrationProgress(plan.name)
        let pilotsDone = progress.filter { plan.pilot.contains($0.customer) }.allSatisfy { $0.state == "completed" }
        guard pilotsDone else { return }
        for row in progress where row.state == "waiting" {
            var next = row
            next.state = "running"
            next.stageStartedAt = now
            next.share = Self.share(of: plan.stages[0])
            try await store.updateMigrationProgress(next, action: "customer_started", actor: actor, evidence: ["reason": "every pilot customer completed"], at: now)
        }
    }

    /// A person with the approver credential lets a customer waiting at a gate go on.
    /// - Throws: `MigrationError` when the token is unknown, lacks the credential, or the customer is not waiting.
    public func approve(_ name: String, customer: String, token: String) async throws {
        guard let reviewer = try await store.reviewer(token: token) else { throw MigrationError("unknown token") }
        try await approve(name, customer: customer, by: reviewer)
    }

    /// `approve` by a reviewer already authenticated (the web page's signed-in session).
    public func approve(_ name: String, customer: String, by reviewer: Reviewer) async throws {
        try await syncGates(name)
        let (_, plan) = try await plan(named: name)
        guard reviewer.credentials.contains(plan.approver) else {
            try await store.appendAudit(
                kind: "migration_approval_refused", actor: reviewer.id,
                payload: ["migration": .string(name), "customer": .string(customer), "needed": .string(plan.approver)], at: now)
            throw MigrationError("\(reviewer.id) lacks the credential '\(plan.approver)' this migration's approvals need")
        }
        guard let progress = try await store.migrationProgress(name).first(where: { $0.customer == customer }) else {
            throw MigrationError("customer '\(customer)' is not in migration '\(name)'")
        }
        guard progress.state == "awaiting_approval" else { throw MigrationError("customer '\(customer)' is \(progress.state), not awaiting approval") }
        // The gate's review task is decided with the approval, so the queue and the journal agree.
        let gate = Self.gateInstance(name, customer: customer, stage: progress.stage)
        if try await assembly.engine.currentState(id: gate)?.status == .waiting {
            _ = try await assembly.engine.decide(
                instance: gate, CheckpointDecision(state: Self.gateState, decision: .approve, reviewer: reviewer.id, credential: plan.approver))
        }
        let next = moveOn(progress, plan: plan)
        try await store.updateMigrationProgress(
            next, action: "approved", actor: reviewer.id, evidence: ["approved": progress.evidence, "credential": .string(plan.approver)], at: now)
        try await releaseWaitingCustomers(plan, actor: reviewer.id)
        try await assembly.engine.routes?.reload(from: store)
    }

    /// Rolls back one customer (or all): new instances go back to the current binding (or
    /// template version) at once; instances already on the candidate finish on it (they are
    /// pinned), unless `moveWaiting`: then those waiting at a checkpoint go back now (a binding
    /// plan re-binds them to `from`; a version plan moves them to `from` by the inverse of its
    /// state map, where that is one to one) and the rest stay.
    /// - Returns: What happened to each waiting candidate instance (empty without `moveWaiting`).
    @discardableResult
    public func rollback(_ name: String, customer only: String? = nil, moveWaiting: Bool = false, actor: String) async throws -> [InstanceMoveReport] {
        let (_, plan) = try await plan(named: name)
        let rows = try await store.migrationProgress(name).filter { only == nil || $0.customer == only }
        if let only, rows.isEmpty { throw MigrationError("customer '\(only)' is not in migration '\(name)'") }
        for progress in rows {
            var next = progress
            next.state = "rolled_back"
            next.share = 0
            try await store.updateMigrationProgress(
                next, action: "rolled_back", actor: actor,
                evidence: ["from_share": .double(progress.share), "move_waiting": .bool(moveWaiting)], at: now)
        }
        if only == nil { try await store.setMigrationStatus(name, status: "rolled_back", actor: actor, at: now) }
        try await assembly.engine.routes?.reload(from: store)
        guard moveWaiting else { return [] }
        var inverse: [String: String] = [:]
        for (old, new) in plan.states where plan.states.values.filter({ $0 == new }).count == 1 { inverse[new] = old }
        var reports: [InstanceMoveReport] = []
        for progress in rows {
            reports += try await moveWaitingInstances(
                plan, customer: progress.customer, onVersion: plan.changesTemplate ? plan.to : nil, onBinding: plan.changesTemplate ? nil : plan.to,
                version: plan.changesTemplate ? plan.from : nil, states: inverse, bindings: plan.role.map { [$0: plan.from] } ?? [:],
                dryRun: false, actor: actor)
        }
        try await journalMoves(plan, reports: reports, action: "rollback", actor: actor)
        return reports
    }

    /// Moves forward the waiting instances of every customer (or only `customer`) whose new
    /// work is all on the candidate (at the `full` stage, or completed): a version plan moves
    /// those on `from` waiting at a mapped checkpoint to `to` at the mapped state (the map is
    /// checked against both versions before anything moves); a binding plan re-binds those on
    /// `from` to the candidate. Instances elsewhere stay where they are. With `dryRun`, reports
    /// what would move and moves nothing.
    /// - Throws: `MigrationError` for an unknown migration or customer, a customer not yet on
    ///   the candidate for all new work (when named), or a state map that does not fit.
    public func move(_ name: String, customer only: String? = nil, dryRun: Bool = false, actor: String) async throws -> [InstanceMoveReport] {
        let (record, plan) = try await plan(named: name)
        guard record.status != "rolled_back" else { throw MigrationError("migration '\(name)' was rolled back; nothing moves forward") }
        if plan.changesTemplate {
            let problems = versionProblems(plan)
            guard problems.isEmpty else { throw MigrationError(problems.joined(separator: "\n")) }
            guard !plan.states.isEmpty else {
                throw MigrationError("migration '\(name)' has no 'change.template.states' map; without it waiting instances finish on \(plan.from)")
            }
        }
        let rows = try await store.migrationProgress(name).filter { only == nil || $0.customer == only }
        if let only, rows.isEmpty { throw MigrationError("customer '\(only)' is not in migration '\(name)'") }
        var reports: [InstanceMoveReport] = []
        for progress in rows {
            let allNew = progress.state == "completed"
                || (progress.state != "failed" && progress.state != "rolled_back" && progress.stage < plan.stages.count && plan.stages[progress.stage].kind == .full)
            guard allNew else {
                let stage = progress.stage < plan.stages.count ? plan.stages[progress.stage].name : "done"
                if only != nil {
                    throw MigrationError("customer '\(progress.customer)' is \(progress.state) at stage \(stage) (share \(progress.share)); its waiting instances move once all its new work is on the candidate (the full stage, or completed)")
                }
                continue
            }
            reports += try await moveWaitingInstances(
                plan, customer: progress.customer, onVersion: plan.changesTemplate ? plan.from : nil, onBinding: plan.changesTemplate ? nil : plan.from,
                version: plan.changesTemplate ? plan.to : nil, states: plan.states, bindings: plan.role.map { [$0: plan.to] } ?? [:],
                dryRun: dryRun, actor: actor)
        }
        if !dryRun { try await journalMoves(plan, reports: reports, action: "move", actor: actor) }
        return reports
    }

    /// Moves the customer's instances waiting on `onVersion` (or bound to `onBinding`) with `Engine.move`.
    func moveWaitingInstances(
        _ plan: MigrationPlan, customer: String, onVersion: String?, onBinding: String?, version: String?, states: [String: String],
        bindings: [String: String], dryRun: Bool, actor: String
    ) async throws -> [InstanceMoveReport] {
        var reports: [InstanceMoveReport] = []
        for summary in try await store.instances(status: .waiting, template: plan.template, customer: customer, limit: 100_000) {
            if let onVersion, summary.version != onVersion { continue }
            if let onBinding, let role = plan.role {
                guard let state = try await store.instance(id: summary.id), state.bindings[role] == onBinding else { continue }
            }
            var report = InstanceMoveReport(
                instance: summary.id, customer: customer, from: "\(summary.current)@\(summary.version)", to: nil, moved: false, note: nil)
            let target: String?
            if let version {
                target = states[summary.current].map { "\($0)@\(version)" }
            } else {
                target = "\(summary.current)@\(summary.version)"
            }
            if version != nil, target == nil {
                report.note = "waits at \(summary.current), which the state map does not map; stays on \(summary.version)"
                reports.append(report)
                continue
            }
            report.to = target
            if dryRun {
                report.note = "would move"
                reports.append(report)
                continue
            }
            do {
                switch try await assembly.engine.move(
                    instance: summary.id, version: version, states: states, bindings: bindings, migration: plan.name, by: actor)
                {
                case .moved(let after):
                    report.moved = true
                    report.note = "now \(after.status.rawValue) at \(after.current)"
                case .stayed(let why):
                    report.to = nil
                    report.note = why
                }
            } catch let error as EngineError where error.isConflict {
                // Decided or moved meanwhile: it is no longer waiting where it was.
                report.to = nil
                report.note = error.description
            }
            reports.append(report)
        }
        return reports
    }

    /// One journal entry for a move command: which instances moved and which stayed, and why.
    func journalMoves(_ plan: MigrationPlan, reports: [InstanceMoveReport], action: String, actor: String) async throws {
        guard !reports.isEmpty else { return }
        try await store.appendAudit(
            kind: "migration_instances_moved", actor: actor,
            payload: [
                "migration": .string(plan.name), "action": .string(action), "moved": .integer(Int64(reports.filter(\.moved).count)),
                "stayed": .integer(Int64(reports.filter { !$0.moved }.count)), "instances": .array(reports.map(\.json)),
            ], at: now)
    }

    /// Pauses (no gate is evaluated; shares stay) or resumes a migration.
    public func setPaused(_ name: String, _ paused: Bool, actor: String) async throws {
        let (record, _) = try await plan(named: name)
        guard record.status == (paused ? "running" : "paused") else { throw MigrationError("migration '\(name)' is \(record.status)") }
        try await store.setMigrationStatus(name, status: paused ? "paused" : "running", actor: actor, at: now)
    }

    // MARK: Gate instances

    /// The template whose instances are a migration's gates waiting for a person (shipped in `workflows/`).
    public static let gateTemplate = "migration-gate"
    /// Its checkpoint.
    static let gateState = "gate"

    /// The id of the gate instance of a customer's stage: one per migration, customer and stage
    /// (submitted with it as the client key, so opening it twice opens one).
    public static func gateInstance(_ migration: String, customer: String, stage: Int) -> String {
        "migration-gate:\(migration):\(customer):\(stage)"
    }

    /// Starts the gate instance for a customer now awaiting approval: its review task carries the
    /// evidence and needs the plan's approver credential. Without the gate template loaded,
    /// approvals are by `approve` only (nothing is opened).
    func openGate(_ plan: MigrationPlan, progress: MigrationProgress, verdict: GateVerdict) async throws {
        guard assembly.plans.plan(template: Self.gateTemplate, version: nil) != nil else { return }
        let id = Self.gateInstance(plan.name, customer: progress.customer, stage: progress.stage)
        let stage = progress.stage < plan.stages.count ? plan.stages[progress.stage].name : "done"
        let input: JSONValue = [
            "migration": .string(plan.name), "customer": .string(progress.customer), "template": .string(plan.template),
            "change": .string(plan.changeSummary), "stage": .string(stage), "verdict": .string(verdict.rawValue),
            "why": .string(verdict == .passed ? "the stage requires approval" : "the gate's evidence is inconclusive"),
            "approver": .string(plan.approver), "evidence": progress.evidence,
        ]
        _ = try await assembly.engine.submit(template: Self.gateTemplate, input: input, id: id, clientKey: id)
    }

    /// Applies the decisions reviewers made on gate instances in the review queue (the page,
    /// the API, `steward review`): an approved gate moves its customer to the next stage; a
    /// rejected one stops the customer (`failed`, share 0) and notifies the template's
    /// escalation target. Journalled with the reviewer as the actor.
    public func syncGates(_ name: String? = nil) async throws {
        for record in try await store.migrations() where (name == nil || record.name == name) && record.status != "rolled_back" {
            guard let plan = try? TemplateParser.parseMigration(record.plan, file: record.name) else { continue }
            var changed = false
            for progress in try await store.migrationProgress(record.name) where progress.state == "awaiting_approval" {
                let id = Self.gateInstance(record.name, customer: progress.customer, stage: progress.stage)
                guard let gate = try await assembly.engine.currentState(id: id), gate.status.isFinal else { continue }
                let review = gate.data["reviews"]?[Self.gateState]
                let reviewer = review?["reviewer"]?.stringValue ?? "unknown"
                let evidence: JSONValue = [
                    "gate_instance": .string(id), "decision": review?["decision"] ?? .null, "reason": review?["reason"] ?? .null,
                    "credential": .string(plan.approver), "evidence": progress.evidence,
                ]
                if gate.status == .completed {
                    let next = moveOn(progress, plan: plan)
                    try await store.updateMigrationProgress(next, action: "approved", actor: reviewer, evidence: evidence, at: now)
                } else {
                    var next = progress
                    next.state = "failed"
                    next.share = 0
                    let stage = progress.stage < plan.stages.count ? plan.stages[progress.stage].name : "done"
                    var notifications: [NotificationRecord] = []
                    if let target = assembly.plans.plan(template: plan.template, version: nil)?.template.aop.escalationTarget {
                        notifications.append(NotificationRecord(
                            recipient: target,
                            message: "Migration \(record.name) stopped for \(progress.customer): \(reviewer) rejected the \(stage) gate; new instances are back on \(plan.from).",
                            at: now, instance: nil))
                    }
                    try await store.updateMigrationProgress(next, action: "gate_rejected", actor: reviewer, evidence: evidence, at: now, notifications: notifications)
                }
                changed = true
            }
            if changed {
                try await releaseWaitingCustomers(plan, actor: "engine")
                try await assembly.engine.routes?.reload(from: store)
            }
        }
    }

    // MARK: Gates

    func evaluate(_ stage: MigrationStage, plan: MigrationPlan, progress: MigrationProgress) async throws -> (GateVerdict, JSONValue) {
        switch stage.kind {
        case .regression: return try await regression(stage, plan: plan, customer: progress.customer)
        case .canary: return try await canary(stage, plan: plan, progress: progress)
        case .shadow: return try await shadow(stage, plan: plan, progress: progress)
        case .full:
            return (.passed, ["stage": "full", "note": "every new instance is on the candidate"])
        }
    }

    /// The current binding and the candidate on the customer's golden dataset, the candidate
    /// gated on the rubric with the current run as its baseline (`max_drop`).
    func regression(_ stage: MigrationStage, plan: MigrationPlan, customer: String) async throws -> (GateVerdict, JSONValue) {
        guard let dataset = datasetPath(plan, stage: stage, customer: customer) else {
            return (.inconclusive, ["note": .string("no dataset for customer \(customer)")])
        }
        let session = EvalSession(assembly: assembly)
        // Both sides on the same dataset: the role bound to `from` and to `to`, or the template
        // at version `from` and at `to`.
        var currentRequest = EvalRequest(template: plan.template, datasetPath: dataset, customer: customer, trigger: "migration")
        var candidateRequest = currentRequest
        if let role = plan.role {
            currentRequest.bindings = [role: plan.from]
            candidateRequest.bindings = [role: plan.to]
        } else {
            currentRequest.version = plan.from
            candidateRequest.version = plan.to
        }
        guard let current = try await session.run(currentRequest) else { throw MigrationError("the regression run of the current side was not stored") }
        candidateRequest.baseline = .run(current.run)
        guard let candidate = try await session.run(candidateRequest) else { throw MigrationError("the regression run of the candidate was not stored") }
        let evidence: JSONValue = [
            "stage": .string(stage.name), "dataset": .string(candidate.dataset), "current_run": .integer(current.run),
            "candidate_run": .integer(candidate.run), "cases": .integer(Int64(candidate.cases.count)),
            "metrics": .array(candidate.metrics.map { m in
                ["name": .string(m.name), "candidate": m.value.map { .double($0) } ?? .null, "current": m.threshold.baseline.map { .double($0) } ?? .null,
                 "passed": .bool(m.passed), "counted": .bool(m.counted), "note": m.note.map { .string($0) } ?? .null]
            }),
        ]
        guard stage.replay > 0 else {
            if !candidate.passed { return (.failed, evidence) }
            if candidate.cases.count < stage.minimumObservations { return (.inconclusive, evidence) }
            return (.passed, evidence)
        }
        // The customer's recent production inputs through both sides: unlabelled, so the
        // rubric's label-free metrics gate (against the current side's run, `max_drop`) and the
        // two sides' agreement at the rubric's labelled paths is measured.
        let replay = try await replayRuns(stage, plan: plan, customer: customer, current: currentRequest, candidate: candidateRequest)
        var withReplay = evidence.objectValue ?? [:]
        withReplay["replay"] = replay.evidence
        let all = JSONValue.object(withReplay)
        if !candidate.passed || replay.failed { return (.failed, all) }
        if candidate.cases.count < stage.minimumObservations || replay.unsure { return (.inconclusive, all) }
        return (.passed, all)
    }

    /// The replay half of a regression gate: the customer's `stage.replay` most recent
    /// production inputs of the template (from the store, newest first), written as an
    /// unlabelled dataset under `.steward/replays/` and run through both sides.
    /// - Returns: The evidence, whether it fails the gate (a label-free rubric gate failed, or
    ///   agreement below `min_agreement` with 95% confidence), and whether it leaves the gate
    ///   unsure (no inputs to replay, or an agreement interval across `min_agreement`).
    func replayRuns(
        _ stage: MigrationStage, plan: MigrationPlan, customer: String, current currentRequest: EvalRequest, candidate candidateRequest: EvalRequest
    ) async throws -> (evidence: JSONValue, failed: Bool, unsure: Bool) {
        var lines: [String] = []
        for summary in try await store.instances(status: nil, template: plan.template, customer: customer, limit: stage.replay) {
            guard let state = try await store.instance(id: summary.id), let input = state.data["input"] else { continue }
            lines.append(JSONValue.object(["id": .string(summary.id), "input": input]).jsonString)
        }
        guard !lines.isEmpty else {
            return (["cases": 0, "note": .string("customer \(customer) has no production instances of \(plan.template) to replay")], false, true)
        }
        let directory = assembly.workspace.dataDirectory.appendingPathComponent("replays")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("\(plan.name)-\(customer)-\(stage.name).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        var currentReplay = currentRequest
        currentReplay.datasetPath = file.path
        currentReplay.baseline = .none
        var candidateReplay = candidateRequest
        candidateReplay.datasetPath = file.path
        let session = EvalSession(assembly: assembly)
        guard let current = try await session.run(currentReplay) else { throw MigrationError("the replay run of the current side was not stored") }
        candidateReplay.baseline = .run(current.run)
        guard let candidate = try await session.run(candidateReplay) else { throw MigrationError("the replay run of the candidate was not stored") }
        // Agreement: the same values at every labelled path of the rubric (the answers, not the
        // confidences), both sides finished.
        let rubricPlan = assembly.plans.plan(template: plan.template, version: candidateRequest.version)
        let labelled: Set<EvalMetric.Kind> = [.accuracy, .recall, .precision, .macroF1, .exactMatch, .numericTolerance]
        let paths = Set((rubricPlan?.template.eval?.metrics ?? []).filter { labelled.contains($0.kind) }.compactMap(\.path)).sorted()
        let currentCases = Dictionary(current.cases.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var agreed = 0
        for result in candidate.cases {
            guard let other = currentCases[result.id], result.error == nil, other.error == nil, result.status == other.status else { continue }
            let same = paths.isEmpty
                ? result.outputs == other.outputs
                : paths.allSatisfy { result.outputs.value(at: $0.split(separator: ".")) == other.outputs.value(at: $0.split(separator: ".")) }
            if same { agreed += 1 }
        }
        let n = candidate.cases.count
        let interval = Statistics.wilson(successes: agreed, trials: n)
        var evidence: [String: JSONValue] = [
            "dataset": .string(candidate.dataset), "cases": .integer(Int64(n)), "current_run": .integer(current.run),
            "candidate_run": .integer(candidate.run), "agreed": .integer(Int64(agreed)),
            "agreement": n > 0 ? .double(Double(agreed) / Double(n)) : .null, "agreement_ci_low": .double(interval.low),
            "agreement_ci_high": .double(interval.high), "compared_paths": .array(paths.map { .string($0) }),
            "metrics": .array(candidate.metrics.filter(\.counted).map { m in
                ["name": .string(m.name), "candidate": m.value.map { .double($0) } ?? .null, "current": m.threshold.baseline.map { .double($0) } ?? .null,
                 "passed": .bool(m.passed)]
            }),
        ]
        var failed = !candidate.passed
        var unsure = false
        if let minimum = stage.minimumAgreement {
            if interval.high < minimum {
                failed = true
                evidence["note"] = .string("the sides agree on fewer than \(minimum) of the replayed inputs with 95% confidence")
            } else if interval.low < minimum {
                unsure = true
                evidence["note"] = .string("the agreement interval reaches below \(minimum)")
            }
        }
        return (.object(evidence), failed, unsure)
    }

    /// The customer's finished instances on the candidate since the stage began: their failure
    /// rate's Wilson upper bound must stay under `max_failure_rate`, with at least
    /// `min_observations` of them and `min_duration` elapsed.
    func canary(_ stage: MigrationStage, plan: MigrationPlan, progress: MigrationProgress) async throws -> (GateVerdict, JSONValue) {
        var candidate = (finished: 0, failed: 0)
        var current = (finished: 0, failed: 0)
        // Reviewers' decisions on each side (automatic passes of a checkpoint are not decisions).
        var decisions: [Bool: [String: Int]] = [true: [:], false: [:]]
        for summary in try await store.instances(status: nil, template: plan.template, customer: progress.customer, limit: 5_000)
        where summary.createdAt >= progress.stageStartedAt && summary.status.isFinal {
            guard let state = try await store.instance(id: summary.id) else { continue }
            let failed = state.status == .failed ? 1 : 0
            let onCandidate = plan.role.map { state.bindings[$0] == plan.to } ?? (state.templateVersion == plan.to)
            for (_, review) in state.data["reviews"]?.objectValue ?? [:] where review["automatic"]?.boolValue != true {
                if let decision = review["decision"]?.stringValue { decisions[onCandidate, default: [:]][decision, default: 0] += 1 }
            }
            if onCandidate {
                candidate = (candidate.finished + 1, candidate.failed + failed)
            } else {
                current = (current.finished + 1, current.failed + failed)
            }
        }
        let interval = Statistics.wilson(successes: candidate.failed, trials: candidate.finished)
        let elapsed = now - progress.stageStartedAt
        var evidence: [String: JSONValue] = [
            "stage": .string(stage.name), "share": .double(progress.share),
            "candidate": ["finished": .integer(Int64(candidate.finished)), "failed": .integer(Int64(candidate.failed)),
                          "failure_rate_ci_high": .double(interval.high)],
            "current": ["finished": .integer(Int64(current.finished)), "failed": .integer(Int64(current.failed))],
            "elapsed_ms": .integer(elapsed), "min_observations": .integer(Int64(stage.minimumObservations)),
            "min_duration_ms": .integer(stage.minimumDuration),
        ]
        func reviewJSON(_ counts: [String: Int]) -> (JSONValue, Interval, Int) {
            let reviewed = counts.values.reduce(0, +)
            let rework = (counts["edit"] ?? 0) + (counts["reject"] ?? 0)
            let rate = Statistics.wilson(successes: rework, trials: reviewed)
            return ([
                "approve": .integer(Int64(counts["approve"] ?? 0)), "edit": .integer(Int64(counts["edit"] ?? 0)),
                "reject": .integer(Int64(counts["reject"] ?? 0)), "rework_rate": reviewed > 0 ? .double(Double(rework) / Double(reviewed)) : .null,
                "rework_ci_low": .double(rate.low), "rework_ci_high": .double(rate.high),
            ], rate, reviewed)
        }
        let (candidateReviews, rework, reviewed) = reviewJSON(decisions[true] ?? [:])
        evidence["reviews"] = ["candidate": candidateReviews, "current": reviewJSON(decisions[false] ?? [:]).0]
        // Sampled production accuracy: audits of the work each side did that no one reviewed,
        // since the stage began; an item counts as correct when its first review judged every
        // path correct.
        var audited: [Bool: (correct: Int, n: Int)] = [true: (0, 0), false: (0, 0)]
        for item in try await store.auditItems(AuditQuery(template: plan.template, customer: progress.customer))
        where item.createdAt >= progress.stageStartedAt && item.isComplete {
            guard let first = item.verdicts.first else { continue }
            let side = plan.role.map { item.bindings[$0] == plan.to } ?? (item.templateVersion == plan.to)
            let correct = first.judgements.allSatisfy(\.correct)
            audited[side] = (audited[side, default: (0, 0)].correct + (correct ? 1 : 0), audited[side, default: (0, 0)].n + 1)
        }
        let accuracy = AccuracyEstimate(correct: audited[true]?.correct ?? 0, n: audited[true]?.n ?? 0)
        let currentAccuracy = AccuracyEstimate(correct: audited[false]?.correct ?? 0, n: audited[false]?.n ?? 0)
        func accuracyJSON(_ estimate: AccuracyEstimate) -> JSONValue {
            [
                "audited": .integer(Int64(estimate.n)), "correct": .integer(Int64(estimate.correct)),
                "accuracy": estimate.accuracy.map { .double($0) } ?? .null, "ci_low": .double(estimate.interval.low),
                "ci_high": .double(estimate.interval.high),
            ]
        }
        evidence["production_accuracy"] = ["candidate": accuracyJSON(accuracy), "current": accuracyJSON(currentAccuracy)]
        if let minimum = stage.minimumProductionAccuracy, accuracy.n > 0, accuracy.interval.high < minimum {
            evidence["note"] = .string("the candidate's audited production accuracy is below \(minimum) with 95% confidence")
            return (.failed, .object(evidence))
        }
        if let limit = stage.maximumReworkRate, reviewed > 0, rework.low > limit {
            evidence["note"] = .string("reviewers edited or rejected more than \(limit) of the candidate's reviewed work with 95% confidence")
            return (.failed, .object(evidence))
        }
        if let limit = stage.maximumFailureRate, candidate.finished > 0, Double(candidate.failed) / Double(candidate.finished) > limit, interval.low > limit {
            evidence["note"] = .string("the candidate's failure rate is above \(limit) with 95% confidence")
            return (.failed, .object(evidence))
        }
        if candidate.finished < stage.minimumObservations || elapsed < stage.minimumDuration {
            evidence["note"] = "too few observations or too short a time"
            return (.inconclusive, .object(evidence))
        }
        if let limit = stage.maximumFailureRate, interval.high > limit {
            evidence["note"] = .string("the failure rate's interval reaches above \(limit)")
            return (.inconclusive, .object(evidence))
        }
        if let minimum = stage.minimumProductionAccuracy, accuracy.n == 0 || accuracy.interval.low < minimum {
            evidence["note"] = .string(accuracy.n == 0 ? "no audited candidate work yet" : "the production accuracy's interval reaches below \(minimum)")
            return (.inconclusive, .object(evidence))
        }
        if let limit = stage.maximumReworkRate, reviewed == 0 || rework.high > limit {
            evidence["note"] = .string(reviewed == 0 ? "no reviewed candidate work yet" : "the rework rate's interval reaches above \(limit)")
            return (.inconclusive, .object(evidence))
        }
        return (.passed, .object(evidence))
    }

    /// The shadow calls since the stage began: agreement with the served output (Wilson 95%),
    /// the candidate's error rate and its latency p95. Failed when agreement is below
    /// `min_agreement` or errors above `max_error_rate` with 95% confidence, or the p95 is over
    /// `max_latency_p95_ms`; inconclusive with too few calls, too short a time, or an interval
    /// across a threshold; passed otherwise.
    func shadow(_ stage: MigrationStage, plan: MigrationPlan, progress: MigrationProgress) async throws -> (GateVerdict, JSONValue) {
        let observations = try await store.shadowObservations(migration: plan.name, customer: progress.customer, since: progress.stageStartedAt)
        let n = observations.count
        let agreed = observations.filter(\.agreed).count
        let errors = observations.filter { $0.error != nil }.count
        let agreement = Statistics.wilson(successes: agreed, trials: n)
        let errorRate = Statistics.wilson(successes: errors, trials: n)
        let latencies = observations.map { Double($0.latencyMicroseconds) / 1_000 }.sorted()
        let p95 = latencies.isEmpty ? nil : Statistics.percentile(latencies, 0.95)
        let elapsed = now - progress.stageStartedAt
        var evidence: [String: JSONValue] = [
            "stage": .string(stage.name), "observations": .integer(Int64(n)), "agreed": .integer(Int64(agreed)), "errors": .integer(Int64(errors)),
            "agreement": n > 0 ? .double(Double(agreed) / Double(n)) : .null, "agreement_ci_low": .double(agreement.low),
            "agreement_ci_high": .double(agreement.high), "latency_p95_ms": p95.map { .double($0) } ?? .null, "elapsed_ms": .integer(elapsed),
            "min_observations": .integer(Int64(stage.minimumObservations)),
        ]
        var failures: [String] = []
        var unsure: [String] = []
        if let minimum = stage.minimumAgreement, n > 0 {
            if agreement.high < minimum { failures.append("agreement below \(minimum)") } else if agreement.low < minimum { unsure.append("agreement interval reaches below \(minimum)") }
        }
        if let maximum = stage.maximumErrorRate, n > 0 {
            if errorRate.low > maximum { failures.append("error rate above \(maximum)") } else if errorRate.high > maximum { unsure.append("error-rate interval reaches above \(maximum)") }
        }
        if let maximum = stage.maximumLatencyP95, let p95, p95 > maximum { failures.append("latency p95 \(String(format: "%.1f", p95)) ms above \(maximum) ms") }
        if !failures.isEmpty {
            evidence["note"] = .string(failures.joined(separator: "; "))
            return (.failed, .object(evidence))
        }
        if n < max(stage.minimumObservations, 1) || elapsed < stage.minimumDuration { unsure.insert("too few observations or too short a time", at: 0) }
        if !unsure.isEmpty {
            evidence["note"] = .string(unsure.joined(separator: "; "))
            return (.inconclusive, .object(evidence))
        }
        return (.passed, .object(evidence))
    }

    // MARK: Status

    /// Per migration and customer: stage, state, share, the last gate's evidence, and the deadline warning.
    public func status(_ name: String?) async throws -> JSONValue {
        try await syncGates(name)
        var entries: [JSONValue] = []
        for record in try await store.migrations() where name == nil || record.name == name {
            guard let plan = try? TemplateParser.parseMigration(record.plan, file: record.name) else { continue }
            let progress = try await store.migrationProgress(record.name)
            var entry: [String: JSONValue] = [
                "migration": .string(record.name), "template": .string(plan.template), "role": plan.role.map { .string($0) } ?? .null,
                "change": .string(plan.changesTemplate ? "template" : "binding"), "from": .string(plan.from),
                "to": .string(plan.to), "status": .string(record.status), "approver": .string(plan.approver), "stages": .array(plan.stages.map { .string("\($0.name) (\($0.kind.rawValue))") }),
                "customers": .array(progress.map { row in
                    [
                        "customer": .string(row.customer), "stage": .string(row.stage < plan.stages.count ? plan.stages[row.stage].name : "done"),
                        "state": .string(row.state), "share": .double(row.share), "evidence": row.evidence,
                        "gate_instance": row.state == "awaiting_approval" ? .string(Self.gateInstance(record.name, customer: row.customer, stage: row.stage)) : .null,
                    ]
                }),
            ]
            if let warning = deadlineWarning(plan, progress: progress) { entry["warning"] = .string(warning) }
            entries.append(.object(entry))
        }
        if let name, entries.isEmpty { throw MigrationError("no migration '\(name)'") }
        return ["migrations": .array(entries)]
    }
}
