import Foundation
import StewardBootstrap
import StewardCore
import StewardDigest
import StewardEngine
import StewardJSON
import StewardTemplates

/// Why an eval cannot run: the template, a binding, the dataset or the baseline is wrong.
/// The CLI exits with `EvalExit.badInput` for it.
public struct EvalInputError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what was expected.
    public let description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// The exit codes of `steward eval run` (and of `compare` with `--gate`), promptfoo-style, so
/// CI can gate on them.
public enum EvalExit {
    /// Every counted gate passed.
    public static let passed: Int32 = 0
    /// At least one gate failed.
    public static let gateFailed: Int32 = 1
    /// Bad input: unknown template, malformed dataset, bad binding or baseline.
    public static let badInput: Int32 = 2
}

/// A baseline to compare a run with.
public enum BaselineChoice: Sendable, Hashable {
    /// No baseline.
    case none
    /// This stored run.
    case run(Int64)
    /// The newest stored run of the same template, customer and dataset.
    case latest

    /// Parses `latest` or a run id.
    public init?(_ text: String) {
        if text == "latest" { self = .latest } else if let id = Int64(text), id > 0 { self = .run(id) } else { return nil }
    }
}

/// What an eval run is asked to do.
public struct EvalRequest: Sendable {
    /// The template's name.
    public var template: String
    /// The template version (nil: the newest loaded).
    public var version: String? = nil
    /// The dataset file.
    public var datasetPath: String
    /// The customer whose config, bindings and gates apply.
    public var customer: String?
    /// Role bindings replacing the template's and the customer's (`classifier` -> `banking-intent@1.0.0`).
    public var bindings: [String: String]
    /// The baseline.
    public var baseline: BaselineChoice
    /// What starts it (`cli`, `api`, `schedule`, `migration`).
    public var trigger: String
    /// Cases in flight at once (nil: twice the plugin threads, at least 8).
    public var concurrency: Int?

    /// Creates a request.
    public init(
        template: String, datasetPath: String, customer: String? = nil, bindings: [String: String] = [:], baseline: BaselineChoice = .none,
        trigger: String = "cli", concurrency: Int? = nil
    ) {
        self.template = template
        self.datasetPath = datasetPath
        self.customer = customer
        self.bindings = bindings
        self.baseline = baseline
        self.trigger = trigger
        self.concurrency = concurrency
    }
}

/// Runs evals on an assembled engine and stores them: resolves the template, the customer's
/// overlay and the bindings, reads the dataset, drives the cases (`EvalRunner`), gates the
/// metrics against the baseline and commits the run immutably.
public struct EvalSession: Sendable {
    /// The engine's parts: plans, overlays, plugins, the invoker and the store.
    public let assembly: EngineAssembly

    /// Creates a session over an assembled engine.
    public init(assembly: EngineAssembly) { self.assembly = assembly }

    var store: any EngineStore { assembly.store }

    /// The plan, effective rubric, config and bindings of `request`, checked.
    /// - Throws: `EvalInputError` for an unknown template or customer, a template without
    ///   `eval:`, or a binding of an unknown role or to an adapter that is not loaded.
    public func prepare(_ request: EvalRequest) throws(EvalInputError) -> (plan: Plan, rubric: EvalRubric, config: JSONValue, bindings: [String: String]) {
        guard let plan = assembly.plans.plan(template: request.template, version: request.version) else {
            if let version = request.version {
                let versions = assembly.plans.all.filter { $0.name == request.template }.map(\.version).sorted()
                throw EvalInputError("template '\(request.template)' has no version \(version) loaded; loaded: \(versions.joined(separator: ", "))")
            }
            let names = Set(assembly.plans.all.map(\.name)).sorted()
            throw EvalInputError("unknown template '\(request.template)'; loaded: \(names.joined(separator: ", "))")
        }
        guard let rubric = plan.template.eval else {
            throw EvalInputError("template '\(plan.name)' has no 'eval' block; add metrics under 'eval.metrics' (see Docs/evaluation.md)")
        }
        if let customer = request.customer, !assembly.plans.knowsCustomer(customer) {
            throw EvalInputError("unknown customer '\(customer)'; customers are the overlays in workflows/customers/")
        }
        let overlay = request.customer.flatMap { assembly.overlays[$0]?.templates[plan.name]?.eval }
        var bindings = plan.template.models.merging(assembly.plans.bindings(for: plan, customer: request.customer)) { _, customer in customer }
        let adapters = assembly.registry.adapterKeys
        for (role, binding) in request.bindings.sorted(by: { $0.key < $1.key }) {
            guard plan.template.models[role] != nil else {
                throw EvalInputError("--bind \(role)=\(binding): template '\(plan.name)' has no model role '\(role)'; roles: \(plan.template.models.keys.sorted().joined(separator: ", "))")
            }
            guard ModelBinding(binding) != nil else {
                throw EvalInputError("--bind \(role)=\(binding): expected ROLE=ADAPTER@VERSION")
            }
            guard adapters.contains(binding) else {
                throw EvalInputError("--bind \(role)=\(binding): adapter \(binding) is not loaded; loaded: \(adapters.sorted().joined(separator: ", "))")
            }
            bindings[role] = binding
        }
        return (plan, rubric.applying(overlay), assembly.plans.config(for: plan, customer: request.customer), bindings)
    }

    /// Runs `request`, stores the run and returns it with its id.
    ///
    /// - Parameters:
    ///   - due: The schedule's due time this run answers (nil: on demand). A scheduled run that
    ///     fails a gate blocks the template's release and notifies its escalation target.
    ///   - progress: Called after each case with (done, total).
    /// - Returns: The stored run, or nil when `due` already has a run (another process ran it).
    /// - Throws: `EvalInputError` for bad input (nothing is stored); the store's error.
    public func run(
        _ request: EvalRequest, due: EvalDue? = nil, progress: @escaping (Int, Int) -> Void = { _, _ in }
    ) async throws -> EvalRunReport? {
        let (plan, rubric, config, bindings) = try prepare(request)
        let dataset: EvalDataset
        do {
            dataset = try EvalDataset.load(path: request.datasetPath, name: relativeName(request.datasetPath))
        } catch {
            throw EvalInputError(error.description)
        }
        let baseline = try await resolveBaseline(request.baseline, template: plan.name, customer: request.customer, datasetHash: dataset.hash)
        let concurrency = request.concurrency ?? max(8, 2 * assembly.pluginPool.size)
        let clock = assembly.engine.clock
        let started = clock.nowMilliseconds()
        let runner = EvalRunner(
            plan: plan, config: config, bindings: bindings, invoker: assembly.invoker, pureSteps: pureSteps, rubric: rubric,
            concurrency: concurrency, runTag: "eval-\(started)")
        let cases = await runner.run(dataset.cases, progress: progress)
        let baselineValues = baseline.map { Dictionary($0.metrics.compactMap { m in m.value.map { (m.name, $0) } }, uniquingKeysWith: { a, _ in a }) }
        let metrics = MetricEngine.evaluate(rubric, cases: cases, baseline: baselineValues)
        let snapshot = assembly.plans.snapshot(of: plan)
        var report = EvalRunReport(
            // A case that failed (a step error) means the template broke on golden input: no pass.
            run: 0, passed: metrics.allSatisfy { $0.passed || !$0.counted } && !cases.contains { $0.status == "failed" }, metrics: metrics,
            cases: cases, template: plan.name,
            version: plan.version, templateHash: snapshot?.hash ?? "", customer: request.customer, dataset: dataset.name,
            datasetHash: dataset.hash, configHash: String(SHA256.hex(config.jsonBytes).prefix(32)), bindings: bindings,
            prompts: (snapshot?.prompts ?? [:]).mapValues { SHA256.hex(Array($0.utf8)) }, baseline: baseline?.run, startedAt: started,
            finishedAt: clock.nowMilliseconds(), trigger: request.trigger, concurrency: concurrency,
            counts: [
                "cases": cases.count, "completed": cases.filter { $0.status == "completed" }.count,
                "rejected": cases.filter { $0.status == "rejected" }.count, "failed": cases.filter { $0.status == "failed" }.count,
                "reviewed": cases.filter(\.reviewed).count, "passed": cases.filter(\.passed).count,
            ])
        var failedGates = metrics.filter { !$0.passed && $0.counted }
        let failedCases = cases.filter { $0.status == "failed" }.count
        if failedCases > 0 {
            failedGates.append(MetricResult(
                name: "cases", kind: .accuracy, path: nil, label: nil, value: nil, n: cases.count, ciLow: nil, ciHigh: nil,
                threshold: AppliedThreshold(EvalThreshold()), passed: false, note: "\(failedCases) of \(cases.count) cases failed"))
        }
        var block: ReleaseBlock?
        var notifications: [NotificationRecord] = []
        if due != nil, !failedGates.isEmpty {
            let reason = failedGates.map { "\($0.name): \($0.note ?? "failed")" }.joined(separator: "; ")
            block = ReleaseBlock(
                template: plan.name, version: plan.version, templateHash: report.templateHash, customer: request.customer, reason: reason,
                blockedAt: report.finishedAt)
            let who = request.customer.map { " for customer \($0)" } ?? ""
            notifications.append(NotificationRecord(
                recipient: plan.template.aop.escalationTarget,
                message: "Scheduled eval of \(plan.name)@\(plan.version)\(who) failed its gates on \(dataset.name): \(reason). Release blocked.",
                at: report.finishedAt, instance: nil))
        }
        let record = EvalRunRecord(
            template: plan.name, templateVersion: plan.version, templateHash: report.templateHash, customer: request.customer,
            dataset: dataset.name, datasetHash: dataset.hash, passed: report.passed, createdAt: report.finishedAt, trigger: request.trigger,
            summary: report.summaryJSON, body: report.jsonValue)
        guard let id = try await store.commitEvalRun(EvalRunCommit(run: record, due: due, block: block, notifications: notifications, actor: "eval:" + request.trigger)) else {
            return nil
        }
        report.run = id
        return report
    }

    /// The plugin steps flagged pure.
    var pureSteps: Set<String> {
        Set(assembly.registry.stepNames.filter { assembly.registry.step($0)?.isPure == true })
    }

    /// `path` relative to the workspace root when it lies inside it.
    func relativeName(_ path: String) -> String {
        let root = assembly.workspace.root.standardizedFileURL.path
        let full = URL(fileURLWithPath: path).standardizedFileURL.path
        return full.hasPrefix(root + "/") ? String(full.dropFirst(root.count + 1)) : path
    }

    /// The stored run `choice` names, checked to be comparable.
    /// - Throws: `EvalInputError` when the run does not exist, is of another template, or
    ///   evaluated another dataset (max_drop compares like with like).
    func resolveBaseline(_ choice: BaselineChoice, template: String, customer: String?, datasetHash: String) async throws -> EvalRunReport? {
        switch choice {
        case .none:
            return nil
        case .latest:
            let runs = try await store.evalRuns(template: template, customer: customer ?? "", limit: 200)
            guard let newest = runs.first(where: { $0.datasetHash == datasetHash }) else { return nil }
            return try await load(newest.id)
        case .run(let id):
            guard let run = try await load(id) else { throw EvalInputError("--baseline \(id): no such eval run") }
            guard run.template == template else { throw EvalInputError("--baseline \(id) evaluated template '\(run.template)', not '\(template)'") }
            guard run.datasetHash == datasetHash else {
                throw EvalInputError("--baseline \(id) evaluated dataset \(run.dataset) (sha256 \(run.datasetHash.prefix(12))), not this one (sha256 \(datasetHash.prefix(12))); max_drop compares runs on the same dataset")
            }
            return run
        }
    }

    /// A stored run, decoded.
    public func load(_ id: Int64) async throws -> EvalRunReport? {
        guard let record = try await store.evalRun(id: id), let body = record.body else { return nil }
        var report = try EvalRunReport(json: body)
        report.run = record.id
        return report
    }
}
