import Foundation

/// Why an SLA policy could not be built or applied.
public struct SLAError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// The policy has no target for this priority (P3 and P4 have no product default).
        case noTarget(Priority)
        /// A key of the policy is not `P1`...`P4`.
        case unknownPriority(String)
        /// A duration text is not of the form `4h`, `15m`, `1h30m`, `90s`.
        case malformedDuration(String)
        /// A target duration is zero or negative.
        case notPositive(String)
        /// A warning is neither a lead time nor a fraction within 0...1.
        case badWarning(String)
        /// The customer's calendar could not produce a due time.
        case calendar(CalendarError)
    }

    /// Where the value came from, e.g. `P3.resolution`.
    public let field: String
    /// What went wrong.
    public let reason: Reason

    /// Creates an error.
    public init(field: String, reason: Reason) {
        self.field = field
        self.reason = reason
    }

    /// One readable line, naming the field and the offending value.
    public var description: String {
        let what: String
        switch reason {
        case .noTarget(let priority):
            what = "no SLA target is configured for \(priority.rawValue)"
        case .unknownPriority(let key):
            what = "unknown priority '\(key)'; expected P1, P2, P3 or P4"
        case .malformedDuration(let text):
            what = "malformed duration '\(text)'; expected hours, minutes and seconds such as '4h', '15m', '1h30m'"
        case .notPositive(let text):
            what = "target \(text) must be longer than zero"
        case .badWarning(let detail):
            what = "bad warning: \(detail); expected a lead time such as '30m' or a fraction left such as '25%'"
        case .calendar(let error):
            what = error.description
        }
        return "SLA \(field): \(what)"
    }
}

/// Business durations written as text: `4h`, `15m`, `1h30m`, `90s`. No day unit on purpose: in
/// business time "1d" would be ambiguous between 24 business hours and one business day.
public enum SLADuration {
    /// Parses `<n>h`, `<n>m`, `<n>s` parts in that order (each optional, at least one present).
    public static func parse(_ text: String) -> Duration? {
        var total: Int64 = 0
        var digits = ""
        var lastUnit = -1
        var sawUnit = false
        for character in text {
            if character.isASCIIDigit {
                digits.append(character)
                continue
            }
            let units: [Character: (order: Int, seconds: Int64)] = ["h": (0, 3600), "m": (1, 60), "s": (2, 1)]
            guard let unit = units[character], !digits.isEmpty, unit.order > lastUnit,
                  let value = Int64(digits), value <= 1_000_000 else { return nil }
            total += value * unit.seconds
            lastUnit = unit.order
            digits = ""
            sawUnit = true
        }
        guard sawUnit, digits.isEmpty else { return nil }
        return .seconds(total)
    }

    /// Formats whole seconds as `1h30m`; zero is `0s`, negatives get a leading `-`.
    public static func format(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds == 0 { return "0s" }
        let magnitude = abs(seconds)
        let (h, m, s) = (magnitude / 3600, magnitude % 3600 / 60, magnitude % 60)
        return (seconds < 0 ? "-" : "") + (h > 0 ? "\(h)h" : "") + (m > 0 ? "\(m)m" : "") + (s > 0 ? "\(s)s" : "")
    }
}

/// The written form of one priority's targets:
/// `{first_response: "15m", resolution: "4h", warning: "25%"}`. `warning` is a fraction of the
/// target left (`"25%"`) or a lead time (`"30m"`); omitted, it is `25%`.
public struct SLATargetSpec: Codable, Sendable, Equatable {
    /// Business time to first response, e.g. `15m`.
    public var firstResponse: String
    /// Business time to resolution, e.g. `4h`.
    public var resolution: String
    /// When to warn before a breach: `25%` or `30m`.
    public var warning: String?

    /// Creates a spec.
    public init(firstResponse: String, resolution: String, warning: String? = nil) {
        self.firstResponse = firstResponse
        self.resolution = resolution
        self.warning = warning
    }

    private enum CodingKeys: String, CodingKey {
        case firstResponse = "first_response"
        case resolution
        case warning
    }
}

extension SLAPolicy {
    /// Builds a policy from `{P1: {...}, P3: {...}}`: listed priorities replace the defaults,
    /// unlisted P1/P2 keep them, unlisted P3/P4 stay unconfigured.
    public init(spec: [String: SLATargetSpec]) throws(SLAError) {
        var parsed: [Priority: SLATarget] = [:]
        for key in spec.keys.sorted() {
            guard let priority = Priority(rawValue: key) else {
                throw SLAError(field: key, reason: .unknownPriority(key))
            }
            parsed[priority] = try SLATarget(spec: spec[key]!, field: key)
        }
        self.init(p1: parsed[.p1] ?? .p1Default, p2: parsed[.p2] ?? .p2Default, p3: parsed[.p3], p4: parsed[.p4])
    }

    /// The written form of this policy.
    public var spec: [String: SLATargetSpec] {
        Dictionary(uniqueKeysWithValues: targets.map { ($0.key.rawValue, $0.value.spec) })
    }
}

extension SLATarget {
    /// Validates one priority's written targets; `field` (e.g. `P3`) prefixes error locations.
    public init(spec: SLATargetSpec, field: String) throws(SLAError) {
        func duration(_ text: String, _ name: String) throws(SLAError) -> Duration {
            guard let value = SLADuration.parse(text) else {
                throw SLAError(field: "\(field).\(name)", reason: .malformedDuration(text))
            }
            return value
        }
        let firstResponse = try duration(spec.firstResponse, "first_response")
        let resolution = try duration(spec.resolution, "resolution")
        var warning = SLATarget.defaultWarning
        if let text = spec.warning {
            if text.hasSuffix("%") {
                guard let percent = Double(text.dropLast()), (0...100).contains(percent) else {
                    throw SLAError(field: "\(field).warning", reason: .badWarning("'\(text)' is not a percentage within 0%...100%"))
                }
                warning = .fractionRemaining(percent / 100)
            } else {
                warning = .leadTime(try duration(text, "warning"))
            }
        }
        do {
            try self.init(firstResponse: firstResponse, resolution: resolution, warning: warning)
        } catch {
            throw SLAError(field: "\(field).\(error.field)", reason: error.reason)
        }
    }

    /// The written form of this target.
    public var spec: SLATargetSpec {
        let warningText: String
        switch warning {
        case .leadTime(let lead): warningText = SLADuration.format(lead)
        case .fractionRemaining(let fraction):
            // Locale-free: "25%" for whole percentages, "12.5%" otherwise.
            let percent = fraction * 100
            warningText = (percent == percent.rounded() ? String(Int(percent)) : String(percent)) + "%"
        }
        return SLATargetSpec(firstResponse: SLADuration.format(firstResponse), resolution: SLADuration.format(resolution), warning: warningText)
    }
}
