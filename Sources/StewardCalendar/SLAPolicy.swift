import Foundation

/// A ticket priority, P1 (most urgent) to P4.
public enum Priority: String, CaseIterable, Sendable, Codable, Hashable, Comparable {
    /// Most urgent.
    case p1 = "P1"
    /// Urgent.
    case p2 = "P2"
    /// Normal.
    case p3 = "P3"
    /// Low.
    case p4 = "P4"

    /// P1 sorts first.
    public static func < (lhs: Priority, rhs: Priority) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// When to warn before an SLA target is breached, in business time.
public enum SLAWarning: Sendable, Equatable {
    /// Warn when this much business time is left before the breach.
    case leadTime(Duration)
    /// Warn when this fraction of the target is left (0.25: warn once 75 % has elapsed).
    case fractionRemaining(Double)

    /// The business time, measured from the clock's start, at which to warn for a target.
    /// Never negative: a lead longer than the target warns as soon as the clock starts.
    func warningOffset(for target: Duration) -> Duration {
        let offset: Duration
        switch self {
        case .leadTime(let lead): offset = target - lead
        case .fractionRemaining(let fraction): offset = target * (1 - fraction)
        }
        return max(offset, .zero)
    }
}

/// The targets for one priority, counted in business time of the customer's calendar.
public struct SLATarget: Sendable, Equatable {
    /// Business time allowed until the first response.
    public let firstResponse: Duration
    /// Business time allowed until resolution.
    public let resolution: Duration
    /// When to warn before either target is breached.
    public let warning: SLAWarning

    /// Creates a target; both durations must be positive, a lead time not negative and a
    /// fraction within 0...1.
    public init(firstResponse: Duration, resolution: Duration, warning: SLAWarning = SLATarget.defaultWarning) throws(SLAError) {
        guard firstResponse > .zero else { throw SLAError(field: "first_response", reason: .notPositive(SLADuration.format(firstResponse))) }
        guard resolution > .zero else { throw SLAError(field: "resolution", reason: .notPositive(SLADuration.format(resolution))) }
        switch warning {
        case .leadTime(let lead) where lead < .zero:
            throw SLAError(field: "warning", reason: .badWarning("lead time \(SLADuration.format(lead)) is negative"))
        case .fractionRemaining(let fraction) where !(0...1).contains(fraction):
            throw SLAError(field: "warning", reason: .badWarning("fraction \(fraction) is outside 0...1"))
        default:
            break
        }
        self.firstResponse = firstResponse
        self.resolution = resolution
        self.warning = warning
    }

    /// Warn when a quarter of the target is left.
    public static let defaultWarning = SLAWarning.fractionRemaining(0.25)

    /// The product default for P1: first response in 15 minutes, resolution in 4 hours.
    public static let p1Default = try! SLATarget(firstResponse: .seconds(15 * 60), resolution: .seconds(4 * 3600))
    /// The product default for P2: first response in 1 hour, resolution in 24 hours.
    public static let p2Default = try! SLATarget(firstResponse: .seconds(3600), resolution: .seconds(24 * 3600))
}

/// The SLA targets of a template, per priority. P1 and P2 have product defaults; P3 and P4 have
/// none and must be configured before a P3 or P4 ticket can get a clock.
public struct SLAPolicy: Sendable, Equatable {
    /// The configured targets.
    public let targets: [Priority: SLATarget]

    /// Creates a policy; unspecified P1/P2 take the product defaults.
    public init(p1: SLATarget = .p1Default, p2: SLATarget = .p2Default, p3: SLATarget? = nil, p4: SLATarget? = nil) {
        var targets: [Priority: SLATarget] = [.p1: p1, .p2: p2]
        targets[.p3] = p3
        targets[.p4] = p4
        self.targets = targets
    }

    /// The target of a priority.
    public func target(for priority: Priority) throws(SLAError) -> SLATarget {
        guard let target = targets[priority] else {
            throw SLAError(field: priority.rawValue, reason: .noTarget(priority))
        }
        return target
    }

    /// The SLA clock of a ticket of `priority` created at `createdAt`, in `calendar`'s business
    /// time. A ticket created outside business hours starts its clock at the next opening.
    public func clock(for priority: Priority, createdAt: Date, calendar: BusinessCalendar) throws(SLAError) -> SLAClock {
        let target = try target(for: priority)
        do {
            return SLAClock(
                priority: priority,
                createdAt: createdAt,
                clockStartsAt: try calendar.nextOpening(after: createdAt),
                firstResponseDue: try calendar.deadline(from: createdAt, adding: target.firstResponse),
                firstResponseWarningAt: try calendar.deadline(from: createdAt, adding: target.warning.warningOffset(for: target.firstResponse)),
                resolutionDue: try calendar.deadline(from: createdAt, adding: target.resolution),
                warningAt: try calendar.deadline(from: createdAt, adding: target.warning.warningOffset(for: target.resolution))
            )
        } catch {
            throw SLAError(field: priority.rawValue, reason: .calendar(error))
        }
    }
}

/// The due times of one ticket. All are real instants; they were computed in business time.
public struct SLAClock: Sendable, Equatable {
    /// The ticket's priority.
    public let priority: Priority
    /// When the ticket was created.
    public let createdAt: Date
    /// When business time first runs after creation (`createdAt` if created during hours).
    public let clockStartsAt: Date
    /// First response is due by this instant.
    public let firstResponseDue: Date
    /// Warn about the first response at this instant.
    public let firstResponseWarningAt: Date
    /// Resolution is due by this instant.
    public let resolutionDue: Date
    /// Warn about resolution at this instant (the escalation ladder's "before breach" point).
    public let warningAt: Date

    /// Creates a clock from computed instants.
    public init(priority: Priority, createdAt: Date, clockStartsAt: Date, firstResponseDue: Date,
                firstResponseWarningAt: Date, resolutionDue: Date, warningAt: Date) {
        self.priority = priority
        self.createdAt = createdAt
        self.clockStartsAt = clockStartsAt
        self.firstResponseDue = firstResponseDue
        self.firstResponseWarningAt = firstResponseWarningAt
        self.resolutionDue = resolutionDue
        self.warningAt = warningAt
    }

    /// Where a target stands at an instant.
    public enum Status: Sendable, Equatable {
        /// Before the warning time.
        case onTrack
        /// At or after the warning time, up to and including the due time.
        case warning
        /// After the due time.
        case breached
    }

    /// Which of the two targets.
    public enum Target: Sendable {
        /// The first response.
        case firstResponse
        /// Resolution.
        case resolution
    }

    /// The status of `target` at `now`. Meeting the target at the due instant itself is on time,
    /// so `breached` starts just after it.
    public func status(of target: Target, at now: Date) -> Status {
        let (warn, due) = target == .firstResponse ? (firstResponseWarningAt, firstResponseDue) : (warningAt, resolutionDue)
        if now > due { return .breached }
        return now >= warn ? .warning : .onTrack
    }

    /// The status of `target` now, by `clock`.
    public func status(of target: Target, clock: some WallClock) -> Status {
        status(of: target, at: clock.now())
    }
}
