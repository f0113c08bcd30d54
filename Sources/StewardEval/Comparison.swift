import StewardJSON
import StewardStatistics
import StewardTemplates

/// Two runs side by side: per-metric deltas with their significance and the cases that flipped.
public struct RunComparison: Sendable, Codable {
    /// One metric in both runs.
    public struct MetricDelta: Sendable, Codable {
        /// The metric's name.
        public var name: String
        /// Its kind.
        public var kind: EvalMetric.Kind
        /// Its value in the first run.
        public var a: Double?
        /// Its value in the second run.
        public var b: Double?
        /// `b - a`.
        public var delta: Double?
        /// A 95% paired-bootstrap interval of the delta over the cases both runs share.
        public var deltaLow: Double?
        /// Its upper end.
        public var deltaHigh: Double?
        /// McNemar's exact p-value over the paired per-case outcomes (proportions only).
        public var pValue: Double?
        /// Whether the change is significant at 5%: McNemar's p < 0.05 for proportions, the
        /// bootstrap interval excluding 0 otherwise.
        public var significant: Bool
        /// Whether the change is for the better (nil: no change or not comparable).
        public var improved: Bool?

        enum CodingKeys: String, CodingKey {
            case name, kind, a, b, delta, significant, improved
            case deltaLow = "delta_ci_low", deltaHigh = "delta_ci_high", pValue = "p_value"
        }
    }

    /// A case whose verdict changed.
    public struct Flip: Sendable, Codable {
        /// The case id.
        public var id: String
        /// `regressed` (passed in the first run, not in the second) or `fixed`.
        public var change: String
        /// Its outputs in the first run.
        public var a: JSONValue
        /// Its outputs in the second run.
        public var b: JSONValue
        /// What was expected.
        public var expected: JSONValue
    }

    /// The first run's id.
    public var runA: Int64
    /// The second run's id.
    public var runB: Int64
    /// Whether both evaluated the same dataset bytes.
    public var sameDataset: Bool
    /// How many case ids both runs have.
    public var pairedCases: Int
    /// Per metric, in the first run's order.
    public var metrics: [MetricDelta]
    /// Cases that flipped, regressions first.
    public var flips: [Flip]

    enum CodingKeys: String, CodingKey {
        case metrics, flips
        case runA = "run_a", runB = "run_b", sameDataset = "same_dataset", pairedCases = "paired_cases"
    }

    /// Compares two stored runs. Metrics are matched by name (a metric only one run has is
    /// left out); cases by id.
    /// - Parameter rubric: The rubric to recompute per-case outcomes with (the second run's
    ///   template's); metrics it lacks are compared by value only.
    public init(_ a: EvalRunReport, _ b: EvalRunReport, rubric: EvalRubric?) {
        runA = a.run
        runB = b.run
        sameDataset = a.datasetHash == b.datasetHash
        let casesB = Dictionary(b.cases.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let pairs = a.cases.compactMap { left in casesB[left.id].map { (left, $0) } }
        pairedCases = pairs.count
        let valuesB = Dictionary(b.metrics.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        metrics = a.metrics.compactMap { left -> MetricDelta? in
            guard let right = valuesB[left.name] else { return nil }
            var delta = MetricDelta(
                name: left.name, kind: left.kind, a: left.value, b: right.value, delta: nil, deltaLow: nil, deltaHigh: nil, pValue: nil,
                significant: false, improved: nil)
            if let x = left.value, let y = right.value {
                delta.delta = y - x
                if y != x { delta.improved = left.kind.higherIsBetter ? y > x : y < x }
            }
            guard let metric = rubric?.metric(named: left.name), metric.kind == left.kind, !pairs.isEmpty else { return delta }
            let interval = Statistics.bootstrap(count: pairs.count, resamples: MetricEngine.bootstrapResamples) { indices in
                let drawn = indices.map { pairs[$0] }
                guard let x = MetricEngine.measure(metric, cases: drawn.map(\.0)).value, let y = MetricEngine.measure(metric, cases: drawn.map(\.1)).value else {
                    return .nan
                }
                return y - x
            }
            if interval.low.isFinite, interval.high.isFinite {
                delta.deltaLow = interval.low
                delta.deltaHigh = interval.high
            }
            if metric.kind.isProportion {
                var onlyA = 0
                var onlyB = 0
                for (x, y) in pairs {
                    guard let left = Self.outcome(metric, x), let right = Self.outcome(metric, y) else { continue }
                    if left && !right { onlyA += 1 } else if right && !left { onlyB += 1 }
                }
                let p = Statistics.mcnemarExact(onlyFirst: onlyA, onlySecond: onlyB)
                delta.pValue = p
                delta.significant = p < 0.05
            } else if let low = delta.deltaLow, let high = delta.deltaHigh {
                delta.significant = low > 0 || high < 0
            }
            return delta
        }
        var flips: [Flip] = []
        for (x, y) in pairs where x.passed != y.passed {
            flips.append(Flip(id: x.id, change: x.passed ? "regressed" : "fixed", a: x.outputs, b: y.outputs, expected: y.expected))
        }
        self.flips = flips.filter { $0.change == "regressed" } + flips.filter { $0.change == "fixed" }
    }

    /// A case's success on a proportion metric (nil: the case does not count for it).
    static func outcome(_ metric: EvalMetric, _ result: CaseResult) -> Bool? {
        let path = metric.path ?? ""
        switch metric.kind {
        case .reviewRate: return result.reviewed
        case .accuracy, .exactMatch: return result.expectedValue(at: path).map { result.output(at: path) == $0 }
        case .numericTolerance: return result.expectedValue(at: path).map { MetricEngine.withinTolerance(result.output(at: path), $0, metric.tolerance ?? 0) }
        case .recall:
            let label = metric.label ?? .null
            return result.expectedValue(at: path) == label ? result.output(at: path) == label : nil
        case .precision:
            let label = metric.label ?? .null
            guard let expected = result.expectedValue(at: path), result.output(at: path) == label else { return nil }
            return expected == label
        case .macroF1, .calibrationError, .judge: return nil
        }
    }

    /// As JSON.
    public var jsonValue: JSONValue { EvalRunReport.json(self) }
}
