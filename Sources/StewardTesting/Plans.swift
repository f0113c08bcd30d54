import StewardCore
import StewardJSON
import StewardTemplates

/// The small plans the runtime tests run, written as YAML like real templates.
public enum Plans {
    /// fetch -> classify -> done; classify retries twice and routes failures to `escalated`.
    public static func linear() throws -> Plan {
        try TestPlans.plan(
            """
            plugins: [demo]
            retry: {max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 150, multiplier: 2}
            start: fetch
            states:
              fetch:
                kind: step
                step: demo.fetch
                input: {id: input.id, mode: "fast", customer: instance.customer}
                config: {timeout_ms: 50}
                output: fetched
                next: classify
              classify:
                kind: step
                step: demo.classify
                input: fetched.text
                output: result.classification
                retry: {max_attempts: 2}
                on_error: escalated
                next: done
              escalated:
                kind: end
                output: {error: errors.classify, id: input.id}
              done:
                kind: end
                output: {label: result.classification.label, id: input.id}
            """, name: "linear", version: "2.1.0")
    }

    /// A choice at the start whose guards are tried in order.
    public static func choice() throws -> Plan {
        try TestPlans.plan(
            """
            plugins: []
            start: route
            states:
              route:
                kind: choice
                choices:
                  - when: input.score >= 90
                    next: top
                  - when: input.score >= 50
                    next: middle
                  - when: "'vip' in input.tags"
                    next: vip
                otherwise: low
              top: {kind: end}
              middle: {kind: end}
              vip: {kind: end, status: rejected}
              low: {kind: end, status: failed}
            """, name: "choice")
    }

    /// A choice with no `otherwise`.
    public static func choiceWithoutOtherwise() throws -> Plan {
        try TestPlans.plan(
            """
            plugins: []
            start: route
            states:
              route:
                kind: choice
                choices:
                  - when: input.score > 100
                    next: done
              done: {kind: end}
            """, name: "no-otherwise")
    }

    /// draft -> review (only when unsure or urgent) -> send -> done; reject -> rejected.
    public static func checkpoint() throws -> Plan {
        try TestPlans.plan(
            """
            plugins: [demo]
            config: {threshold: 0.8}
            start: draft
            states:
              draft:
                kind: step
                step: demo.draft
                output: reply
                next: review
              review:
                kind: checkpoint
                credential: support-agent
                when: reply.confidence < config.threshold or input.urgent == true
                subject: reply
                decisions:
                  approve: send
                  edit: send
                  reject: rejected
              send:
                kind: step
                step: demo.send
                input: {reply: reply}
                output: delivery
                next: done
              done:
                kind: end
                output: {reply: reply, review: reviews.review}
              rejected:
                kind: end
                status: rejected
            """, name: "checkpoint")
    }

    /// A checkpoint at the start that only allows approval.
    public static func approveOnly() throws -> Plan {
        try TestPlans.plan(
            """
            plugins: []
            start: gate
            states:
              gate:
                kind: checkpoint
                credential: lead
                subject: input
                decisions: {approve: done}
              done: {kind: end}
            """, name: "approve-only")
    }
}

/// A new instance of `plan`, before its `started` event.
public func newInstance(_ plan: Plan, id: String = "inst-1", customer: String? = "acme") -> InstanceState {
    InstanceState(id: id, template: plan.name, templateVersion: plan.version, customer: customer)
}

/// Applies events in order from a new instance, returning every result.
public func run(_ plan: Plan, _ events: [Event], id: String = "inst-1") throws -> [TransitionResult] {
    var state = newInstance(plan, id: id)
    var results: [TransitionResult] = []
    for event in events {
        let result = try Transition.apply(event, to: state, plan: plan)
        results.append(result)
        state = result.state
    }
    return results
}

/// Applies events in order and returns the last state.
public func state(after events: [Event], in plan: Plan) throws -> InstanceState {
    try run(plan, events).last?.state ?? newInstance(plan)
}

/// The step calls among `effects`.
public func invocations(_ effects: [Effect]) -> [StepInvocation] {
    effects.compactMap { if case .runStep(let invocation) = $0 { return invocation } else { return nil } }
}

/// A reviewer's decision at `state`.
public func decision(
    _ decision: Decision, at state: String = "review", output: JSONValue? = nil, reason: String? = nil,
    reviewer: String = "ana", credential: String = "support-agent"
) -> Event {
    .checkpointDecided(
        CheckpointDecision(state: state, decision: decision, output: output, reason: reason, reviewer: reviewer, credential: credential))
}
