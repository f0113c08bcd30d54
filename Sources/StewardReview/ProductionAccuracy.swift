import StewardEngine
import StewardJSON
import StewardStatistics

/// An accuracy estimate: `correct / judged`, with its Wilson 95% interval.
public struct AccuracyEstimate: Sendable, Hashable, Codable {
    /// Judged correct.
    public var correct: Int
    /// Judged at all: the sample size n.
    public var n: Int
    /// `correct / n`, or nil when nothing was judged.
    public var accuracy: Double?
    /// The Wilson score interval at 95% (`[0, 1]` when nothing was judged).
    public var interval: Interval

    /// The estimate of `correct` out of `n`.
    public init(correct: Int, n: Int) {
        self.correct = correct
        self.n = n
        accuracy = n > 0 ? Double(correct) / Double(n) : nil
        interval = Statistics.wilson(successes: correct, trials: n)
    }
}

/// The accuracy of one judged path.
public struct PathAccuracy: Sendable, Hashable, Codable {
    /// The judged path (`classification.label`).
    public var path: String
    /// Its estimate.
    public var estimate: AccuracyEstimate
}

/// Production accuracy of one template for one customer under one set of model bindings.
public struct AccuracyGroup: Sendable, Hashable, Codable {
    /// The template.
    public var template: String
    /// The customer (nil: instances run for no customer).
    public var customer: String?
    /// The model bindings (role -> adapter `id@version`) the instances ran with.
    public var bindings: [String: String]
    /// Per judged path, in the order the items list them.
    public var items: [PathAccuracy]
    /// Instances whose every judged path was correct, out of the complete items.
    public var allCorrect: AccuracyEstimate

    enum CodingKeys: String, CodingKey {
        case template, customer, bindings, items
        case allCorrect = "all_correct"
    }
}

/// What `ProductionAccuracy.report` finds for a template.
public struct ProductionAccuracyReport: Sendable, Hashable, Codable {
    /// The template.
    public var template: String
    /// The customer the report was limited to (nil: every customer).
    public var customer: String?
    /// Complete audit items the figures are computed from.
    public var complete: Int
    /// Audit items still waiting for reviews (not counted).
    public var open: Int
    /// One group per customer and binding set, by customer then bindings.
    public var groups: [AccuracyGroup]
}

/// Production accuracy from audits of sampled work: the share of judged paths that reviewers
/// found correct, per template, customer and model bindings, and per path. Pure.
public enum ProductionAccuracy {
    /// The report over the complete items of `items` that belong to `template` (and to
    /// `customer`, when given). Each complete item counts once per judged path, by its
    /// **first** review: a double-reviewed item's second review measures reviewer agreement
    /// (`ReviewerAgreement`), not accuracy, so counting it would weigh those items twice.
    public static func report(_ items: [AuditItem], template: String, customer: String? = nil) -> ProductionAccuracyReport {
        let relevant = items.filter { $0.template == template && (customer == nil || $0.customer == customer) }
        let complete = relevant.filter(\.isComplete)
        let grouped = Dictionary(grouping: complete) { GroupKey(customer: $0.customer, bindings: $0.bindings) }
        let groups = grouped.map { key, members -> AccuracyGroup in
            var paths: [String] = []
            for item in members { for value in item.items where !paths.contains(value.path) { paths.append(value.path) } }
            let first = members.compactMap { $0.verdicts.first }
            let estimates = paths.map { path in
                let judged = first.compactMap { $0.judgement(of: path) }
                return PathAccuracy(path: path, estimate: AccuracyEstimate(correct: judged.filter(\.correct).count, n: judged.count))
            }
            return AccuracyGroup(
                template: template, customer: key.customer, bindings: key.bindings, items: estimates,
                allCorrect: AccuracyEstimate(correct: first.filter { $0.judgements.allSatisfy(\.correct) }.count, n: first.count))
        }
        return ProductionAccuracyReport(
            template: template, customer: customer, complete: complete.count, open: relevant.count - complete.count,
            groups: groups.sorted { ($0.customer ?? "", GroupKey.text($0.bindings)) < ($1.customer ?? "", GroupKey.text($1.bindings)) })
    }

    struct GroupKey: Hashable {
        var customer: String?
        var bindings: [String: String]

        /// `classifier=banking-intent@2.0.0,...`, for ordering.
        static func text(_ bindings: [String: String]) -> String {
            bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
    }
}

/// Labelled data from audits: what reviewers say each sampled instance should have produced.
public enum AuditLabels {
    /// One eval dataset line per complete item, oldest first:
    /// `{"id": <instance id>, "input": <its input>, "expected": {<paths as nested objects>: value}}`,
    /// where a path's value is the instance's when the first review judged it correct, else
    /// that reviewer's correction (the first review, as for accuracy). An instance with more
    /// than one complete item (two sampled checkpoints, or one passed in a loop) keeps its id
    /// on the first line; later lines are `<id>/<checkpoint>/<visit>`, so ids stay unique.
    public static func dataset(_ items: [AuditItem]) -> [JSONValue] {
        var seen = Set<String>()
        return items.filter(\.isComplete).sorted { $0.id < $1.id }.compactMap { item in
            guard let review = item.verdicts.first else { return nil }
            var expected = JSONValue.emptyObject
            for value in item.items {
                guard let judgement = review.judgement(of: value.path) else { continue }
                expected = expected.setting(item.label(of: judgement), at: ArraySlice(value.path.split(separator: ".").map(String.init)))
            }
            let id = seen.insert(item.instanceID).inserted ? item.instanceID : "\(item.instanceID)/\(item.checkpoint)/\(item.visit)"
            return ["id": .string(id), "input": item.input, "expected": expected]
        }
    }
}
