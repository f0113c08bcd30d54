/// A span of wall-clock time within one local day, `[start, end)`, at minute resolution:
/// `09:00-17:00`. `24:00` is allowed as an end and means the following midnight, so
/// `00:00-24:00` is the whole day whatever its real length (23, 24 or 25 hours).
public struct LocalInterval: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// Minutes after local midnight at which the interval opens, 0..<1440.
    public let startMinute: Int
    /// Minutes after local midnight at which the interval closes, 1...1440; always after `startMinute`.
    public let endMinute: Int

    /// Creates an interval from minutes after midnight, or returns `nil` unless
    /// `0 <= start < end <= 1440`.
    public init?(startMinute: Int, endMinute: Int) {
        guard startMinute >= 0, startMinute < endMinute, endMinute <= 1440 else { return nil }
        self.startMinute = startMinute
        self.endMinute = endMinute
    }

    /// Parses `HH:MM-HH:MM`, throwing an error that names `field` and the text.
    public static func parse(_ text: String, field: String) throws(CalendarError) -> LocalInterval {
        let sides = text.split(separator: "-", omittingEmptySubsequences: false)
        guard sides.count == 2 else {
            throw CalendarError(field: field, reason: .malformedInterval(text, detail: "expected exactly one '-'"))
        }
        let start = try parseTime(sides[0], text: text, field: field)
        let end = try parseTime(sides[1], text: text, field: field)
        if start == 1440 {
            throw CalendarError(field: field, reason: .malformedInterval(text, detail: "24:00 can only end an interval"))
        }
        guard let interval = LocalInterval(startMinute: start, endMinute: end) else {
            throw CalendarError(field: field, reason: .endNotAfterStart(text))
        }
        return interval
    }

    /// `HH:MM-HH:MM`.
    public var description: String { "\(Self.format(startMinute))-\(Self.format(endMinute))" }

    /// Orders by start, then end.
    public static func < (lhs: LocalInterval, rhs: LocalInterval) -> Bool {
        (lhs.startMinute, lhs.endMinute) < (rhs.startMinute, rhs.endMinute)
    }

    /// Decodes from the string `HH:MM-HH:MM`.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try LocalInterval.parse(text, field: decoder.codingPath.map(\.stringValue).joined(separator: "."))
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    /// Encodes as the string `HH:MM-HH:MM`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func parseTime(_ side: Substring, text: String, field: String) throws(CalendarError) -> Int {
        let trimmed = side.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()
        let clock = String(trimmed)
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }),
              let hour = Int(parts[0]), let minute = Int(parts[1]) else {
            throw CalendarError(field: field, reason: .malformedInterval(text, detail: "'\(clock)' is not HH:MM"))
        }
        guard hour <= 24, minute <= 59, hour < 24 || minute == 0 else {
            throw CalendarError(field: field, reason: .malformedInterval(text, detail: "'\(clock)' is not a time of day between 00:00 and 24:00"))
        }
        return hour * 60 + minute
    }

    private static func format(_ minutes: Int) -> String {
        let hour = minutes / 60, minute = minutes % 60
        return (hour < 10 ? "0" : "") + String(hour) + ":" + (minute < 10 ? "0" : "") + String(minute)
    }
}
