import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates

/// Drives golden cases through a template in a sandbox: the real transition function and the
/// real plugins and adapters, with nothing leaving the run. Steps not flagged pure are not
/// called (their output is `{"skipped": true}` and the case records them); a checkpoint that
/// opens is recorded as "would ask a person" and approved by the sandbox; no instance, task,
/// timer or notification is written anywhere.
///
/// Thread rules: `run` may be called from any task; cases run concurrently (at most
/// `concurrency` at once), and every plugin call goes through `invoker`, which keeps blocking
/// calls off the cooperative pool.
public struct EvalRunner: Sendable {
    /// The template's plan.
    public let plan: Plan
    /// The effective config (the customer's overlay applied).
    public let config: JSONValue
    /// The model role bindings every case starts with.
    public let bindings: [String: String]
    /// Performs step, model and ffi calls.
    public let invoker: any StepInvoker
    /// The plugin steps that may be called (flagged pure); `ffi` states and model adapters
    /// are always called: they return values and own no effect a template can route.
    public let pureSteps: Set<String>
    /// The metrics whose paths each case records.
    public let rubric: EvalRubric
    /// How many cases are in flight at once.
    public let concurrency: Int
    /// Waits between retries of a transient failure.
    public let sleeper: any Sleeper
    /// A prefix for the sandbox instance ids (what plugins see in call keys).
    public let runTag: String

    /// Creates a runner.
    public init(
        plan: Plan, config: JSONValue, bindings: [String: String], invoker: any StepInvoker, pureSteps: Set<String>, rubric: EvalRubric,
        concurrency: Int = 16, sleeper: any Sleeper = ClockSleeper(), runTag: String = "eval"
    ) {
        self.plan = plan
        self.config = config
        self.bindings = bindings
        self.invoker = invoker
        self.pureSteps = pureSteps
        self.rubric = rubric
        self.concurrency = max(1, concurrency)
        self.sleeper = sleeper
        self.runTag = runTag
    }

    /// Runs every case and returns their results in dataset order.
    /// - Parameter progress: Called with (cases done, cases in all) after each case, on the
    ///   task that collects results.
    public func run(_ cases: [EvalCase], progress: (Int, Int) -> Void = { _, _ in }) async -> [CaseResult] {
        var results = [CaseResult?](repeating: nil, count: cases.count)
        await withTaskGroup(of: (Int, CaseResult).self) { group in
            var next = 0
            var done = 0
            while next < min(concurrency, cases.count) {
                let index = next
                group.addTask { (index, await self.runCase(cases[index], index: index)) }
                next += 1
            }
            while let (index, result) = await group.next() {
                results[index] = result
                done += 1
                progress(done, cases.count)
                if next < cases.count {
                    let index = next
                    group.addTask { (index, await self.runCase(cases[index], index: index)) }
                    next += 1
                }
            }
        }
        return results.map { $0! }
    }

    /// Runs one instance of `plan` from `first` to its end in the sandbox: steps that are not
    /// pure are skipped, checkpoints approved, waits over at once, and a fan-out's inline
    /// branches run one after the other as instances of their own. Returns the state and why it
    /// could not finish (an event it waits for, a branch template outside the sandbox).
    func sandbox(
        _ plan: Plan, _ initial: InstanceState, first: Event, executor: Executor, checkpoints: inout [String], skipped: inout [String]
    ) async throws -> (InstanceState, String?) {
        var state = initial
        var error: String?
        var pending: [Event] = [first]
        while let event = pending.popLast() {
            let result = try Transition.apply(event, to: state, plan: plan, config: config)
            state = result.state
            for effect in result.effects {
                switch effect {
                case .runStep(let invocation):
                    if case .step(let name) = invocation.callee, !pureSteps.contains(name) {
                        skipped.append(invocation.state)
                        pending.append(.stepSucceeded(
                            state: invocation.state, attempt: invocation.attempt,
                            output: ["skipped": true, "step": .string(name), "reason": "not pure: not called in an eval run"]))
                    } else {
                        pending.append(try await executor.perform(invocation))
                    }
                case .openCheckpoint(let request):
                    checkpoints.append(request.state)
                    pending.append(.checkpointDecided(CheckpointDecision(
                        state: request.state, decision: .approve, reviewer: "eval-sandbox", credential: request.credential)))
                case .startWait(let wait):
                    // No time passes in the sandbox: the wait is over at once.
                    if wait.kind == TimerFired.wait {
                        pending.append(.timerFired(TimerFired(timer: 0, kind: wait.kind, state: wait.state, dueAt: wait.until ?? 0, payload: .emptyObject)))
                    }
                case .awaitEvent(let awaited):
                    // No one sends events to the sandbox: the case ends here, unfinished.
                    error = "waits for event '\(awaited.event)' at \(awaited.state); an eval case cannot receive events"
                case .startBranches(let starts):
                    for start in starts {
                        guard case .inline(let key) = start.target, let branchPlan = plan.branchPlan(key) else {
                            error = "branch \(start.branch) of \(start.link.state) runs another template; an eval case runs only its own template's inline branches"
                            continue
                        }
                        let child = InstanceState(id: start.link.childID, template: branchPlan.name, templateVersion: branchPlan.version, customer: nil)
                        let executor = Executor(plan: branchPlan, config: config, invoker: invoker, sleeper: sleeper)
                        let (ended, problem) = try await sandbox(
                            branchPlan, child, first: .started(input: start.input, bindings: state.bindings, parent: start.link), executor: executor,
                            checkpoints: &checkpoints, skipped: &skipped)
                        if let problem { error = problem }
                        guard ended.status.isFinal else { continue }
                        let failed = ended.status == .failed || ended.status == .cancelled
                        pending.insert(.branchFinished(BranchFinished(
                            link: start.link,
                            outcome: BranchOutcome(
                                child: ended.id, status: ended.status, output: failed ? nil : ended.output, message: ended.failure?.message))), at: 0)
                    }
                case .finish, .escalate, .sampleForAudit, .cancelBranches:
                    // Nothing leaves the sandbox: no notification, no audit item.
                    break
                }
            }
        }
        return (state, error)
    }

    /// Runs one case to its end in the sandbox.
    public func runCase(_ evalCase: EvalCase, index: Int) async -> CaseResult {
        let executor = Executor(plan: plan, config: config, invoker: invoker, sleeper: sleeper)
        var checkpoints: [String] = []
        var skipped: [String] = []
        var error: String?
        var state = InstanceState(id: "\(runTag)-\(index)", template: plan.name, templateVersion: plan.version, customer: nil)
        do {
            (state, error) = try await sandbox(
                plan, state, first: .started(input: evalCase.input, bindings: bindings), executor: executor, checkpoints: &checkpoints, skipped: &skipped)
        } catch let failure {
            error = "\(failure)"
        }
        if error == nil, let failure = state.failure { error = "\(failure.state): \(failure.kind): \(failure.message)" }
        let status = error != nil && !state.status.isFinal ? "failed" : state.status.rawValue
        var result = CaseResult(
            id: evalCase.id, passed: false, reviewed: !checkpoints.isEmpty, status: status, error: error,
            outputs: Self.project(state.data, paths: rubric.recordedPaths), expected: Self.project(evalCase.expected, paths: rubric.recordedPaths),
            checkpoints: checkpoints, skipped: skipped)
        if status != "failed" {
            for metric in rubric.metrics where metric.kind == .judge {
                switch await judge(metric, evalCase: evalCase, data: state.data, index: index) {
                case .success(let score): result.judge[metric.name] = score
                case .failure(let failure): result.error = [result.error, "judge \(metric.name): \(failure.message)"].compactMap { $0 }.joined(separator: "; ")
                }
            }
        }
        result.passed = MetricEngine.casePasses(result, rubric: rubric)
        return result
    }

    /// Asks the judge metric's model role to score the case's value at the metric's path
    /// against the rubric text: a `score` call whose input carries the rubric, the case's
    /// input, the value and (when labelled) the expected value. The score must be a number in
    /// [0, 1].
    func judge(_ metric: EvalMetric, evalCase: EvalCase, data: JSONValue, index: Int) async -> Result<Double, StepFailure> {
        guard let role = metric.role, let binding = bindings[role] else {
            return .failure(StepFailure(.unboundRole, "judge role '\(metric.role ?? "")' has no adapter binding"))
        }
        let path = metric.path.map { $0.split(separator: ".") } ?? []
        var input: [String: JSONValue] = [
            "rubric": .string(metric.rubric ?? ""), "input": evalCase.input, "output": data.value(at: path) ?? .null,
        ]
        if let expected = evalCase.expected.value(at: path) { input["expected"] = expected }
        let key = "\(runTag)-\(index)/judge:\(metric.name)/1"
        let invocation = StepInvocation(
            state: "judge:" + metric.name, callee: .model(adapter: binding, role: role), input: .object(input),
            config: ["task": "score", "parameters": .emptyObject], attempt: 1, idempotencyKey: key, callKey: key, delayMilliseconds: 0,
            timeoutMilliseconds: plan.template.defaultTimeoutMilliseconds)
        do {
            let output = try await invoker.invoke(invocation)
            guard let score = output["score"]?.doubleValue, score.isFinite, (0...1).contains(score) else {
                return .failure(StepFailure(.invalidOutput, "the judge answered \(output["score"]?.jsonString ?? "no score"); expected a score in [0, 1]"))
            }
            return .success(score)
        } catch {
            return .failure(error)
        }
    }

    /// The values of `data` at `paths`, nested as in `data` (absent paths are left out).
    static func project(_ data: JSONValue, paths: [String]) -> JSONValue {
        var projected: JSONValue = .emptyObject
        for path in paths {
            let segments = path.split(separator: ".").map(String.init)
            if let value = data.value(at: segments) { projected = projected.setting(value, at: segments[...]) }
        }
        return projected
    }
}

extension EvalRubric {
    /// The paths a case records: every metric's path and confidence path, in rubric order.
    public var recordedPaths: [String] {
        var paths: [String] = []
        for metric in metrics {
            for path in [metric.path, metric.confidence].compactMap({ $0 }) where !paths.contains(path) { paths.append(path) }
        }
        return paths
    }
}
