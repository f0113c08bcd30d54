import StewardEngine
import StewardJSON

/// The figures the HTML report draws, computed from a run's cases and its history. Pure: no
/// I/O, no clock, the same inputs give the same figures.
enum ReportFigures {
    /// The row or column that gathers every label outside the top ones.
    static let otherLabels = "(other labels)"
    /// The column of cases that gave no value (or `null`) at the path; as `MetricEngine`, a
    /// missing value counts as wrong.
    static let noValue = "(no value)"

    /// A label as people read it: a string as written, any other value as compact JSON.
    static func labelText(_ value: JSONValue) -> String {
        value.stringValue ?? value.jsonString
    }

    // MARK: Confusion matrix

    /// Expected against actual labels at one path over the labelled cases.
    struct ConfusionMatrix: Sendable, Equatable {
        /// Expected labels, most frequent first (ties by text), then `otherLabels` when some
        /// were folded.
        var rows: [String]
        /// The same top labels in the same order (so the diagonal holds the correct cases), then
        /// `otherLabels` when some actual value is outside them, then `noValue` when some case
        /// gave none.
        var columns: [String]
        /// `counts[row][column]`: how many cases expected `rows[row]` and gave `columns[column]`.
        var counts: [[Int]]
        /// How many of the top labels there are (the rows and columns before the folded ones).
        var topCount: Int

        /// Every labelled case.
        var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
        /// The largest cell, for shading.
        var maximum: Int { counts.lazy.flatMap { $0 }.max() ?? 0 }
    }

    /// The confusion matrix at `path`: cases with an expected value there, rows by expected
    /// label, columns by actual label. The `top` most frequent expected labels keep their own
    /// row and column; the rest fold into `otherLabels` (so the folded row's "other" cell counts
    /// any mismatch among them too). Nil when no case is labelled at `path`.
    static func confusion(_ cases: [CaseResult], path: String, top: Int = 10) -> ConfusionMatrix? {
        let pairs = cases.compactMap { c in c.expectedValue(at: path).map { (expected: $0, actual: c.output(at: path)) } }
        guard !pairs.isEmpty else { return nil }
        var frequency: [JSONValue: Int] = [:]
        for pair in pairs { frequency[pair.expected, default: 0] += 1 }
        let ranked = frequency.map { (label: $0.key, text: labelText($0.key), count: $0.value) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.text < $1.text }
        let kept = ranked.prefix(max(top, 1))
        var index: [JSONValue: Int] = [:]
        for (position, entry) in kept.enumerated() { index[entry.label] = position }
        let topCount = kept.count
        // Columns: the top labels, then other (topCount), then no value (topCount + 1).
        var counts = [[Int]](repeating: [Int](repeating: 0, count: topCount + 2), count: topCount + 1)
        for pair in pairs {
            let row = index[pair.expected] ?? topCount
            let column: Int
            if let actual = pair.actual, !actual.isNull { column = index[actual] ?? topCount } else { column = topCount + 1 }
            counts[row][column] += 1
        }
        var rows = kept.map(\.text)
        var columns = rows
        var keepColumns = Array(0..<topCount)
        if counts.contains(where: { $0[topCount] > 0 }) {
            columns.append(otherLabels)
            keepColumns.append(topCount)
        }
        if counts.contains(where: { $0[topCount + 1] > 0 }) {
            columns.append(noValue)
            keepColumns.append(topCount + 1)
        }
        if counts[topCount].contains(where: { $0 > 0 }) { rows.append(otherLabels) } else { counts.removeLast() }
        return ConfusionMatrix(rows: rows, columns: columns, counts: counts.map { row in keepColumns.map { row[$0] } }, topCount: topCount)
    }

    // MARK: Calibration

    /// One labelled case with a confidence: what reliability and the review curve read.
    struct ScoredCase: Sendable, Equatable {
        /// The confidence, clamped to [0, 1].
        var confidence: Double
        /// Whether the value at the path equals the expected one.
        var correct: Bool
        /// Whether the run sent the case to a person (a checkpoint opened).
        var reviewed: Bool
    }

    /// The cases `calibration_error` counts: labelled at `path` with a finite number at
    /// `confidence` (clamped to [0, 1]), exactly as `MetricEngine` selects them.
    static func scored(_ cases: [CaseResult], path: String, confidence: String) -> [ScoredCase] {
        cases.compactMap { c in
            guard let expected = c.expectedValue(at: path), let value = c.output(at: confidence)?.doubleValue, value.isFinite else { return nil }
            return ScoredCase(confidence: min(max(value, 0), 1), correct: c.output(at: path) == expected, reviewed: c.reviewed)
        }
    }

    /// One equal-width confidence bin.
    struct ReliabilityBin: Sendable, Equatable {
        /// The bin's lower bound (inclusive).
        var lower: Double
        /// Its upper bound (exclusive, except 1 for the last bin).
        var upper: Double
        /// Cases in the bin.
        var count: Int
        /// Of those, how many were correct.
        var correct: Int
        /// The sum of their confidences.
        var confidenceSum: Double

        /// The share correct (nil: empty bin).
        var accuracy: Double? { count > 0 ? Double(correct) / Double(count) : nil }
        /// The mean confidence (nil: empty bin).
        var meanConfidence: Double? { count > 0 ? confidenceSum / Double(count) : nil }
    }

    /// `bins` equal-width bins over [0, 1] (at least one); a confidence of exactly 1 falls in
    /// the last bin, as in `MetricEngine.expectedCalibrationError`.
    static func reliability(_ points: [ScoredCase], bins: Int) -> [ReliabilityBin] {
        let bins = max(bins, 1)
        var result = (0..<bins).map {
            ReliabilityBin(lower: Double($0) / Double(bins), upper: Double($0 + 1) / Double(bins), count: 0, correct: 0, confidenceSum: 0)
        }
        for point in points {
            let bin = min(Int(point.confidence * Double(bins)), bins - 1)
            result[bin].count += 1
            result[bin].confidenceSum += point.confidence
            if point.correct { result[bin].correct += 1 }
        }
        return result
    }

    /// Expected calibration error over the bins: Σ |bin| / n · |accuracy − mean confidence|
    /// (nil: no case).
    static func expectedCalibrationError(_ bins: [ReliabilityBin]) -> Double? {
        let total = bins.reduce(0) { $0 + $1.count }
        guard total > 0 else { return nil }
        return bins.reduce(0.0) { sum, bin in
            guard let accuracy = bin.accuracy, let mean = bin.meanConfidence else { return sum }
            return sum + Double(bin.count) * abs(accuracy - mean)
        } / Double(total)
    }

    // MARK: Review rate against accuracy

    /// One threshold of the sweep.
    struct ReviewPoint: Sendable, Equatable {
        /// Cases with a confidence below it go to a person.
        var threshold: Double
        /// How many cases would go to a person.
        var reviewed: Int
        /// How many would not (confidence at least the threshold).
        var automated: Int
        /// Of those, how many are correct.
        var correct: Int

        /// The share of cases sent to a person.
        var reviewShare: Double { Double(reviewed) / Double(reviewed + automated) }
        /// The accuracy among the cases not sent (nil: none left).
        var accuracy: Double? { automated > 0 ? Double(correct) / Double(automated) : nil }
    }

    /// The review-rate/accuracy trade-off of a confidence threshold: one point for each
    /// distinct confidence t, ascending (the first sends nobody to a person), with the cases of
    /// confidence < t reviewed and the accuracy counted among the rest. Sending everyone (t
    /// above the largest confidence) leaves no accuracy and has no point.
    static func reviewCurve(_ points: [ScoredCase]) -> [ReviewPoint] {
        let sorted = points.sorted { $0.confidence < $1.confidence }
        var correctFrom = [Int](repeating: 0, count: sorted.count + 1)
        for index in sorted.indices.reversed() { correctFrom[index] = correctFrom[index + 1] + (sorted[index].correct ? 1 : 0) }
        var curve: [ReviewPoint] = []
        for index in sorted.indices where index == 0 || sorted[index].confidence != sorted[index - 1].confidence {
            curve.append(ReviewPoint(
                threshold: sorted[index].confidence, reviewed: index, automated: sorted.count - index, correct: correctFrom[index]))
        }
        return curve
    }

    /// The point of the sweep that reviews the most cases without exceeding `share` (nil: the
    /// curve is empty).
    static func point(_ curve: [ReviewPoint], atMostReviewing share: Double) -> ReviewPoint? {
        curve.last { $0.reviewShare <= share + 1e-12 } ?? curve.first
    }

    /// What the run's own checkpoints did over the same cases: the share reviewed and the
    /// accuracy among the rest (nil: no case).
    static func checkpointPolicy(_ points: [ScoredCase]) -> (reviewShare: Double, accuracy: Double?)? {
        guard !points.isEmpty else { return nil }
        let rest = points.filter { !$0.reviewed }
        let correct = rest.lazy.filter(\.correct).count
        return (Double(points.count - rest.count) / Double(points.count), rest.isEmpty ? nil : Double(correct) / Double(rest.count))
    }

    // MARK: Trend

    /// One run on the trend charts.
    struct TrendRun: Sendable, Equatable {
        /// The store's id (0: the report's run, not stored yet).
        var id: Int64
        /// When it finished, ms since 1970.
        var finishedAt: Int64
        /// The dataset's hash, to mark runs on another dataset.
        var datasetHash: String
        /// Metric values by name (metrics without a value are absent).
        var values: [String: Double]
        /// Whether this is the run the report is about.
        var isCurrent: Bool
    }

    /// The runs of the trend, oldest first: the records of `run`'s template and customer (the
    /// record of `run` itself and repeated ids left out) and `run`, ordered by finish time, then
    /// id. Values come from each summary's `metrics` (a `null` or non-numeric value is absent).
    static func trend(_ run: EvalRunReport, history: [EvalRunRecord]) -> [TrendRun] {
        var seen: Set<Int64> = []
        var runs: [TrendRun] = []
        for record in history where record.template == run.template && record.customer == run.customer {
            guard run.run == 0 || record.id != run.run, seen.insert(record.id).inserted else { continue }
            var values: [String: Double] = [:]
            for metric in record.summary["metrics"]?.arrayValue ?? [] {
                if let name = metric["name"]?.stringValue, let value = metric["value"]?.doubleValue, value.isFinite, values[name] == nil {
                    values[name] = value
                }
            }
            runs.append(TrendRun(id: record.id, finishedAt: record.createdAt, datasetHash: record.datasetHash, values: values, isCurrent: false))
        }
        var own: [String: Double] = [:]
        for metric in run.metrics { if let value = metric.value, value.isFinite, own[metric.name] == nil { own[metric.name] = value } }
        runs.append(TrendRun(id: run.run, finishedAt: run.finishedAt, datasetHash: run.datasetHash, values: own, isCurrent: true))
        return runs.sorted { ($0.finishedAt, $0.id) < ($1.finishedAt, $1.id) }
    }
}
