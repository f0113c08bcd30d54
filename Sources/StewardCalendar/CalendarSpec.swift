import Foundation

/// The written form of a business calendar, as it appears in a customer overlay:
///
/// ```yaml
/// timezone: America/New_York
/// hours: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-12:00", "13:00-17:00"]}
/// holidays: ["2026-12-25"]
/// closures: [{date: "2026-12-24", closed: ["12:00-24:00"]}]
/// changes: [{from: "2026-03-01", hours: {mon: ["08:00-18:00"]}}]
/// ```
///
/// Decoding only reads strings; `BusinessCalendar(spec:)` validates them and reports the first
/// bad value with its location (`changes[0].hours.mon[0]`), so a YAML or JSON front end gets the
/// same messages. `holidays`, `closures` and `changes` may be omitted.
public struct CalendarSpec: Codable, Sendable, Equatable {
    /// A dated schedule change: `{from: "2026-03-01", hours: {...}}`.
    public struct Change: Codable, Sendable, Equatable {
        /// The first local date (`YYYY-MM-DD`) on which `hours` apply.
        public var from: String
        /// Weekly hours from that date on: weekday key to interval texts.
        public var hours: [String: [String]]

        /// Creates a change.
        public init(from: String, hours: [String: [String]]) {
            self.from = from
            self.hours = hours
        }
    }

    /// A partial closure: `{date: "2026-12-24", closed: ["12:00-24:00"]}`.
    public struct Closure: Codable, Sendable, Equatable {
        /// The local date (`YYYY-MM-DD`).
        public var date: String
        /// Interval texts that are closed on that date.
        public var closed: [String]

        /// Creates a closure.
        public init(date: String, closed: [String]) {
            self.date = date
            self.closed = closed
        }
    }

    /// IANA time zone id.
    public var timezone: String
    /// Weekly hours before the first change: `mon`...`sun` to interval texts (`"09:00-17:00"`).
    public var hours: [String: [String]]
    /// Local dates closed all day (`YYYY-MM-DD`).
    public var holidays: [String]
    /// Partial closures.
    public var closures: [Closure]
    /// Dated schedule changes.
    public var changes: [Change]

    /// Creates a spec.
    public init(
        timezone: String,
        hours: [String: [String]],
        holidays: [String] = [],
        closures: [Closure] = [],
        changes: [Change] = []
    ) {
        self.timezone = timezone
        self.hours = hours
        self.holidays = holidays
        self.closures = closures
        self.changes = changes
    }

    private enum CodingKeys: String, CodingKey {
        case timezone, hours, holidays, closures, changes
    }

    /// Decodes, treating absent `holidays`, `closures` and `changes` as empty.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        timezone = try container.decode(String.self, forKey: .timezone)
        hours = try container.decode([String: [String]].self, forKey: .hours)
        holidays = try container.decodeIfPresent([String].self, forKey: .holidays) ?? []
        closures = try container.decodeIfPresent([Closure].self, forKey: .closures) ?? []
        changes = try container.decodeIfPresent([Change].self, forKey: .changes) ?? []
    }
}

extension BusinessCalendar: Codable {
    /// Validates a spec, throwing the first bad value with its location.
    public init(spec: CalendarSpec) throws(CalendarError) {
        let hours = try WeeklyHours.parse(spec.hours, field: "hours")
        var holidays: Set<LocalDate> = []
        for (index, text) in spec.holidays.enumerated() {
            holidays.insert(try LocalDate.parse(text, field: "holidays[\(index)]"))
        }
        var closures: [Closure] = []
        for (index, closure) in spec.closures.enumerated() {
            let date = try LocalDate.parse(closure.date, field: "closures[\(index)].date")
            var closed: [LocalInterval] = []
            for (position, text) in closure.closed.enumerated() {
                closed.append(try LocalInterval.parse(text, field: "closures[\(index)].closed[\(position)]"))
            }
            closures.append(Closure(date: date, closed: closed))
        }
        var changes: [ScheduleChange] = []
        var seen: Set<LocalDate> = []
        for (index, change) in spec.changes.enumerated() {
            let from = try LocalDate.parse(change.from, field: "changes[\(index)].from")
            guard seen.insert(from).inserted else {
                throw CalendarError(field: "changes[\(index)].from", reason: .duplicateChangeDate(change.from))
            }
            changes.append(ScheduleChange(from: from, hours: try WeeklyHours.parse(change.hours, field: "changes[\(index)].hours")))
        }
        try self.init(timeZone: spec.timezone, hours: hours, holidays: holidays, closures: closures, changes: changes)
    }

    /// The written form of this calendar (dates and intervals normalised, holidays sorted).
    public var spec: CalendarSpec {
        CalendarSpec(
            timezone: timeZoneID,
            hours: hours.table,
            holidays: holidays.sorted().map(\.description),
            closures: closures.keys.sorted().map { CalendarSpec.Closure(date: $0.description, closed: closures[$0]!.map(\.description)) },
            changes: changes.map { CalendarSpec.Change(from: $0.from.description, hours: $0.hours.table) }
        )
    }

    /// Decodes a `CalendarSpec` and validates it; a validation failure becomes a
    /// `DecodingError.dataCorrupted` whose description is the `CalendarError` message.
    public init(from decoder: any Decoder) throws {
        let spec = try CalendarSpec(from: decoder)
        do {
            try self.init(spec: spec)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description, underlyingError: error))
        }
    }

    /// Encodes as its `CalendarSpec`.
    public func encode(to encoder: any Encoder) throws {
        try spec.encode(to: encoder)
    }
}
