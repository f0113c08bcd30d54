import StewardJSON
import StewardRuntime
import StewardStore
import StewardTemplates

/// Fires due SLA timers: records the warning or breach in the journal, climbs the template's
/// escalation ladder (notify, reassign) and stores the notifications. Each timer fires once,
/// also when it fell due while the engine was down.
public struct TimerService: Sendable {
    /// The store.
    public let store: SQLiteStore
    /// The plans (for each template's escalation ladder).
    public let plans: any PlanResolver

    /// Creates the service.
    public init(store: SQLiteStore, plans: any PlanResolver) {
        self.store = store
        self.plans = plans
    }

    /// Fires every timer due at `now`. Returns the timers fired.
    @discardableResult
    public func fireDue(now: Int64) async throws -> [DueTimer] {
        var fired: [DueTimer] = []
        while true {
            let due = try await store.dueTimers(now: now)
            if due.isEmpty { return fired }
            for timer in due where try await store.fire(timer, firing: firing(for: timer), at: now) {
                fired.append(timer)
            }
            if due.count < 500 { return fired }
        }
    }

    /// What firing `timer` does under its template's ladder.
    public func firing(for timer: DueTimer) -> TimerFiring {
        let trigger: EscalationRung.Trigger = timer.kind == "sla_breach" ? .breach : .warning
        let rungs = plans.plan(template: timer.template, version: timer.version)?.template.escalation.filter { $0.at == trigger } ?? []
        var payload = timer.payload.objectValue ?? [:]
        if let task = timer.task { payload["task"] = .integer(task) }
        var entries: [(kind: String, payload: JSONValue)] = [(timer.kind, .object(payload))]
        var notifications: [(recipient: String, message: String)] = []
        let priority = timer.payload["priority"]?.stringValue ?? "?"
        let what = trigger == .breach ? "breached its SLA" : "is close to its SLA deadline"
        for rung in rungs {
            entries.append(("escalated", [
                "trigger": .string(trigger.rawValue), "notify": .string(rung.notify),
                "reassign": rung.reassign.map { .string($0) } ?? .null, "task": timer.task.map { .integer($0) } ?? .null,
            ]))
            notifications.append((
                rung.notify,
                "Review task \(timer.task.map(String.init) ?? "?") (\(timer.template), \(priority), instance \(timer.instanceID)) \(what)"
                    + (rung.reassign.map { "; reassigned to \($0)" } ?? "")
            ))
        }
        return TimerFiring(entries: entries, notifications: notifications, reassignTo: rungs.compactMap(\.reassign).last)
    }
}
