import StewardCore
import StewardJSON
import StewardTemplates

/// Fan-out: the child instances of `map` and `parallel` states. A branch is an instance of its
/// own (durable, resumable, with its own checkpoints), whose id the parent's link fixes
/// (`BranchLink.childID`), so every start is idempotent: starting a branch that exists finds it.
/// A branch that ends tells its parent in a `branch_finished` event (committed with the
/// parent's sequence check, retried when a sibling's end raced it); a restart reconciles what a
/// crash may have left between the two commits (`reconcileFanOuts`).
extension Engine {
    /// How many times a branch's end is re-applied to its parent when siblings' ends race it.
    static let parentRetries = 64

    /// Starts (or finds) each branch and drives it until it waits or ends, side by side.
    func startBranches(
        _ starts: [BranchStart], parent: InstanceState, plan: Plan, config: JSONValue, observe: @Sendable @escaping (TransitionRecord) -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for start in starts {
                group.addTask { try await startBranch(start, parent: parent, plan: plan, config: config, observe: observe) }
            }
            try await group.waitForAll()
        }
    }

    /// Starts one branch unless its child exists; a child that already ended is reported to the
    /// parent (its end may not have reached it before a crash). A branch that cannot start (an
    /// unknown template) ends failed at once, saying why.
    func startBranch(
        _ start: BranchStart, parent: InstanceState, plan: Plan, config: JSONValue, observe: @Sendable @escaping (TransitionRecord) -> Void
    ) async throws {
        let id = start.link.childID
        if let existing = try await currentState(id: id) {
            if existing.status.isFinal { try await notifyParent(of: existing, observe: observe) }
            return
        }
        switch start.target {
        case .inline(let key):
            guard let branchPlan = plan.branchPlan(key) else {
                try await reportUnstartable(start, message: "\(plan.name) \(plan.version) has no branch '\(key)'", observe: observe)
                return
            }
            try await startChild(
                start, plan: branchPlan, config: config, configHash: parent.configHash, templateHash: parent.templateHash.map { $0 + ":" + key },
                customer: parent.customer, bindings: parent.bindings, observe: observe)
        case .template(let name):
            do {
                _ = try await submit(template: name, customer: parent.customer, input: start.input, id: id, drive: false, parent: start.link, observe: observe)
                guard try await parentStillWaits(for: start.link) else { return }
                _ = try await continueInstance(id: id, observe: observe)
            } catch let error as EngineError where error.isNotFound {
                try await reportUnstartable(start, message: error.description, observe: observe)
            } catch is StoreConflict {
                return  // Started meanwhile by another engine or a reconciliation.
            }
        }
    }

    /// Starts an inline branch's child under the parent's pinned config, text and bindings.
    func startChild(
        _ start: BranchStart, plan: Plan, config: JSONValue, configHash: String?, templateHash: String?, customer: String?,
        bindings: [String: String], observe: @Sendable @escaping (TransitionRecord) -> Void
    ) async throws {
        let initial = InstanceState(id: start.link.childID, template: plan.name, templateVersion: plan.version, customer: customer)
        let event = Event.started(
            input: start.input, bindings: bindings, at: clock.nowMilliseconds(), configHash: configHash, templateHash: templateHash, parent: start.link)
        let result = try transition(event, to: initial, plan: plan, config: config)
        do {
            try await commit(result, previous: initial, event: event, actor: "engine", clientKey: nil, plan: plan, config: config)
        } catch is StoreConflict {
            return
        }
        try await observed(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects), observe: observe)
        guard try await parentStillWaits(for: start.link) else { return }
        _ = try await drive(result.state, effects: result.effects, plan: plan, config: config, observe: observe)
    }

    /// Whether the parent still waits for this branch, checked after the child's first commit:
    /// a parent that failed fast or was cancelled while the child was being created could not
    /// cancel it (it did not exist yet), so the child cancels itself here. Either the parent's
    /// cancellation sees the child or this check sees the parent's change.
    func parentStillWaits(for link: BranchLink) async throws -> Bool {
        if let parent = try await currentState(id: link.instance), let progress = parent.fanOut, parent.status == .waiting,
            progress.state == link.state, progress.visit == link.visit, link.index < progress.started, progress.outcomes[link.index] == nil
        {
            return true
        }
        _ = try? await cancel(instance: link.childID, reason: "the fan-out \(link.state) of \(link.instance) ended before this branch started", by: "engine")
        return false
    }

    /// Ends a branch that cannot start as failed, in the parent.
    func reportUnstartable(_ start: BranchStart, message: String, observe: @Sendable (TransitionRecord) -> Void) async throws {
        try await deliverToParent(
            BranchFinished(link: start.link, outcome: BranchOutcome(child: start.link.childID, status: .failed, output: nil, message: message)),
            observe: observe)
    }

    /// Tells the parent of a branch that ended how it ended.
    func notifyParent(of child: InstanceState, observe: @Sendable (TransitionRecord) -> Void) async throws {
        guard let link = child.parent, child.status.isFinal else { return }
        let message = child.failure.map { "\($0.kind) at \($0.state): \($0.message)" }
            ?? child.data["cancelled"]?["reason"]?.stringValue.map { "cancelled: \($0)" }
        try await deliverToParent(BranchFinished(
            link: link, outcome: BranchOutcome(child: child.id, status: child.status, output: child.status.isFailure ? nil : child.output, message: message)),
            observe: observe)
    }

    /// Applies a branch's end to its parent and runs the parent on. A parent that no longer
    /// waits for it (it failed fast, was cancelled, or recorded this end already) ignores it.
    func deliverToParent(_ finished: BranchFinished, observe: @Sendable (TransitionRecord) -> Void) async throws {
        let event = Event.branchFinished(finished)
        for _ in 0..<Self.parentRetries {
            guard let (state, plan, config) = try await load(id: finished.link.instance) else { return }
            let result: TransitionResult
            do {
                result = try transition(event, to: state, plan: plan, config: config)
            } catch {
                return
            }
            do {
                try await commit(result, previous: state, event: event, actor: "engine", clientKey: nil, plan: plan, config: config)
            } catch is StoreConflict {
                await Task.yield()
                continue  // A sibling's end (or an operator) changed the parent meanwhile: apply to what it is now.
            }
            try await observed(TransitionRecord(event: event, state: result.state, moves: result.moves, effects: result.effects), observe: observe)
            _ = try await drive(result.state, effects: result.effects, plan: plan, config: config, observe: observe)
            return
        }
        throw EngineError(
            "the end of branch \(finished.link.index) of \(finished.link.instance) could not be recorded: the parent kept changing; `steward instances resume` reconciles it",
            conflict: true)
    }

    /// Cancels branches a failed-fast or cancelled fan-out no longer needs (those that ended meanwhile stay as they are).
    func cancelBranches(_ children: [String], reason: String) async {
        await withTaskGroup(of: Void.self) { group in
            for child in children {
                group.addTask { await cancelBranch(child, reason: reason) }
            }
        }
    }

    /// Cancels one branch, again when its own commit raced the cancellation, until it has ended
    /// (cancelled, or finished by itself meanwhile). A branch that does not exist yet cancels
    /// itself when it starts (`parentStillWaits`).
    func cancelBranch(_ child: String, reason: String) async {
        for _ in 0..<Self.parentRetries {
            do {
                _ = try await cancel(instance: child, reason: reason, by: "engine")
                return
            } catch let error as EngineError where error.isConflict {
                guard let state = try? await currentState(id: child), !state.status.isFinal else { return }
                await Task.yield()
            } catch {
                return
            }
        }
    }

    /// Brings every instance waiting at a fan-out up to date with its branches: starts a branch
    /// a crash left unstarted and reports one whose end did not reach the parent. Idempotent.
    func reconcileFanOuts(observe: @Sendable @escaping (TransitionRecord) -> Void) async throws {
        var parents: [String] = []
        for (template, state) in plans.fanOutStates {
            parents += try await store.instances(InstanceQuery(status: .waiting, template: template, state: state, limit: 1_000_000)).map(\.id)
        }
        for id in parents {
            guard let (state, plan, config) = try await load(id: id), state.fanOut != nil else { continue }
            _ = try await drive(state, effects: Transition.pendingEffects(of: state, plan: plan, config: config), plan: plan, config: config, observe: observe)
        }
    }
}

extension InstanceStatus {
    /// Whether a branch that ended so failed (`failed`, `cancelled`).
    var isFailure: Bool { self == .failed || self == .cancelled }
}
