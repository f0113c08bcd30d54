import StewardExpressions
import StewardJSON
import StewardTemplates

/// Why an event cannot be applied to an instance. Nothing changes when one is thrown.
public struct TransitionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A readable explanation.
    public let message: String
    /// Whether the event is a duplicate or came too late (the conflict callers report as 409).
    public let isConflict: Bool

    init(_ message: String, conflict: Bool = false) {
        self.message = message
        self.isConflict = conflict
    }

    /// The message.
    public var description: String { message }
}

/// The result of applying one event.
public struct TransitionResult: Sendable, Hashable {
    /// The instance after the event.
    public var state: InstanceState
    /// What the executor must do next.
    public var effects: [Effect]
    /// The states moved through, in order.
    public var moves: [Move]
}

/// The pure, deterministic transition function: `(plan, state, event) -> (state', effects)`.
/// It performs no I/O, reads no clock and draws no random numbers, so replaying an event
/// log always rebuilds the same state.
public enum Transition {
    /// Choice and auto-passed checkpoints followed in one transition before it is declared a loop.
    static let maxHops = 1_000

    /// Applies `event` to `state` under `plan`.
    ///
    /// - Parameter sampling: The customer's overrides of checkpoints' `sample` rates, by
    ///   checkpoint. Sampling yields only `sampleForAudit` effects, never a change of state, so
    ///   replay (which keeps the state only) needs none.
    public static func apply(
        _ event: Event, to state: InstanceState, plan: Plan, config: JSONValue? = nil, sampling: [String: SampleOverride] = [:]
    ) throws(TransitionError) -> TransitionResult {
        var machine = Machine(plan: plan, config: config ?? plan.template.config, state: state)
        machine.sampling = sampling
        try machine.apply(event)
        machine.state.sequence += 1
        return TransitionResult(state: machine.state, effects: machine.effects, moves: machine.moves)
    }
}

/// The working copy of one transition.
struct Machine {
    let plan: Plan
    let config: JSONValue
    var state: InstanceState
    var effects: [Effect] = []
    var moves: [Move] = []
    /// The customer's sampling rate overrides, by checkpoint.
    var sampling: [String: SampleOverride] = [:]

    init(plan: Plan, config: JSONValue, state: InstanceState) {
        self.plan = plan
        self.config = config
        self.state = state
    }

    /// The data expressions see: the instance data plus `config` and `instance`.
    var scope: JSONValue {
        guard case .object(var members) = state.data else { return state.data }
        members["config"] = config
        members["instance"] = .object([
            "id": .string(state.id), "template": .string(state.template), "version": .string(state.templateVersion),
            "customer": state.customer.map { .string($0) } ?? .null,
        ])
        return .object(members)
    }

    mutating func apply(_ event: Event) throws(TransitionError) {
        if case .retried(let by) = event {
            try retry(by: by)
            return
        }
        guard !state.status.isFinal else {
            throw TransitionError("instance \(state.id) is already \(state.status.rawValue); \(event.name) does not apply", conflict: true)
        }
        switch event {
        case .started(let input, let bindings, let at, let configHash, let templateHash, let parent):
            guard state.status == .pending else {
                throw TransitionError("instance \(state.id) has already started", conflict: true)
            }
            state.data = .object(["input": input])
            state.bindings = plan.template.models.merging(bindings) { _, pinned in pinned }
            state.startedAt = at
            state.configHash = configHash
            state.templateHash = templateHash
            state.parent = parent
            state.status = .running
            try enter(plan.template.start, from: nil, reason: parent.map { "started as branch \($0.index) of \($0.instance) at \($0.state)" } ?? "started")

        case .stepSucceeded(let name, let attempt, let output):
            let step = try expectRunning(name, attempt: attempt)
            state.data = state.data.setting(output, at: ArraySlice(step.output.split(separator: ".").map(String.init)))
            guard let next = step.next?.name else { throw TransitionError("state '\(name)' has no next state") }
            try enter(next, from: name, reason: "step \(step.callee.name) succeeded")

        case .stepFailed(let name, let attempt, let kind, let message):
            let step = try expectRunning(name, attempt: attempt)
            if kind.isRetried, attempt < step.retry.maxAttempts {
                state.attempt = attempt + 1
                effects.append(.runStep(invocation(for: step, delay: step.retry.backoffMilliseconds(beforeAttempt: attempt + 1))))
                moves.append(Move(from: name, to: name, reason: "retry \(attempt + 1)/\(step.retry.maxAttempts) after transient error: \(message)"))
                return
            }
            let failure = Failure(state: name, kind: kind, message: message)
            if let onError = step.onError?.name {
                state.data = state.data.setting(
                    .object(["kind": .string(kind.rawValue), "message": .string(message), "attempts": .integer(Int64(attempt))]),
                    at: ["errors", name])
                try enter(onError, from: name, reason: "step \(step.callee.name) failed (\(kind)); on_error")
            } else {
                state.failure = failure
                finish(.failed, output: nil, from: name, reason: "step \(step.callee.name) failed (\(kind)) after \(attempt) attempt(s): \(message)")
            }

        case .checkpointDecided(let decision):
            try decide(decision)

        case .timerFired(let fired):
            try fire(fired)

        case .moved(let instanceMove):
            try move(instanceMove)

        case .cancelled(let reason, let by):
            let at = state.current
            if let progress = state.fanOut {
                let running = progress.running.map { BranchLink(instance: state.id, state: progress.state, visit: progress.visit, index: $0).childID }
                if !running.isEmpty { effects.append(.cancelBranches(running, reason: "parent \(state.id) cancelled by \(by): \(reason)")) }
                state.fanOut = nil
            }
            state.status = .cancelled
            state.output = nil
            state.data = state.data.setting(.object(["reason": .string(reason), "by": .string(by)]), at: ["cancelled"])
            moves.append(Move(from: at, to: at, reason: "cancelled by \(by): \(reason)"))
            effects.append(.finish(status: .cancelled, output: nil))

        case .retried:
            break  // Applied above: it is the one event a failed instance takes.

        case .branchFinished(let finished):
            try branchFinished(finished)

        case .eventReceived(let delivery):
            guard state.status == .waiting, case .event(let awaited) = plan.state(state.current)?.kind, awaited.event == delivery.name else {
                if let buffering = plan.bufferingState(for: delivery.name) {
                    // Declared buffering: kept, checked against the contract now, until the instance waits for it.
                    let problems = buffering.problems(of: delivery.payload)
                    guard problems.isEmpty else { throw TransitionError(problems.joined(separator: "; ")) }
                    state.buffered.append(delivery)
                    moves.append(Move(from: state.current, to: state.current, reason: "event \(delivery.name) from \(delivery.by) kept until the instance waits for it"))
                    return
                }
                throw TransitionError(
                    "instance \(state.id) is not waiting for event '\(delivery.name)' (it is \(state.status.rawValue) at \(state.current))",
                    conflict: true)
            }
            let problems = awaited.problems(of: delivery.payload)
            guard problems.isEmpty else { throw TransitionError(problems.joined(separator: "; ")) }
            let from = state.current
            state.data = state.data.setting(delivery.payload, at: ArraySlice(awaited.output.split(separator: ".").map(String.init)))
            try enter(awaited.next.name, from: from, reason: "event \(delivery.name) from \(delivery.by)")
        }
    }

    /// Runs the step a failed instance failed at again, from attempt 1 (its retry budget
    /// starts afresh). Only a failure at a step, model or ffi state can be retried: one at a
    /// choice or an end would fail the same way.
    mutating func retry(by: String) throws(TransitionError) {
        guard state.status == .failed, let failure = state.failure else {
            throw TransitionError("instance \(state.id) is \(state.status.rawValue); only a failed instance is retried", conflict: true)
        }
        guard let target = plan.state(failure.state), target.isCallable || target.fanOut != nil else {
            throw TransitionError(
                "instance \(state.id) failed at '\(failure.state)' (\(failure.kind)), which calls nothing; a retry would fail the same way",
                conflict: true)
        }
        state.failure = nil
        state.output = nil
        try enter(failure.state, from: failure.state, reason: "retried by \(by) after \(failure.kind): \(failure.message)")
    }

    /// Moves a waiting instance (the plan is the one it moves to). A move that changes the
    /// template leaves the checkpoint it waited at and enters `move.to` afresh (a checkpoint
    /// opens a new review; a step runs); one that only re-binds leaves it waiting where it is.
    mutating func move(_ move: InstanceMove) throws(TransitionError) {
        guard state.status == .waiting, state.current == move.from else {
            throw TransitionError(
                "instance \(state.id) cannot be moved from \(move.from): it is \(state.status.rawValue) at \(state.current)", conflict: true)
        }
        guard state.fanOut == nil else {
            throw TransitionError("instance \(state.id) waits for the branches of \(state.current) to end; it moves once they have", conflict: true)
        }
        guard plan.version == move.templateVersion else {
            throw TransitionError("the move of \(state.id) names version \(move.templateVersion), applied under \(plan.version)")
        }
        let rebindOnly = !move.changesTemplate(of: state)
        state.bindings.merge(move.bindings) { _, new in new }
        if rebindOnly {
            moves.append(Move(from: move.from, to: move.from, reason: "re-bound by migration \(move.migration)"))
            return
        }
        guard let target = plan.state(move.to) else { throw TransitionError("version \(move.templateVersion) has no state '\(move.to)'") }
        if case .end = target.kind { throw TransitionError("a move cannot end an instance: '\(move.to)' is an end state") }
        state.templateVersion = move.templateVersion
        state.templateHash = move.templateHash
        if let hash = move.configHash { state.configHash = hash }
        // Roles the new version adds are bound as it binds them; the instance's own win.
        state.bindings = plan.template.models.merging(state.bindings) { _, pinned in pinned }
        try enter(move.to, from: move.from, reason: "moved by migration \(move.migration) to \(state.template) \(move.templateVersion)")
    }

    /// Applies a due timer. SLA timers climb the template's escalation ladder while the
    /// instance still waits at their checkpoint; a timer for a state the instance has left
    /// is a conflict (the store cancels such timers, so this is a race lost, not an error).
    mutating func fire(_ fired: TimerFired) throws(TransitionError) {
        guard state.status == .waiting, state.current == fired.state else {
            throw TransitionError(
                "timer \(fired.timer) (\(fired.kind)) for \(fired.state) does not apply: instance \(state.id) is \(state.status.rawValue) at \(state.current)",
                conflict: true)
        }
        if fired.kind == TimerFired.eventTimeout {
            guard case .event(let awaited) = plan.state(fired.state)?.kind, let onTimeout = awaited.onTimeout else {
                throw TransitionError("timer \(fired.timer) is an event timeout, but '\(fired.state)' is not an event state with 'on_timeout'")
            }
            try enter(onTimeout.name, from: fired.state, reason: "no \(awaited.event) before the timeout (due \(fired.dueAt))")
            return
        }
        if fired.kind == TimerFired.wait {
            guard case .wait(let wait) = plan.state(fired.state)?.kind else {
                throw TransitionError("timer \(fired.timer) is a wait timer, but '\(fired.state)' is not a wait state")
            }
            try enter(wait.next.name, from: fired.state, reason: "the wait is over (due \(fired.dueAt))")
            return
        }
        let trigger: EscalationRung.Trigger
        switch fired.kind {
        case TimerFired.slaWarning: trigger = .warning
        case TimerFired.slaBreach: trigger = .breach
        default: throw TransitionError("unknown timer kind '\(fired.kind)'")
        }
        let rungs = plan.template.escalation.filter { $0.at == trigger }
        var escalation = state.escalation ?? Escalation(level: 0, assigned: nil, fired: [])
        escalation.fired.append(fired.kind)
        escalation.level += rungs.count
        if let reassign = rungs.compactMap(\.reassign).last { escalation.assigned = reassign }
        state.escalation = escalation
        let what = trigger == .breach ? "SLA breached" : "SLA warning"
        moves.append(Move(from: fired.state, to: fired.state, reason: rungs.isEmpty ? what : "\(what): escalated to \(rungs.map(\.notify).joined(separator: ", "))"))
        if !rungs.isEmpty {
            effects.append(.escalate(EscalationStep(
                state: fired.state, trigger: fired.kind, notify: rungs.map(\.notify), reassign: rungs.compactMap(\.reassign).last,
                level: escalation.level)))
        }
    }

    /// Checks that the instance is running `name` at `attempt`, returning the step.
    func expectRunning(_ name: String, attempt: Int) throws(TransitionError) -> CallableState {
        guard state.status == .running, state.current == name, state.attempt == attempt else {
            throw TransitionError(
                "event for \(name) attempt \(attempt) does not apply: instance \(state.id) is \(state.status.rawValue) at \(state.current) attempt \(state.attempt)",
                conflict: true)
        }
        guard let step = plan.state(name).flatMap({ CallableState($0, bindings: state.bindings) }) else {
            throw TransitionError("state '\(name)' is not a step or ffi state")
        }
        return step
    }

    func invocation(for step: CallableState, delay: Int) -> StepInvocation {
        var config = step.config
        if let parameters = step.modelParameters, let role = step.modelRole, case .object(var members) = config {
            let configured = self.config.value(at: ["model_parameters", role]) ?? .emptyObject
            // Config wins: the state's parameters are defaults a customer overlay can override.
            members["parameters"] = configured.objectValue == nil ? parameters : parameters.merging(configured)
            config = .object(members)
        }
        return StepInvocation(
            state: state.current, callee: step.callee,
            input: step.arguments.map { buildArguments($0) } ?? buildInput(step.modelInput ?? step.input),
            config: config, attempt: state.attempt, idempotencyKey: state.idempotencyKey, callKey: state.callKey,
            delayMilliseconds: delay, timeoutMilliseconds: step.timeoutMilliseconds, maxOutputBytes: step.maxOutputBytes)
    }

    func buildArguments(_ arguments: [Expression]) -> JSONValue {
        let scope = self.scope
        return .array(arguments.map { $0.evaluate(in: scope) })
    }

    /// The value `mapping` builds from the instance data, with `extra` roots (a map's `item` and
    /// `index`) in scope beside the data's.
    func buildInput(_ mapping: InputMapping, adding extra: [String: JSONValue] = [:]) -> JSONValue {
        var scope: JSONValue { 
            guard !extra.isEmpty, case .object(var members) = self.scope else { return self.scope }
            members.merge(extra) { _, new in new }
            return .object(members)
        }
        switch mapping {
        case .wholeData:
            return state.data
        case .expression(let expression):
            return expression.evaluate(in: scope)
        case .object(let members):
            let scope = scope
            var object: [String: JSONValue] = [:]
            object.reserveCapacity(members.count)
            for (key, source) in members {
                switch source {
                case .literal(let value): object[key] = value
                case .expression(let expression): object[key] = expression.evaluate(in: scope)
                }
            }
            return .object(object)
        }
    }

    /// Enters `name`, following choices and auto-passed checkpoints until the instance
    /// must wait for a step, a human or nothing (the end).
    mutating func enter(_ first: String, from origin: String?, reason firstReason: String) throws(TransitionError) {
        var target = first
        var from = origin
        var reason = firstReason
        for _ in 0..<Transition.maxHops {
            guard let next = plan.state(target) else { throw TransitionError("unknown state '\(target)'") }
            moves.append(Move(from: from, to: target, reason: reason))
            state.current = target
            state.attempt = 0
            // The sequence this event will get: what tells this visit of `target` from the next.
            state.enteredAt = state.sequence + 1
            state.escalation = nil
            switch next.kind {
            case .step, .ffi, .model:
                state.status = .running
                state.attempt = 1
                guard let callable = CallableState(next, bindings: state.bindings) else {
                    state.failure = Failure(state: next.name, kind: .unboundRole, message: "state '\(next.name)' calls a model role with no adapter binding")
                    finish(.failed, output: nil, from: next.name, reason: "unbound model role")
                    return
                }
                effects.append(.runStep(invocation(for: callable, delay: 0)))
                return
            case .choice(let choice):
                let scope = self.scope
                // Strict: a guard that cannot be evaluated (a type mismatch, a missing value) is
                // not "false". The instance fails at the choice, saying which guard and why, so
                // nothing is routed on a guess (and the failure replays like any outcome).
                var taken: ChoiceState.Branch?
                for branch in choice.branches {
                    do throws(ExpressionEvaluationError) {
                        if try branch.when.isTrueStrictly(in: scope) {
                            taken = branch
                            break
                        }
                    } catch {
                        state.failure = Failure(
                            state: next.name, kind: .guardError,
                            message: "guard '\(branch.when.source)' of choice '\(next.name)' cannot be evaluated: \(error.reason)")
                        finish(.failed, output: nil, from: next.name, reason: "guard '\(branch.when.source)' cannot be evaluated")
                        return
                    }
                }
                if let branch = taken {
                    (from, target, reason) = (next.name, branch.next.name, "guard \(branch.when.source)")
                } else if let otherwise = choice.otherwise {
                    (from, target, reason) = (next.name, otherwise.name, "no guard held; otherwise")
                } else {
                    state.failure = Failure(state: next.name, kind: .noBranch, message: "no guard of choice '\(next.name)' held and it has no 'otherwise'")
                    finish(.failed, output: nil, from: next.name, reason: "no branch matched")
                    return
                }
            case .checkpoint(let checkpoint):
                let subject = state.data.value(at: checkpoint.subject.split(separator: ".")) ?? .null
                if let condition = checkpoint.when {
                    // The safety rule: when in doubt, a person. Only a condition that is
                    // definitely false skips the review; one that cannot be evaluated opens it.
                    let verdict: Result<Bool, ExpressionEvaluationError>
                    do throws(ExpressionEvaluationError) { verdict = .success(try condition.isTrueStrictly(in: scope)) } catch { verdict = .failure(error) }
                    switch verdict {
                    case .success(false):
                        state.data = state.data.setting(
                            .object(["decision": "approve", "automatic": true, "reason": .string("condition '\(condition.source)' is false")]),
                            at: ["reviews", next.name])
                        guard let approve = checkpoint.decisions[.approve] else { throw TransitionError("checkpoint '\(next.name)' has no approve exit") }
                        // Passed without a person: a sample of such passes is audited later.
                        if let request = AuditSampling.request(for: state, at: next.name, checkpoint: checkpoint, override: sampling[next.name]) {
                            effects.append(.sampleForAudit(request))
                        }
                        (from, target, reason) = (next.name, approve.name, "checkpoint passed automatically: '\(condition.source)' is false")
                        continue
                    case .success(true):
                        break
                    case .failure(let error):
                        let why = "condition '\(condition.source)' cannot be evaluated (\(error.reason)), so a person decides"
                        state.data = state.data.setting(.object(["opened_because": .string(why)]), at: ["reviews", next.name])
                        moves.append(Move(from: next.name, to: next.name, reason: why))
                    }
                }
                state.status = .waiting
                effects.append(.openCheckpoint(CheckpointRequest(
                    state: next.name, credential: checkpoint.credential(in: state.data), subject: subject,
                    decisions: Decision.allCases.filter { checkpoint.decisions[$0] != nil })))
                return
            case .wait(let wait):
                var until: Int64?
                if let path = wait.until {
                    let value = state.data.value(at: path.split(separator: "."))
                    guard let value, let instant = Instant.milliseconds(value) else {
                        let found = value.map { $0.jsonString } ?? "nothing"
                        state.failure = Failure(
                            state: next.name, kind: .invalidInput,
                            message: "wait state '\(next.name)': '\(path)' holds \(found), not an instant (YYYY-MM-DD, an ISO 8601 time with Z or an offset, or ms since 1970)")
                        finish(.failed, output: nil, from: next.name, reason: "no instant to wait until")
                        return
                    }
                    until = instant
                }
                state.status = .waiting
                effects.append(.startWait(WaitRequest(state: next.name, duration: wait.duration, until: until, business: wait.business)))
                return
            case .event(let awaited):
                if awaited.buffer, let kept = state.buffered.firstIndex(where: { $0.name == awaited.event }) {
                    let delivery = state.buffered.remove(at: kept)
                    state.data = state.data.setting(delivery.payload, at: ArraySlice(awaited.output.split(separator: ".").map(String.init)))
                    (from, target, reason) = (next.name, awaited.next.name, "event \(delivery.name) from \(delivery.by), kept since it arrived early")
                    continue
                }
                state.status = .waiting
                let key = awaited.correlate.flatMap { path -> String? in
                    guard let value = state.data.value(at: path.split(separator: ".")), !value.isNull else { return nil }
                    return value.stringValue ?? value.jsonString
                }
                effects.append(.awaitEvent(EventWait(state: next.name, event: awaited.event, key: key)))
                if let timeout = awaited.timeout {
                    effects.append(.startWait(WaitRequest(
                        state: next.name, duration: timeout, until: nil, business: awaited.business, kind: TimerFired.eventTimeout)))
                }
                return
            case .map(let fanOut), .parallel(let fanOut):
                guard let total = branchCount(fanOut, at: next.name) else { return }
                guard total > 0 else {
                    state.data = state.data.setting(.array([]), at: ArraySlice(fanOut.output.split(separator: ".").map(String.init)))
                    (from, target, reason) = (next.name, fanOut.next.name, "no items to run branches for")
                    continue
                }
                var progress = FanOutProgress(state: next.name, visit: state.enteredAt, total: total)
                let starts = startMore(fanOut, &progress)
                state.status = .waiting
                state.fanOut = progress
                effects.append(.startBranches(starts))
                return
            case .end(let end):
                let output = end.output.map { buildInput($0) } ?? state.data
                let status: InstanceStatus
                switch end.outcome {
                case .completed: status = .completed
                case .rejected: status = .rejected
                case .failed: status = .failed
                }
                if status == .failed, state.failure == nil {
                    state.failure = Failure(state: next.name, kind: .endFailed, message: "reached failing end state '\(next.name)'")
                }
                state.status = status
                state.output = output
                effects.append(.finish(status: status, output: output))
                return
            }
        }
        throw TransitionError("more than \(Transition.maxHops) moves without a step or checkpoint; the template loops through choices")
    }

    /// How many branches a fan-out entered now runs: its list's length (`map`) or its branch
    /// count (`parallel`). Nil, with the instance failed, when a map's `items` is not a list.
    mutating func branchCount(_ fanOut: FanOutState, at name: String) -> Int? {
        guard fanOut.items != nil else { return fanOut.branches.count }
        if let items = items(of: fanOut) { return items.count }
        let path = fanOut.items ?? ""
        let found = state.data.value(at: path.split(separator: ".")).map { $0.jsonString } ?? "nothing"
        state.failure = Failure(state: name, kind: .invalidInput, message: "map state '\(name)': '\(path)' holds \(found), not a list")
        finish(.failed, output: nil, from: name, reason: "no list to map over")
        return nil
    }

    /// A map's list (the data does not change while the instance waits at the map).
    func items(of fanOut: FanOutState) -> [JSONValue]? {
        fanOut.items.flatMap { state.data.value(at: $0.split(separator: "."))?.arrayValue }
    }

    /// Starts branches while fewer than `maxConcurrency` run and some are not started.
    func startMore(_ fanOut: FanOutState, _ progress: inout FanOutProgress) -> [BranchStart] {
        let items = self.items(of: fanOut)
        var starts: [BranchStart] = []
        var running = progress.running.count
        while progress.started < progress.total, running < fanOut.maxConcurrency {
            starts.append(branchStart(fanOut, progress: progress, index: progress.started, items: items))
            progress.started += 1
            running += 1
        }
        return starts
    }

    /// The start of branch `index`: its child's link, what it runs and its input.
    func branchStart(_ fanOut: FanOutState, progress: FanOutProgress, index: Int, items: [JSONValue]?) -> BranchStart {
        let branch = fanOut.branches[items == nil ? index : 0]
        let input: JSONValue
        if let items, index < items.count {
            let roots: [String: JSONValue] = ["item": items[index], "index": .integer(Int64(index))]
            input = fanOut.input.map { buildInput($0, adding: roots) } ?? .object(roots)
        } else {
            input = fanOut.input.map { buildInput($0) } ?? state.data["input"] ?? .null
        }
        let target: BranchStart.Target
        switch branch.body {
        case .inline(let key): target = .inline(key: key)
        case .template(let name, _): target = .template(name)
        }
        return BranchStart(
            link: BranchLink(instance: state.id, state: progress.state, visit: progress.visit, index: index), branch: branch.name,
            target: target, input: input)
    }

    /// Records a branch's end at the fan-out the instance waits at: starts the next branches,
    /// fails the fan-out fast, or (once every branch ended) joins the outputs and goes on.
    mutating func branchFinished(_ finished: BranchFinished) throws(TransitionError) {
        let link = finished.link
        guard state.status == .waiting, var progress = state.fanOut, progress.state == link.state, progress.visit == link.visit,
            link.index < progress.started, progress.outcomes[link.index] == nil
        else {
            throw TransitionError(
                "branch \(link.index) of \(link.state) (visit \(link.visit)) does not apply: instance \(state.id) is \(state.status.rawValue) at \(state.current) and does not wait for it",
                conflict: true)
        }
        guard let fanOut = plan.state(link.state)?.fanOut else { throw TransitionError("state '\(link.state)' is not a map or parallel state") }
        let outcome = finished.outcome
        let name = fanOut.items == nil ? fanOut.branches[link.index].name : "\(link.index)"
        progress.outcomes[link.index] = outcome
        moves.append(Move(from: link.state, to: link.state, reason: "branch \(name) \(outcome.status.rawValue)\(outcome.message.map { ": \($0)" } ?? "")"))
        if outcome.isFailure, fanOut.failure == .failFast {
            let running = progress.running.map { BranchLink(instance: state.id, state: link.state, visit: link.visit, index: $0).childID }
            if !running.isEmpty { effects.append(.cancelBranches(running, reason: "branch \(name) of \(state.id) at \(link.state) failed")) }
            state.fanOut = nil
            let message = "branch \(name) (\(outcome.child)) \(outcome.status.rawValue): \(outcome.message ?? "no message")"
            if let onError = fanOut.onError?.name {
                state.data = state.data.setting(
                    .object(["kind": .string(FailureKind.branchFailed.rawValue), "message": .string(message), "branch": .string(name), "child": .string(outcome.child)]),
                    at: ["errors", link.state])
                try enter(onError, from: link.state, reason: "branch \(name) failed; on_error")
            } else {
                state.failure = Failure(state: link.state, kind: .branchFailed, message: message)
                finish(.failed, output: nil, from: link.state, reason: "branch \(name) failed (fail_fast)")
            }
            return
        }
        let starts = startMore(fanOut, &progress)
        if !starts.isEmpty { effects.append(.startBranches(starts)) }
        guard progress.ended == progress.total else {
            state.fanOut = progress
            return
        }
        // Every branch ended: join in order (null where a branch failed, under `collect`).
        state.fanOut = nil
        let values = progress.outcomes.map { outcome -> JSONValue in
            guard let outcome, !outcome.isFailure else { return .null }
            return outcome.output ?? .null
        }
        let joined: JSONValue = fanOut.items == nil
            ? .object(Dictionary(zip(fanOut.branches.map(\.name), values), uniquingKeysWith: { first, _ in first }))
            : .array(values)
        state.data = state.data.setting(joined, at: ArraySlice(fanOut.output.split(separator: ".").map(String.init)))
        let failures = progress.outcomes.enumerated().compactMap { index, outcome -> JSONValue? in
            guard let outcome, outcome.isFailure else { return nil }
            return [
                "branch": .string(fanOut.items == nil ? fanOut.branches[index].name : "\(index)"), "index": .integer(Int64(index)),
                "child": .string(outcome.child), "status": .string(outcome.status.rawValue), "message": outcome.message.map { .string($0) } ?? .null,
            ]
        }
        if !failures.isEmpty { state.data = state.data.setting(.array(failures), at: ["errors", link.state]) }
        try enter(
            fanOut.next.name, from: link.state,
            reason: "all \(progress.total) branches ended" + (failures.isEmpty ? "" : " (\(failures.count) failed, collected)"))
    }

    mutating func finish(_ status: InstanceStatus, output: JSONValue?, from: String, reason: String) {
        state.status = status
        state.output = output
        moves.append(Move(from: from, to: from, reason: reason))
        effects.append(.finish(status: status, output: output))
    }

    mutating func decide(_ decision: CheckpointDecision) throws(TransitionError) {
        guard state.status == .waiting, state.current == decision.state else {
            throw TransitionError(
                "checkpoint \(decision.state) of instance \(state.id) is not open (instance is \(state.status.rawValue) at \(state.current)); it may have been decided already",
                conflict: true)
        }
        guard case .checkpoint(let checkpoint) = plan.state(decision.state)?.kind else {
            throw TransitionError("state '\(decision.state)' is not a checkpoint")
        }
        // The task's own credential, or one an escalation rung reassigns it to.
        let accepted = [checkpoint.credential(in: state.data)] + plan.template.escalation.compactMap(\.reassign)
        guard accepted.contains(decision.credential) else {
            throw TransitionError("checkpoint \(decision.state) needs credential '\(checkpoint.credential(in: state.data))', decision was made with '\(decision.credential)'")
        }
        guard let target = checkpoint.decisions[decision.decision] else {
            let allowed = Decision.allCases.filter { checkpoint.decisions[$0] != nil }.map(\.rawValue).joined(separator: ", ")
            throw TransitionError("decision '\(decision.decision.rawValue)' is not allowed at \(decision.state); expected one of: \(allowed)")
        }
        let subjectPath = ArraySlice(checkpoint.subject.split(separator: ".").map(String.init))
        var review: [String: JSONValue] = [
            "decision": .string(decision.decision.rawValue), "reviewer": .string(decision.reviewer),
            "credential": .string(decision.credential),
        ]
        switch decision.decision {
        case .approve:
            break
        case .edit:
            guard let replacement = decision.output else {
                throw TransitionError("an edit at \(decision.state) needs a replacement output")
            }
            let original = state.data.value(at: subjectPath) ?? .null
            try OutputContract.check(replacement: replacement, original: original, subject: checkpoint.subject)
            review["original"] = original
            state.data = state.data.setting(replacement, at: subjectPath)
        case .reject:
            guard let reason = decision.reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw TransitionError("a rejection at \(decision.state) needs a reason")
            }
            review["reason"] = .string(reason)
        }
        // Why the checkpoint opened, when its condition could not be evaluated, stays with the decision.
        if let openedBecause = state.data.value(at: ["reviews", decision.state, "opened_because"]) { review["opened_because"] = openedBecause }
        state.data = state.data.setting(.object(review), at: ["reviews", decision.state])
        try enter(target.name, from: decision.state, reason: "\(decision.decision.rawValue) by \(decision.reviewer)")
    }
}

/// What step and ffi states have in common: something to call, with retries and exits.
struct CallableState {
    var callee: Callee
    var timeoutMilliseconds: Int?
    var maxOutputBytes: Int?
    var input: InputMapping
    var arguments: [Expression]?
    var config: JSONValue
    var output: String
    var next: StateReference?
    var onError: StateReference?
    var retry: RetryPolicy
    /// For model states, how the model's input is built (the invocation input is then the model input).
    var modelInput: InputMapping?
    /// For model states, the call parameters as written, and the role whose
    /// `config.model_parameters.<role>` they are merged over.
    var modelParameters: JSONValue?
    var modelRole: String?

    /// The callable view of `state`; model states resolve their role through `bindings`.
    init?(_ state: State, bindings: [String: String]) {
        switch state.kind {
        case .model(let model):
            guard let binding = bindings[model.role] else { return nil }
            callee = .model(adapter: binding, role: model.role)
            input = .wholeData
            arguments = nil
            config = [
                "task": .string(model.task.rawValue), "role": .string(model.role),
                "prompt": model.prompt.map { .string($0) } ?? .null,
            ]
            modelInput = model.input
            modelRole = model.role
            modelParameters = model.parameters
            (output, next, onError, retry) = (model.output, model.next, model.onError, model.retry)
        case .step(let step):
            modelInput = nil
            modelParameters = nil
            modelRole = nil
            (callee, input, arguments, config, output) = (.step(step.step), step.input, nil, step.config, step.output)
            (next, onError, retry) = (step.next, step.onError, step.retry)
        case .ffi(let foreign):
            modelInput = nil
            modelParameters = nil
            modelRole = nil
            (callee, input, arguments, config, output) = (.foreign(foreign.stepName), .wholeData, foreign.arguments, .null, foreign.output)
            // A C function has no transient failures to retry: one attempt.
            (next, onError, retry) = (foreign.next, foreign.onError, RetryPolicy(maxAttempts: 1, initialBackoffMilliseconds: 0, maxBackoffMilliseconds: 0, multiplier: 1))
        default:
            return nil
        }
        timeoutMilliseconds = state.timeoutMilliseconds
        maxOutputBytes = state.maxOutputBytes
    }
}

/// "an object", "a string".
func article(_ noun: String) -> String {
    (noun.first.map { "aeiou".contains($0) } ?? false ? "an " : "a ") + noun
}

/// Checks an edited output against the shape of the output it replaces.
public enum OutputContract {
    /// The replacement must have the original's JSON type; an object must keep every key the
    /// original had, each with the same type (null originals accept anything).
    public static func check(replacement: JSONValue, original: JSONValue, subject: String) throws(TransitionError) {
        if original.isNull { return }
        guard replacement.typeName == original.typeName else {
            throw TransitionError("edited output for '\(subject)' must be \(article(original.typeName)), found \(article(replacement.typeName))")
        }
        guard case .object(let before) = original, case .object(let after) = replacement else { return }
        for (key, value) in before.sorted(by: { $0.key < $1.key }) {
            guard let edited = after[key] else {
                throw TransitionError("edited output for '\(subject)' is missing field '\(key)'")
            }
            if !value.isNull, !edited.isNull, edited.typeName != value.typeName {
                throw TransitionError("edited output field '\(subject).\(key)' must be \(article(value.typeName)), found \(article(edited.typeName))")
            }
        }
    }
}

extension Transition {
    /// The effects a stored instance still owes after a restart: a running instance re-runs
    /// its current step attempt with the same idempotency key (steps are at-least-once);
    /// waiting and finished instances owe nothing.
    public static func pendingEffects(of state: InstanceState, plan: Plan, config: JSONValue? = nil) -> [Effect] {
        if state.status == .waiting, let progress = state.fanOut, let fanOut = plan.state(progress.state)?.fanOut {
            // A fan-out owes its running branches: starting one that exists finds it.
            let machine = Machine(plan: plan, config: config ?? plan.template.config, state: state)
            let items = machine.items(of: fanOut)
            let starts = progress.running.map { machine.branchStart(fanOut, progress: progress, index: $0, items: items) }
            return starts.isEmpty ? [] : [.startBranches(starts)]
        }
        guard state.status == .running, let step = plan.state(state.current).flatMap({ CallableState($0, bindings: state.bindings) }) else { return [] }
        let machine = Machine(plan: plan, config: config ?? plan.template.config, state: state)
        return [.runStep(machine.invocation(for: step, delay: 0))]
    }
}
