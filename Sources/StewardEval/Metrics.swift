import StewardJSON
import StewardStatistics
import StewardTemplates

/// Computes a rubric's metrics over case results and applies their gates. Pure.
public enum MetricEngine {
    /// The label a failed case stands for in label-wise metrics (it gave no value).
    static let noValue: JSONValue = .string("(no value)")

    /// Bootstrap draws for intervals of metrics that are not proportions.
    public static let bootstrapResamples = 1_000

    /// Whether one case passes every per-case check of `rubric`: its labelled paths equal
    /// the expected values (numbers within tolerance for `numeric_tolerance`), and each judge
    /// score reaches the metric's `min` (0.5 without one). A case that failed never passes.
    public static func casePasses(_ result: CaseResult, rubric: EvalRubric) -> Bool {
        guard result.status != "failed" else { return false }
        for metric in rubric.metrics {
            switch metric.kind {
            case .reviewRate:
                continue
            case .judge:
                if let score = result.judge[metric.name], score < (metric.threshold.minimum ?? 0.5) { return false }
            case .numericTolerance:
                guard let path = metric.path, let expected = result.expectedValue(at: path) else { continue }
                if !withinTolerance(result.output(at: path), expected, metric.tolerance ?? 0) { return false }
            default:
                guard let path = metric.path, let expected = result.expectedValue(at: path) else { continue }
                if result.output(at: path) != expected { return false }
            }
        }
        return true
    }

    static func withinTolerance(_ actual: JSONValue?, _ expected: JSONValue, _ tolerance: Double) -> Bool {
        guard let actual = actual?.doubleValue, let expected = expected.doubleValue else { return false }
        return abs(actual - expected) <= tolerance + 1e-12
    }

    /// Every metric of `rubric` over `cases`, gated.
    ///
    /// - Parameters:
    ///   - baseline: The baseline run's values by metric name (nil: no baseline; `max_drop` is
    ///     then not applied and says so).
    public static func evaluate(_ rubric: EvalRubric, cases: [CaseResult], baseline: [String: Double]? = nil) -> [MetricResult] {
        rubric.metrics.map { metric in
            var result = measure(metric, cases: cases)
            gate(&result, metric: metric, baseline: baseline)
            return result
        }
    }

    /// A metric's value, count and interval, ungated.
    public static func measure(_ metric: EvalMetric, cases: [CaseResult]) -> MetricResult {
        let path = metric.path ?? ""
        func proportion(_ outcomes: [Bool]) -> MetricResult {
            let successes = outcomes.lazy.filter { $0 }.count
            let interval = Statistics.wilson(successes: successes, trials: outcomes.count)
            return result(metric, value: outcomes.isEmpty ? nil : Double(successes) / Double(outcomes.count), n: outcomes.count,
                interval: outcomes.isEmpty ? nil : interval)
        }
        switch metric.kind {
        case .accuracy, .exactMatch:
            return proportion(cases.compactMap { c in c.expectedValue(at: path).map { c.output(at: path) == $0 } })
        case .recall:
            let label = metric.label ?? .null
            return proportion(cases.compactMap { c in c.expectedValue(at: path) == label ? c.output(at: path) == label : nil })
        case .precision:
            let label = metric.label ?? .null
            return proportion(cases.compactMap { c in
                guard let expected = c.expectedValue(at: path), c.output(at: path) == label else { return nil }
                return expected == label
            })
        case .reviewRate:
            return proportion(cases.map(\.reviewed))
        case .numericTolerance:
            return proportion(cases.compactMap { c in c.expectedValue(at: path).map { withinTolerance(c.output(at: path), $0, metric.tolerance ?? 0) } })
        case .macroF1:
            let pairs = cases.compactMap { c in c.expectedValue(at: path).map { ($0, c.output(at: path) ?? noValue) } }
            let value = pairs.isEmpty ? nil : macroF1(pairs, indices: Array(pairs.indices))
            let interval = pairs.isEmpty ? nil : Statistics.bootstrap(count: pairs.count, resamples: bootstrapResamples) { macroF1(pairs, indices: $0) }
            return result(metric, value: value, n: pairs.count, interval: interval)
        case .calibrationError:
            let confidencePath = metric.confidence ?? ""
            let points: [(confidence: Double, correct: Bool)] = cases.compactMap { c in
                guard let expected = c.expectedValue(at: path), let confidence = c.output(at: confidencePath)?.doubleValue, confidence.isFinite else { return nil }
                return (min(max(confidence, 0), 1), c.output(at: path) == expected)
            }
            let bins = metric.bins
            let value = points.isEmpty ? nil : expectedCalibrationError(points, indices: Array(points.indices), bins: bins)
            let interval = points.isEmpty ? nil : Statistics.bootstrap(count: points.count, resamples: bootstrapResamples) {
                expectedCalibrationError(points, indices: $0, bins: bins)
            }
            return result(metric, value: value, n: points.count, interval: interval)
        case .judge:
            let scores = cases.compactMap { $0.judge[metric.name] }
            let value = scores.isEmpty ? nil : scores.reduce(0, +) / Double(scores.count)
            let interval = scores.isEmpty ? nil : Statistics.bootstrap(count: scores.count, resamples: bootstrapResamples) { indices in
                indices.isEmpty ? .nan : indices.reduce(0) { $0 + scores[$1] } / Double(indices.count)
            }
            var measured = result(metric, value: value, n: scores.count, interval: interval)
            if let minimumKappa = metric.minimumKappa {
                let agreement = judgeAgreement(metric, cases: cases)
                if let kappa = agreement.kappa, kappa >= minimumKappa {
                    measured.note = "judge agrees with people: kappa \(format(kappa)) over \(agreement.n) labelled cases (min_kappa \(format(minimumKappa)))"
                } else {
                    measured.counted = false
                    let figure = agreement.kappa.map { "kappa \(format($0))" } ?? "no kappa"
                    measured.note = "not counted: \(figure) over \(agreement.n) labelled cases is below min_kappa \(format(minimumKappa))"
                }
            }
            return measured
        }
    }

    /// Cohen's κ between a judge metric's verdicts (score ≥ 0.5: the output is right) and the
    /// people who labelled the dataset (the output equals the expected value at the metric's
    /// path), over the cases that have both.
    public static func judgeAgreement(_ metric: EvalMetric, cases: [CaseResult]) -> (kappa: Double?, n: Int) {
        let path = metric.path ?? ""
        let pairs: [(Bool, Bool)] = cases.compactMap { c in
            guard let score = c.judge[metric.name], let expected = c.expectedValue(at: path) else { return nil }
            return (score >= 0.5, c.output(at: path) == expected)
        }
        return (Statistics.cohenKappa(pairs), pairs.count)
    }

    static func result(_ metric: EvalMetric, value: Double?, n: Int, interval: Interval?) -> MetricResult {
        MetricResult(
            name: metric.name, kind: metric.kind, path: metric.path, label: metric.label, value: value, n: n,
            ciLow: interval.flatMap { $0.low.isFinite ? $0.low : nil }, ciHigh: interval.flatMap { $0.high.isFinite ? $0.high : nil },
            threshold: AppliedThreshold(metric.threshold), passed: true)
    }

    /// Applies the metric's gate to a measured result.
    static func gate(_ result: inout MetricResult, metric: EvalMetric, baseline: [String: Double]?) {
        let threshold = metric.threshold
        let base = baseline?[metric.name]
        result.threshold = AppliedThreshold(threshold, baseline: base)
        var failures: [String] = []
        let gated = threshold.minimum != nil || threshold.maximum != nil || threshold.maxDrop != nil
        guard let value = result.value else {
            // A dataset that labels nothing at this path (an unlabelled set judged by its review
            // rate, say) is valid: the metric is reported with n = 0 and does not decide the verdict.
            if gated {
                result.counted = false
                result.note = [result.note, "no case is labelled at this path, so its gate is not applied"].compactMap { $0 }.joined(separator: "; ")
            }
            return
        }
        if let minimum = threshold.minimum, value < minimum { failures.append("\(format(value)) is below min \(format(minimum))") }
        if let maximum = threshold.maximum, value > maximum { failures.append("\(format(value)) is above max \(format(maximum))") }
        if let maxDrop = threshold.maxDrop {
            if let base {
                let worsening = metric.kind.higherIsBetter ? base - value : value - base
                if worsening > maxDrop + 1e-12 {
                    failures.append("worse than the baseline's \(format(base)) by \(format(worsening)), more than max_drop \(format(maxDrop))")
                }
            } else if result.note == nil {
                result.note = "max_drop not applied: no baseline run"
            }
        }
        result.passed = failures.isEmpty
        if !failures.isEmpty { result.note = ([failures.joined(separator: "; ")] + [result.note].compactMap { $0 }).joined(separator: "; ") }
    }

    /// Macro-averaged F1 over the labels that occur among the expected or actual values of
    /// the drawn pairs (as scikit-learn's `f1_score(average="macro")` with its default labels).
    static func macroF1(_ pairs: [(expected: JSONValue, actual: JSONValue)], indices: [Int]) -> Double {
        guard !indices.isEmpty else { return .nan }
        var truePositives: [JSONValue: Int] = [:]
        var expectedCount: [JSONValue: Int] = [:]
        var actualCount: [JSONValue: Int] = [:]
        for index in indices {
            let (expected, actual) = pairs[index]
            expectedCount[expected, default: 0] += 1
            actualCount[actual, default: 0] += 1
            if expected == actual { truePositives[expected, default: 0] += 1 }
        }
        let labels = Set(expectedCount.keys).union(actualCount.keys)
        var total = 0.0
        for label in labels {
            let tp = Double(truePositives[label] ?? 0)
            let denominator = Double(expectedCount[label] ?? 0) + Double(actualCount[label] ?? 0)
            total += denominator > 0 ? 2 * tp / denominator : 0
        }
        return total / Double(labels.count)
    }

    /// Expected calibration error with `bins` equal-width bins over [0, 1] (a confidence of
    /// exactly 1 falls in the last bin): Σ |bin| / n · |accuracy(bin) − mean confidence(bin)|.
    static func expectedCalibrationError(_ points: [(confidence: Double, correct: Bool)], indices: [Int], bins: Int) -> Double {
        guard !indices.isEmpty else { return .nan }
        var count = [Int](repeating: 0, count: bins)
        var correct = [Int](repeating: 0, count: bins)
        var confidence = [Double](repeating: 0, count: bins)
        for index in indices {
            let point = points[index]
            let bin = min(Int(point.confidence * Double(bins)), bins - 1)
            count[bin] += 1
            confidence[bin] += point.confidence
            if point.correct { correct[bin] += 1 }
        }
        var total = 0.0
        for bin in 0..<bins where count[bin] > 0 {
            let n = Double(count[bin])
            total += n * abs(Double(correct[bin]) / n - confidence[bin] / n)
        }
        return total / Double(indices.count)
    }

    /// A figure for people: four decimals.
    static func format(_ value: Double) -> String {
        let scaled = (value * 10_000).rounded() / 10_000
        return String(scaled)
    }
}
