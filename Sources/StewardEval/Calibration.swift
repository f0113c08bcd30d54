import StewardJSON
import StewardStatistics
import StewardTemplates

/// The confidence threshold below which work goes to a person, chosen from labelled results:
/// the smallest human share that keeps accuracy among the auto-handled work at or above a
/// target. Pure.
public struct ThresholdCalibration: Sendable, Codable {
    /// One candidate threshold.
    public struct Row: Sendable, Codable, Hashable {
        /// Work with confidence below this goes to a person.
        public var threshold: Double
        /// Share of cases sent to a person.
        public var humanShare: Double
        /// Cases handled without a person.
        public var autoCases: Int
        /// Accuracy among them (nil when there are none).
        public var autoAccuracy: Double?
        /// Wilson 95% lower bound of that accuracy.
        public var autoAccuracyLow: Double?

        enum CodingKeys: String, CodingKey {
            case threshold
            case humanShare = "human_share", autoCases = "auto_cases", autoAccuracy = "auto_accuracy", autoAccuracyLow = "auto_accuracy_ci_low"
        }
    }

    /// The accuracy to keep among auto-handled work.
    public var target: Double
    /// Whether the Wilson lower bound (not the point estimate) had to reach the target.
    public var conservative: Bool
    /// Labelled cases with a confidence.
    public var n: Int
    /// The chosen row (nil: no threshold reaches the target, even sending all but one case to people).
    public var chosen: Row?
    /// The trade-off table: thresholds at every 0.05 and the chosen one, ascending.
    public var table: [Row]

    /// Calibrates over `(confidence, correct)` points.
    public init(points: [(confidence: Double, correct: Bool)], target: Double, conservative: Bool = false) {
        self.target = target
        self.conservative = conservative
        n = points.count
        let sorted = points.sorted { $0.confidence < $1.confidence }
        // Suffix sums: correct among the cases at index >= i.
        var correctFrom = [Int](repeating: 0, count: sorted.count + 1)
        for index in stride(from: sorted.count - 1, through: 0, by: -1) {
            correctFrom[index] = correctFrom[index + 1] + (sorted[index].correct ? 1 : 0)
        }
        func row(at index: Int, threshold: Double) -> Row {
            let auto = sorted.count - index
            let correct = correctFrom[index]
            return Row(
                threshold: threshold, humanShare: sorted.isEmpty ? 0 : Double(index) / Double(sorted.count), autoCases: auto,
                autoAccuracy: auto > 0 ? Double(correct) / Double(auto) : nil,
                autoAccuracyLow: auto > 0 ? Statistics.wilson(successes: correct, trials: auto).low : nil)
        }
        /// The first index whose confidence is at least `threshold`.
        func firstIndex(atLeast threshold: Double) -> Int {
            var low = 0
            var high = sorted.count
            while low < high {
                let middle = (low + high) / 2
                if sorted[middle].confidence < threshold { low = middle + 1 } else { high = middle }
            }
            return low
        }
        // Candidates: each distinct confidence (sending everything below it to people).
        var best: Row?
        var index = 0
        while index < sorted.count {
            let candidate = row(at: index, threshold: sorted[index].confidence)
            let reached = conservative ? candidate.autoAccuracyLow : candidate.autoAccuracy
            if let reached, reached >= target {
                best = candidate
                break
            }
            let value = sorted[index].confidence
            while index < sorted.count, sorted[index].confidence == value { index += 1 }
        }
        chosen = best
        var rows = stride(from: 0.0, through: 1.0001, by: 0.05).map { t in row(at: firstIndex(atLeast: t), threshold: (t * 100).rounded() / 100) }
        if let best { rows.append(best) }
        table = rows.sorted { $0.threshold < $1.threshold }
    }

    /// Calibrates from a stored run: the points are the cases labelled at the rubric's first
    /// `calibration_error` metric's path, with its confidence path.
    /// - Throws: `EvalInputError` when the rubric has no calibration metric.
    public init(run: EvalRunReport, rubric: EvalRubric, target: Double, conservative: Bool = false) throws(EvalInputError) {
        guard let metric = rubric.metrics.first(where: { $0.kind == .calibrationError }), let path = metric.path, let confidence = metric.confidence else {
            throw EvalInputError("the rubric of '\(run.template)' has no calibration_error metric, so no confidence path to calibrate")
        }
        let points: [(confidence: Double, correct: Bool)] = run.cases.compactMap { c in
            guard let expected = c.expectedValue(at: path), let value = c.output(at: confidence)?.doubleValue else { return nil }
            return (value, c.output(at: path) == expected)
        }
        self.init(points: points, target: target, conservative: conservative)
    }

    /// As JSON.
    public var jsonValue: JSONValue { EvalRunReport.json(self) }

    /// The overlay change that applies the chosen threshold for `customer`, as YAML for a
    /// person to review and merge into `workflows/customers/<customer>.yaml`.
    public func overlayProposal(template: String, customer: String, key: String, run: Int64) -> String? {
        guard let chosen else { return nil }
        let accuracy = chosen.autoAccuracy.map { MetricEngine.format($0) } ?? "-"
        return """
            # Proposed by `steward eval calibrate` from eval run \(run): send work with confidence below
            # \(chosen.threshold) to a person. Target accuracy \(target)\(conservative ? " (Wilson lower bound)" : ""); among
            # auto-handled work it is \(accuracy) over \(chosen.autoCases) cases, with \(MetricEngine.format(chosen.humanShare * 100))% sent to people.
            # Not applied: review it, then merge it into workflows/customers/\(customer).yaml.
            customer: \(customer)
            templates:
              \(template):
                config:
                  \(key): \(chosen.threshold)

            """
    }
}
