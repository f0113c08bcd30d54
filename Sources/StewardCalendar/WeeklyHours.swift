/// Open hours for each day of the week, as local wall-clock intervals: a validated
/// `mon: ["09:00-12:00", "13:00-17:00"]` table. A weekday with no intervals is closed all day.
public struct WeeklyHours: Sendable, Equatable {
    /// The intervals of each weekday, sorted and non-overlapping (missing days are closed).
    public let intervals: [Weekday: [LocalInterval]]

    /// Validates a table of intervals: within a day they may touch (`09:00-12:00`, `12:00-17:00`)
    /// but not overlap. `field` prefixes the location named in errors (e.g. `hours`).
    public init(_ intervals: [Weekday: [LocalInterval]], field: String = "hours") throws(CalendarError) {
        var checked: [Weekday: [LocalInterval]] = [:]
        for day in Weekday.allCases {
            guard let list = intervals[day], !list.isEmpty else { continue }
            checked[day] = try Self.sortedDisjoint(list, field: "\(field).\(day.rawValue)")
        }
        self.intervals = checked
    }

    /// Parses a `{mon: ["09:00-17:00"], ...}` table of interval texts.
    public static func parse(_ table: [String: [String]], field: String = "hours") throws(CalendarError) -> WeeklyHours {
        for key in table.keys.sorted() where Weekday(rawValue: key) == nil {
            throw CalendarError(field: "\(field).\(key)", reason: .unknownWeekday(key))
        }
        var parsed: [Weekday: [LocalInterval]] = [:]
        for day in Weekday.allCases {
            guard let texts = table[day.rawValue] else { continue }
            var list: [LocalInterval] = []
            for (index, text) in texts.enumerated() {
                list.append(try LocalInterval.parse(text, field: "\(field).\(day.rawValue)[\(index)]"))
            }
            parsed[day] = list
        }
        return try WeeklyHours(parsed, field: field)
    }

    /// The same intervals every day of the week (`00:00-24:00` gives a 24x7 calendar).
    public static func everyDay(_ list: [LocalInterval]) throws(CalendarError) -> WeeklyHours {
        try WeeklyHours(Dictionary(uniqueKeysWithValues: Weekday.allCases.map { ($0, list) }))
    }

    /// Open every minute of every day.
    public static let twentyFourSeven: WeeklyHours = {
        let whole = LocalInterval(startMinute: 0, endMinute: 1440)!
        // A single whole-day interval per day cannot overlap, so validation cannot fail.
        return try! WeeklyHours.everyDay([whole])
    }()

    /// Whether no weekday has any open interval.
    public var isEmpty: Bool { intervals.values.allSatisfy(\.isEmpty) }

    /// The intervals of one weekday (empty when closed).
    public subscript(day: Weekday) -> [LocalInterval] { intervals[day] ?? [] }

    /// The `{mon: [...], ...}` text table, for encoding.
    public var table: [String: [String]] {
        Dictionary(uniqueKeysWithValues: intervals.map { ($0.key.rawValue, $0.value.map(\.description)) })
    }

    static func sortedDisjoint(_ list: [LocalInterval], field: String) throws(CalendarError) -> [LocalInterval] {
        let sorted = list.sorted()
        for (previous, next) in zip(sorted, sorted.dropFirst()) where next.startMinute < previous.endMinute {
            throw CalendarError(field: field, reason: .overlappingIntervals(previous.description, next.description))
        }
        return sorted
    }
}
