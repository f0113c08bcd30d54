import Yams

/// A checkpoint's production-sampling rule, `sample: {rate, double_review, items, credential?}`:
/// of the instances that pass the checkpoint without a person (its `when` is false), the
/// fraction `rate` is picked, deterministically from the instance id and the customer, for a
/// later audit of the judged `items`; of those, the fraction `doubleReview` needs two reviewers.
/// The instance is never held up by it.
public struct SampleRule: Sendable, Hashable {
    /// The fraction of passed-without-a-person instances picked for audit, in `0...1`.
    public var rate: Double
    /// The fraction of picked instances that need a second, independent review, in `0...1`.
    public var doubleReview: Double
    /// The instance-data paths a reviewer judges (`classification.label`), dotted, unique, in
    /// the order written.
    public var items: [String]
    /// The credential an auditor needs (nil: the checkpoint's own).
    public var credential: String?
    /// Where `sample` is written.
    public var location: SourceLocation
    /// Where each item is written, in `items` order.
    public var itemLocations: [SourceLocation]

    /// Creates a rule.
    public init(
        rate: Double, doubleReview: Double, items: [String], credential: String? = nil, location: SourceLocation,
        itemLocations: [SourceLocation] = []
    ) {
        self.rate = rate
        self.doubleReview = doubleReview
        self.items = items
        self.credential = credential
        self.location = location
        self.itemLocations = itemLocations
    }

    /// The rule with a customer's override applied (its rates win where it sets them).
    public func applying(_ override: SampleOverride?) -> SampleRule {
        guard let override else { return self }
        var rule = self
        if let rate = override.rate { rule.rate = rate }
        if let doubleReview = override.doubleReview { rule.doubleReview = doubleReview }
        return rule
    }

    /// Whether `path` is a dotted instance-data path: segments of letters, digits, `_` or `-`.
    public static func isDataPath(_ path: String) -> Bool {
        let segments = path.split(separator: ".", omittingEmptySubsequences: false)
        return !segments.isEmpty && segments.allSatisfy { segment in
            !segment.isEmpty && segment.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
        }
    }
}

/// A customer's change to one checkpoint's sampling rule
/// (`templates.<name>.sample: {<checkpoint>: {rate: 0.2}}`).
public struct SampleOverride: Sendable, Hashable {
    /// The customer's rate (nil: the template's).
    public var rate: Double?
    /// The customer's double-review fraction (nil: the template's).
    public var doubleReview: Double?
    /// Where the checkpoint's override is written (its key).
    public var location: SourceLocation

    /// Creates an override.
    public init(rate: Double?, doubleReview: Double?, location: SourceLocation) {
        self.rate = rate
        self.doubleReview = doubleReview
        self.location = location
    }
}

extension TemplateParser {
    static let sampleKeys = ["rate", "double_review", "items", "credential"]
    static let sampleOverrideKeys = ["rate", "double_review"]

    /// A fraction in `0...1`, or nil with a located error.
    static func fraction(_ node: Node?, _ what: String, reader: inout YAMLReader) -> Double? {
        guard let node else { return nil }
        guard let value = YAMLReader.float(node) ?? YAMLReader.integer(node).map(Double.init), value.isFinite, (0...1).contains(value) else {
            reader.error(node, "expected a number from 0 to 1 for \(what), found \(YAMLReader.describe(node))")
            return nil
        }
        return value
    }

    /// `sample:` of checkpoint `name`: every problem reported at its place.
    static func parseSample(_ node: Node, checkpoint name: String, reader: inout YAMLReader) -> SampleRule? {
        let context = "'sample' of state '\(name)'"
        guard let entries = reader.entries(of: node, context: context, allowed: sampleKeys) else { return nil }
        let rate = fraction(reader.required(entries, "rate", in: node, context: context), "'sample.rate' of state '\(name)'", reader: &reader)
        // A written `double_review` that is broken is reported, and the rule is not built.
        var doubleReview: Double? = 0
        if let node = entries["double_review"]?.value {
            doubleReview = fraction(node, "'sample.double_review' of state '\(name)'", reader: &reader)
        }
        let credential = entries["credential"].flatMap { reader.string($0.value, "'sample.credential' of state '\(name)'") }
        var items: [String] = []
        var itemLocations: [SourceLocation] = []
        var itemsValid = false
        if let itemsNode = reader.required(entries, "items", in: node, context: context) {
            if case .sequence(let sequence) = itemsNode {
                itemsValid = true
                if sequence.isEmpty {
                    reader.error(itemsNode, "'sample.items' of state '\(name)' is empty; expected at least one instance-data path to judge, e.g. classification.label")
                    itemsValid = false
                }
                for item in sequence {
                    guard let path = reader.string(item, "an item of 'sample.items' of state '\(name)'") else {
                        itemsValid = false
                        continue
                    }
                    if !SampleRule.isDataPath(path) {
                        reader.error(item, "'\(path)' in 'sample.items' of state '\(name)' is not an instance-data path; expected dotted names such as classification.label")
                        itemsValid = false
                    } else if items.contains(path) {
                        reader.error(item, "'\(path)' is listed twice in 'sample.items' of state '\(name)'; expected each item once")
                        itemsValid = false
                    } else {
                        items.append(path)
                        itemLocations.append(reader.location(of: item))
                    }
                }
            } else {
                reader.error(itemsNode, "expected a list of instance-data paths for 'sample.items' of state '\(name)', found \(YAMLReader.describe(itemsNode))")
            }
        }
        guard let rate, let doubleReview, itemsValid else { return nil }
        return SampleRule(
            rate: rate, doubleReview: doubleReview, items: items, credential: credential, location: reader.location(of: node),
            itemLocations: itemLocations)
    }

    /// `templates.<template>.sample` of an overlay: checkpoint name -> override.
    static func parseSampleOverrides(_ node: Node, template: String, reader: inout YAMLReader) -> [String: SampleOverride] {
        let path = "templates.\(template).sample"
        let context = "'\(path)'"
        guard case .mapping(let mapping) = node else {
            reader.error(node, "expected a mapping of checkpoint -> {rate, double_review} for \(context), found \(YAMLReader.describe(node))")
            return [:]
        }
        var overrides: [String: SampleOverride] = [:]
        for (key, value) in mapping {
            guard let checkpoint = reader.string(key, "a checkpoint name in \(context)") else { continue }
            let what = "'\(path).\(checkpoint)'"
            guard let entries = reader.entries(of: value, context: what, allowed: sampleOverrideKeys) else { continue }
            if case .mapping(let written) = value, written.isEmpty {
                reader.error(value, "\(what) changes nothing; expected 'rate' or 'double_review'")
            }
            let rate = entries["rate"].flatMap { fraction($0.value, "'rate' of \(what)", reader: &reader) }
            let doubleReview = entries["double_review"].flatMap { fraction($0.value, "'double_review' of \(what)", reader: &reader) }
            overrides[checkpoint] = SampleOverride(rate: rate, doubleReview: doubleReview, location: reader.location(of: key))
        }
        return overrides
    }

    /// The problems of an overlay's sampling overrides against `template`: each must name a
    /// checkpoint that has a `sample` rule.
    static func sampleOverrideDiagnostics(_ overrides: [String: SampleOverride], template: Template) -> [TemplateDiagnostic] {
        let sampled = template.states.compactMap { state -> String? in
            if case .checkpoint(let checkpoint) = state.kind, checkpoint.sample != nil { return state.name }
            return nil
        }
        return overrides.sorted { $0.key < $1.key }.compactMap { name, override in
            guard let state = template.state(named: name), case .checkpoint(let checkpoint) = state.kind else {
                let checkpoints = template.states.filter { if case .checkpoint = $0.kind { return true } else { return false } }.map(\.name)
                let suggestion = YAMLReader.closest(to: name, in: checkpoints).map { " (did you mean '\($0)'?)" } ?? ""
                return TemplateDiagnostic(
                    override.location,
                    "sampling override for unknown checkpoint '\(name)' of template '\(template.name)'\(suggestion); expected one of the checkpoints: \(checkpoints.joined(separator: ", "))")
            }
            guard checkpoint.sample != nil else {
                let expected = sampled.isEmpty ? "the template samples no checkpoint" : "expected one of: \(sampled.joined(separator: ", "))"
                return TemplateDiagnostic(
                    override.location,
                    "checkpoint '\(name)' of template '\(template.name)' has no 'sample' rule for the overlay to change; \(expected)")
            }
            return nil
        }
    }
}
