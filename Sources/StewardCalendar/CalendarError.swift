import Foundation

/// Why a business calendar could not be built, or why a computation on it has no answer.
///
/// Every configuration error names the offending value and where it was found (`field`, e.g.
/// `changes[1].hours.tue[0]`), so an overlay author can fix it without reading code.
public struct CalendarError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// The time zone id is not a zone Foundation knows (IANA ids such as `Europe/Paris`).
        case unknownTimeZone(String)
        /// An interval is not of the form `HH:MM-HH:MM` with hours 00-24 and minutes 00-59.
        case malformedInterval(String, detail: String)
        /// An interval ends at or before its start (overnight shifts must be split at midnight).
        case endNotAfterStart(String)
        /// Two intervals of the same day overlap.
        case overlappingIntervals(String, String)
        /// A key of `hours` is not one of `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
        case unknownWeekday(String)
        /// A date is not a real calendar date written `YYYY-MM-DD`.
        case malformedDate(String)
        /// Two schedule changes take effect on the same date.
        case duplicateChangeDate(String)
        /// No schedule of the calendar has any open hour, so no deadline could ever be met.
        case noOpenHours
        /// The calendar never opens again after this instant (every later schedule is empty).
        case neverOpensAfter(Date)
        /// A negative business duration was requested.
        case negativeDuration(seconds: Double)
    }

    /// Where the value came from, e.g. `hours.mon[0]` or `holidays[2]`; empty when not applicable.
    public let field: String
    /// What went wrong.
    public let reason: Reason

    /// Creates an error.
    public init(field: String = "", reason: Reason) {
        self.field = field
        self.reason = reason
    }

    /// One readable line, naming the field and the offending value.
    public var description: String {
        let what: String
        switch reason {
        case .unknownTimeZone(let id):
            what = "unknown time zone '\(id)'; use an IANA id such as 'America/New_York'"
        case .malformedInterval(let text, let detail):
            what = "malformed interval '\(text)': \(detail); expected 'HH:MM-HH:MM' such as '09:00-17:00'"
        case .endNotAfterStart(let text):
            what = "interval '\(text)' ends at or before its start; split overnight hours at midnight ('22:00-24:00' and '00:00-06:00' on the next day)"
        case .overlappingIntervals(let first, let second):
            what = "intervals '\(first)' and '\(second)' overlap"
        case .unknownWeekday(let key):
            what = "unknown weekday '\(key)'; expected one of mon, tue, wed, thu, fri, sat, sun"
        case .malformedDate(let text):
            what = "malformed date '\(text)'; expected a real date written YYYY-MM-DD such as '2026-12-25'"
        case .duplicateChangeDate(let text):
            what = "two schedule changes take effect on \(text)"
        case .noOpenHours:
            what = "the calendar has no open hours in any schedule, so no SLA deadline could ever be met"
        case .neverOpensAfter(let date):
            what = "the calendar never opens after \(date.formatted(.iso8601)); every later schedule has no open hours"
        case .negativeDuration(let seconds):
            what = "business duration must not be negative (got \(seconds) s)"
        }
        return field.isEmpty ? "calendar: \(what)" : "calendar \(field): \(what)"
    }
}
