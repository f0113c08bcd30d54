import Foundation
import StewardCalendar

/// Parses a literal ISO-8601 instant with an explicit offset, e.g. `2026-03-09T10:00:00-04:00`.
/// Every expected value in these tests is written this way, computed by hand.
func instant(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    guard let date = formatter.date(from: text) else { fatalError("bad instant literal \(text)") }
    return date
}

/// Formats an instant in `zone` with its offset, so a failing expectation reads like the table.
func local(_ date: Date, _ zone: String) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: zone)!
    return formatter.string(from: date)
}

let weekdays = ["mon", "tue", "wed", "thu", "fri"]

func hours(_ days: [String], _ intervals: [String]) -> [String: [String]] {
    Dictionary(uniqueKeysWithValues: days.map { ($0, intervals) })
}

let allDays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

func calendar(_ spec: CalendarSpec) -> BusinessCalendar {
    do { return try BusinessCalendar(spec: spec) } catch { fatalError("fixture calendar is invalid: \(error)") }
}

/// The calendars the tables refer to by name.
enum Fixture: String, CaseIterable, Sendable, CustomStringConvertible {
    /// New York office, Mon-Fri 09:00-17:00, Thanksgiving and Christmas off, closes at noon on 24 Dec.
    case nyOffice
    /// New York, Mon-Fri 09:00-17:00, no holidays.
    case nyPlain
    /// New York, open around the clock.
    case ny24x7
    /// New York, open 01:00-04:00 every day (straddles both DST transitions).
    case nyNight
    /// New York, open 01:30-02:30 every day (half inside the repeated hour).
    case nyRepeat
    /// New York, open 02:30-04:00 every day (starts inside the skipped hour).
    case nyEarly
    /// New York, Mon-Fri 09:00-12:00 and 13:00-17:00.
    case nyLunch
    /// New York, Mon-Fri 09:00-17:00, from Wed 2026-03-04 08:00-20:00, from Mon 2026-03-09 10:00-16:00.
    case nyChanging
    /// Sydney office, Mon-Fri 09:00-17:00, Good Friday, Easter Monday and Labour Day 2026 off.
    case sydOffice
    /// Sydney, Mon-Fri 09:00-17:00, no holidays.
    case sydPlain
    /// Sydney, open around the clock.
    case syd24x7
    /// Sydney, open 02:00-04:00 every day.
    case sydNight
    /// Kolkata (+05:30, no DST), Mon-Fri 09:00-18:00.
    case kolkata
    /// Los Angeles, Mon-Fri 08:00-17:00.
    case losAngeles
    /// New York, Mon-Fri 09:00-17:00 until 2026-06-30, closed for good from 2026-07-01.
    case nyClosing

    var description: String { rawValue }

    var spec: CalendarSpec {
        let office = hours(weekdays, ["09:00-17:00"])
        switch self {
        case .nyOffice:
            return CalendarSpec(timezone: "America/New_York", hours: office,
                                holidays: ["2026-11-26", "2026-12-25"],
                                closures: [.init(date: "2026-12-24", closed: ["12:00-24:00"])])
        case .nyPlain: return CalendarSpec(timezone: "America/New_York", hours: office)
        case .ny24x7: return CalendarSpec(timezone: "America/New_York", hours: hours(allDays, ["00:00-24:00"]))
        case .nyNight: return CalendarSpec(timezone: "America/New_York", hours: hours(allDays, ["01:00-04:00"]))
        case .nyRepeat: return CalendarSpec(timezone: "America/New_York", hours: hours(allDays, ["01:30-02:30"]))
        case .nyEarly: return CalendarSpec(timezone: "America/New_York", hours: hours(allDays, ["02:30-04:00"]))
        case .nyLunch: return CalendarSpec(timezone: "America/New_York", hours: hours(weekdays, ["09:00-12:00", "13:00-17:00"]))
        case .nyChanging:
            return CalendarSpec(timezone: "America/New_York", hours: office, changes: [
                .init(from: "2026-03-09", hours: hours(weekdays, ["10:00-16:00"])),
                .init(from: "2026-03-04", hours: hours(weekdays, ["08:00-20:00"])),
            ])
        case .sydOffice:
            return CalendarSpec(timezone: "Australia/Sydney", hours: office,
                                holidays: ["2026-04-03", "2026-04-06", "2026-10-05"])
        case .sydPlain: return CalendarSpec(timezone: "Australia/Sydney", hours: office)
        case .syd24x7: return CalendarSpec(timezone: "Australia/Sydney", hours: hours(allDays, ["00:00-24:00"]))
        case .sydNight: return CalendarSpec(timezone: "Australia/Sydney", hours: hours(allDays, ["02:00-04:00"]))
        case .kolkata: return CalendarSpec(timezone: "Asia/Kolkata", hours: hours(weekdays, ["09:00-18:00"]))
        case .losAngeles: return CalendarSpec(timezone: "America/Los_Angeles", hours: hours(weekdays, ["08:00-17:00"]))
        case .nyClosing:
            return CalendarSpec(timezone: "America/New_York", hours: office, changes: [.init(from: "2026-07-01", hours: [:])])
        }
    }

    var calendar: BusinessCalendar { StewardCalendarTests.calendar(spec) }
    var zone: String { spec.timezone }
}
