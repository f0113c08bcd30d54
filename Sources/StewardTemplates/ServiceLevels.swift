import StewardExpressions
import StewardJSON
import Yams

/// SLA targets of a template: which data path gives the priority, and per priority the
/// business-time budgets for the first response and the resolution.
public struct ServiceLevels: Sendable, Hashable {
    /// Budgets for one priority, in business seconds.
    public struct Target: Sendable, Hashable {
        /// Time to the first response.
        public var firstResponse: Int
        /// Time to resolution.
        public var resolution: Int

        /// Creates a target.
        public init(firstResponse: Int, resolution: Int) {
            self.firstResponse = firstResponse
            self.resolution = resolution
        }
    }

    /// Gives the instance's priority (e.g. `routing.priority`).
    public var priority: Expression
    /// Targets by priority name.
    public var targets: [String: Target]
    /// Warn this fraction of the budget before the breach (0.25 = with a quarter left).
    public var warningFraction: Double

    /// The defaults the design fixes for P1 and P2; P3 and P4 are the template's to set.
    public static let defaultTargets: [String: Target] = [
        "P1": Target(firstResponse: 15 * 60, resolution: 4 * 3600),
        "P2": Target(firstResponse: 3600, resolution: 24 * 3600),
    ]
}

/// One rung of an escalation ladder.
public struct EscalationRung: Sendable, Hashable {
    /// When the rung fires: at the SLA warning or at the breach.
    public enum Trigger: String, Sendable, Hashable, CaseIterable {
        /// When the warning time is reached.
        case warning
        /// When the deadline passes.
        case breach
    }
    /// When it fires.
    public var at: Trigger
    /// Who is notified (a credential or a role name).
    public var notify: String
    /// The credential the task is reassigned to (it may then be decided with it too).
    public var reassign: String?
}

/// Parses `"15m"`, `"4h"`, `"1h30m"`, `"90s"`, or a number of seconds. There is no day unit:
/// "a day" of business time is ambiguous (8 hours? the customer's opening hours?), so budgets
/// are written in hours.
public enum DurationText {
    /// The longest duration accepted: ten years (87,600h), so deadline arithmetic in
    /// milliseconds and calendar walks stay bounded.
    public static let maxSeconds = 87_600 * 3_600

    /// Seconds, or nil when the text is not a duration of ASCII digits and units, or is longer
    /// than `maxSeconds`.
    public static func seconds(_ text: String) -> Int? {
        if let plain = Int(text) { return (0...maxSeconds).contains(plain) ? plain : nil }
        var total = 0
        var number = ""
        var sawUnit = false
        for character in text where !character.isWhitespace {
            if character.isASCII, character.isNumber {
                number.append(character)
                continue
            }
            let unit: Int
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            default: return nil
            }
            // Each part is bounded before it is multiplied, so nothing overflows.
            guard let value = Int(number), value <= maxSeconds / unit else { return nil }
            total += value * unit
            guard total <= maxSeconds else { return nil }
            number = ""
            sawUnit = true
        }
        return number.isEmpty && sawUnit ? total : nil
    }
}

extension TemplateParser {
    static let slaKeys = ["priority", "targets", "warning_before"]

    static func parseServiceLevels(_ node: Node, reader: inout YAMLReader) -> ServiceLevels? {
        guard let entries = reader.entries(of: node, context: "'sla'", allowed: slaKeys) else { return nil }
        let priority = reader.expression(reader.required(entries, "priority", in: node, context: "'sla'"), "'sla.priority'")
        var targets = ServiceLevels.defaultTargets
        if let targetsNode = entries["targets"]?.value, case .mapping(let mapping) = targetsNode {
            for (key, value) in mapping {
                guard let name = reader.string(key, "a priority name in 'sla.targets'") else { continue }
                if let target = parseTarget(value, name: name, base: targets[name], reader: &reader) { targets[name] = target }
            }
        } else if let targetsNode = entries["targets"]?.value {
            reader.error(targetsNode, "expected a mapping of priority -> {first_response, resolution} for 'sla.targets'")
        }
        var warning = 0.25
        if let warningNode = entries["warning_before"]?.value, let text = reader.string(warningNode, "'sla.warning_before'") {
            if text.hasSuffix("%"), let percent = Double(text.dropLast()), percent > 0, percent < 100 {
                warning = percent / 100
            } else {
                reader.error(warningNode, "expected a percentage of the budget like '25%' for 'sla.warning_before', found '\(text)'")
            }
        }
        guard let priority else { return nil }
        return ServiceLevels(priority: priority, targets: targets, warningFraction: warning)
    }

    static func parseTarget(_ node: Node, name: String, base: ServiceLevels.Target?, reader: inout YAMLReader) -> ServiceLevels.Target? {
        let context = "'sla.targets.\(name)'"
        guard let entries = reader.entries(of: node, context: context, allowed: ["first_response", "resolution"]) else { return nil }
        func duration(_ key: String, _ reader: inout YAMLReader) -> Int? {
            guard let valueNode = entries[key]?.value else { return nil }
            guard let text = reader.string(valueNode, "\(context).\(key)"), let seconds = DurationText.seconds(text), seconds > 0 else {
                reader.error(valueNode, "expected a duration like '15m', '4h' or '1h30m' (at most 87600h) for \(context).\(key)")
                return nil
            }
            return seconds
        }
        let first = duration("first_response", &reader) ?? base?.firstResponse
        let resolution = duration("resolution", &reader) ?? base?.resolution
        guard let first, let resolution else {
            reader.error(node, "\(context) needs both 'first_response' and 'resolution'")
            return nil
        }
        if resolution < first { reader.error(node, "\(context): resolution must not come before first_response") }
        return ServiceLevels.Target(firstResponse: first, resolution: resolution)
    }

    static func parseEscalation(_ node: Node, reader: inout YAMLReader) -> [EscalationRung] {
        guard case .sequence(let sequence) = node else {
            reader.error(node, "expected a list of rungs {at, notify, reassign} for 'escalation'")
            return []
        }
        var rungs: [EscalationRung] = []
        for item in sequence {
            guard let entries = reader.entries(of: item, context: "an escalation rung", allowed: ["at", "notify", "reassign"]) else { continue }
            let atNode = reader.required(entries, "at", in: item, context: "an escalation rung")
            let atText = reader.string(atNode, "'at' of an escalation rung")
            let trigger = atText.flatMap(EscalationRung.Trigger.init(rawValue:))
            if atText != nil, trigger == nil {
                reader.error(atNode, "unknown escalation trigger '\(atText!)'; expected one of: warning, breach")
            }
            let notify = reader.string(reader.required(entries, "notify", in: item, context: "an escalation rung"), "'notify'")
            let reassign = entries["reassign"].flatMap { reader.string($0.value, "'reassign'") }
            if let trigger, let notify { rungs.append(EscalationRung(at: trigger, notify: notify, reassign: reassign)) }
        }
        return rungs
    }
}

/// An adapter binding, `id@version`.
public struct ModelBinding: Sendable, Hashable, CustomStringConvertible {
    /// Adapter id.
    public var id: String
    /// Adapter version.
    public var version: String

    /// Parses `id@version`; nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        id = String(parts[0])
        version = String(parts[1])
    }

    /// `id@version`.
    public var description: String { "\(id)@\(version)" }
}
