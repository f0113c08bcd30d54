import Foundation

/// A customer's business calendar: an IANA time zone, open hours per weekday, holidays, partial
/// closures and dated schedule changes. It answers "is the clock running now?", "when is N
/// business hours after this instant?" and "how much business time lies between two instants?".
///
/// An instant is *business time* when its local wall-clock time (in `timeZone`) lies in an open
/// interval of its local date. That one rule fixes every DST case: a local interval covers exactly
/// the real instants whose wall clock shows a time inside it, so a skipped hour contributes nothing
/// and a repeated hour contributes twice when it lies inside the interval. See `Docs/sla-calendars.md`.
///
/// The value is immutable and `Sendable`; all computations are pure functions of their arguments.
public struct BusinessCalendar: Sendable, Equatable {
    /// A dated change of weekly hours: from `from` (a local date, inclusive) on, `hours` apply.
    public struct ScheduleChange: Sendable, Equatable {
        /// The first local date on which `hours` apply.
        public let from: LocalDate
        /// The weekly hours from that date on.
        public let hours: WeeklyHours

        /// Creates a change.
        public init(from: LocalDate, hours: WeeklyHours) {
            self.from = from
            self.hours = hours
        }
    }

    /// A partial closure: on local date `date`, the `closed` intervals are not business time
    /// (e.g. closing at noon on 24 December).
    public struct Closure: Sendable, Equatable {
        /// The local date.
        public let date: LocalDate
        /// The closed intervals of that date, sorted and merged.
        public let closed: [LocalInterval]

        /// Creates a closure.
        public init(date: LocalDate, closed: [LocalInterval]) {
            self.date = date
            self.closed = closed
        }
    }

    /// The IANA time zone id, e.g. `America/New_York`.
    public let timeZoneID: String
    /// The time zone the hours are written in.
    public let timeZone: TimeZone
    /// The weekly hours that apply before the first schedule change.
    public let hours: WeeklyHours
    /// Schedule changes, sorted by `from`.
    public let changes: [ScheduleChange]
    /// Local dates that are closed all day.
    public let holidays: Set<LocalDate>
    /// Partial closures, by date.
    public let closures: [LocalDate: [LocalInterval]]

    /// The last day number on which anything but the final weekly schedule applies.
    let horizonDay: Int
    /// Whether the schedule that applies for ever after `horizonDay` has no open hours.
    let finalScheduleIsEmpty: Bool

    /// Builds a calendar, refusing an unknown time zone id, duplicate change dates and a calendar
    /// that is never open.
    public init(
        timeZone id: String,
        hours: WeeklyHours,
        holidays: Set<LocalDate> = [],
        closures: [Closure] = [],
        changes: [ScheduleChange] = []
    ) throws(CalendarError) {
        guard let zone = TimeZone(identifier: id) else {
            throw CalendarError(field: "timezone", reason: .unknownTimeZone(id))
        }
        let sortedChanges = changes.sorted { $0.from < $1.from }
        for (index, pair) in zip(sortedChanges, sortedChanges.dropFirst()).enumerated() where pair.0.from == pair.1.from {
            throw CalendarError(field: "changes[\(index + 1)].from", reason: .duplicateChangeDate(pair.1.from.description))
        }
        guard !(hours.isEmpty && sortedChanges.allSatisfy(\.hours.isEmpty)) else {
            throw CalendarError(field: "hours", reason: .noOpenHours)
        }
        var merged: [LocalDate: [LocalInterval]] = [:]
        for closure in closures {
            merged[closure.date, default: []].append(contentsOf: closure.closed)
        }
        self.timeZoneID = id
        self.timeZone = zone
        self.hours = hours
        self.changes = sortedChanges
        self.holidays = holidays
        self.closures = merged.mapValues(Self.union)
        let lastDates = [sortedChanges.last?.from, holidays.max(), merged.keys.max()].compactMap { $0 }
        self.horizonDay = lastDates.map(\.dayNumber).max() ?? Int.min
        self.finalScheduleIsEmpty = (sortedChanges.last?.hours ?? hours).isEmpty
    }

    /// The weekly hours in force on a local date.
    public func schedule(on date: LocalDate) -> WeeklyHours {
        // Few changes per calendar: a backwards linear scan is simplest and fast enough.
        changes.last(where: { $0.from <= date })?.hours ?? hours
    }

    /// The open intervals of a local date after holidays and closures are taken out.
    public func openIntervals(on date: LocalDate) -> [LocalInterval] {
        if holidays.contains(date) { return [] }
        let open = Self.union(schedule(on: date)[date.weekday])
        guard let closed = closures[date] else { return open }
        return Self.subtract(closed, from: open)
    }

    /// Merges sorted-or-not intervals into sorted, disjoint, non-touching ones.
    static func union(_ list: [LocalInterval]) -> [LocalInterval] {
        var result: [LocalInterval] = []
        for interval in list.sorted() {
            if let last = result.last, interval.startMinute <= last.endMinute {
                let end = max(last.endMinute, interval.endMinute)
                result[result.count - 1] = LocalInterval(startMinute: last.startMinute, endMinute: end)!
            } else {
                result.append(interval)
            }
        }
        return result
    }

    /// `open` minus `closed`; both sorted and disjoint.
    static func subtract(_ closed: [LocalInterval], from open: [LocalInterval]) -> [LocalInterval] {
        var result: [LocalInterval] = []
        for interval in open {
            var start = interval.startMinute
            for cut in closed where cut.endMinute > start && cut.startMinute < interval.endMinute {
                if cut.startMinute > start {
                    result.append(LocalInterval(startMinute: start, endMinute: cut.startMinute)!)
                }
                start = max(start, cut.endMinute)
            }
            if start < interval.endMinute {
                result.append(LocalInterval(startMinute: start, endMinute: interval.endMinute)!)
            }
        }
        return result
    }
}
