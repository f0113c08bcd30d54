import Foundation
import StewardCalendar
import StewardExpressions
import StewardJSON
import StewardCore
import StewardEngine
import StewardTemplates

/// Sets a review task's deadline from the template's SLA and the customer's business
/// calendar when its checkpoint opens, with a warning timer and a breach timer.
///
/// The clock starts when the instance started (the ticket arrived), not when the checkpoint
/// opened, so time spent before review counts against the SLA.
public struct SLAScheduler: CheckpointScheduler {
    /// Calendars and overrides.
    public let configuration: ServiceLevelConfiguration

    /// Creates a scheduler.
    public init(configuration: ServiceLevelConfiguration) {
        self.configuration = configuration
    }

    /// The deadline and timers for `request`, or nil when the template, checkpoint or
    /// priority has no SLA.
    public func schedule(_ request: CheckpointRequest, state: InstanceState, plan: Plan, config: JSONValue, now: Int64) -> CheckpointSchedule? {
        guard let levels = plan.template.serviceLevels,
            case .checkpoint(let checkpoint) = plan.state(request.state)?.kind, checkpoint.deadline != .none
        else { return nil }
        var scope = state.data.objectValue ?? [:]
        scope["config"] = config
        guard let priority = levels.priority.evaluate(in: .object(scope)).stringValue,
            let target = configuration.target(template: plan.template, customer: state.customer, priority: priority)
        else { return nil }
        let budget = checkpoint.deadline == .resolution ? target.resolution : target.firstResponse
        let calendar = configuration.calendar(for: state.customer)
        let start = Date(timeIntervalSince1970: Double(state.startedAt ?? now) / 1000)
        do {
            let due = try calendar.deadline(from: start, addingSeconds: Double(budget))
            let warning = try calendar.deadline(from: start, addingSeconds: Double(budget) * (1 - levels.warningFraction))
            let dueAt = Int64((due.timeIntervalSince1970 * 1000).rounded())
            let payload: JSONValue = [
                "priority": .string(priority), "state": .string(request.state), "due_at": .integer(dueAt),
                "deadline": .string(checkpoint.deadline.rawValue), "budget_seconds": .integer(Int64(budget)),
            ]
            return CheckpointSchedule(dueAt: dueAt, timers: [
                ScheduledTimer(kind: "sla_warning", at: Int64((warning.timeIntervalSince1970 * 1000).rounded()), payload: payload),
                ScheduledTimer(kind: "sla_breach", at: dueAt, payload: payload),
            ])
        } catch {
            // A calendar that never opens again has no deadline to offer; the task stays without one.
            return nil
        }
    }

    /// The time zone of the customer's calendar (UTC for a customer without one).
    public func timeZoneID(customer: String?) -> String? {
        configuration.calendar(for: customer).timeZoneID
    }

    /// `milliseconds` of business time in the customer's calendar after `now`.
    public func businessTime(adding milliseconds: Int64, to now: Int64, customer: String?) -> Int64? {
        let calendar = configuration.calendar(for: customer)
        guard let due = try? calendar.deadline(from: Date(timeIntervalSince1970: Double(now) / 1000), addingSeconds: Double(milliseconds) / 1000) else {
            return nil
        }
        return Int64((due.timeIntervalSince1970 * 1000).rounded())
    }
}
