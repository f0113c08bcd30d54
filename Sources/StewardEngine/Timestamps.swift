import Foundation
import StewardJSON

/// The one way Steward writes a time for people and programs: RFC 3339 in UTC with
/// milliseconds, `2026-12-02T04:02:33.797Z` — the API, the CLI's JSON and the eval reports alike.
public enum Timestamps {
    /// `milliseconds` since 1970 as RFC 3339 text.
    public static func rfc3339(_ milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// RFC 3339 text (with or without fractional seconds) as ms since 1970; nil when it is not one.
    public static func milliseconds(rfc3339 text: String) -> Int64? {
        let date =
            (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
        return date.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// `value` with its integer members at `keys` (ms since 1970) written as RFC 3339 text;
    /// other members, and a value that is not an object, as they are.
    public static func rendering(_ keys: [String], in value: JSONValue) -> JSONValue {
        guard case .object(var members) = value else { return value }
        for key in keys {
            if let milliseconds = members[key]?.integerValue { members[key] = .string(rfc3339(milliseconds)) }
        }
        return .object(members)
    }

    /// The inverse of `rendering`: members at `keys` holding RFC 3339 text become ms since 1970;
    /// integers, and text that is no time, stay as they are.
    public static func reading(_ keys: [String], in value: JSONValue) -> JSONValue {
        guard case .object(var members) = value else { return value }
        for key in keys {
            if let text = members[key]?.stringValue, let milliseconds = milliseconds(rfc3339: text) { members[key] = .integer(milliseconds) }
        }
        return .object(members)
    }
}
