#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Figures for one model on one set of rows.
public struct Evaluation: Sendable, Codable, Equatable {
    /// Share of rows whose top label is right.
    public var accuracy: Double
    /// Share of rows whose true label is among the three most likely.
    public var topThreeAccuracy: Double
    /// Mean over classes of the F1 score (classes with no rows and no predictions are skipped).
    public var macroF1: Double
    /// Expected calibration error over 15 equal-width confidence bins.
    public var expectedCalibrationError: Double
    /// Mean negative log-likelihood of the true label.
    public var negativeLogLikelihood: Double
    /// Number of rows.
    public var count: Int
    /// For each confidence threshold: the share of rows below it (sent to a person) and the
    /// accuracy on the rest.
    public var thresholds: [ThresholdFigure]

    /// The effect of one confidence threshold.
    public struct ThresholdFigure: Sendable, Codable, Equatable {
        /// The threshold.
        public var threshold: Double
        /// Share of rows whose confidence is below it.
        public var shareBelow: Double
        /// Accuracy on the rows at or above it (1 when there are none).
        public var accuracyAbove: Double

        enum CodingKeys: String, CodingKey {
            case threshold
            case shareBelow = "share_below"
            case accuracyAbove = "accuracy_above"
        }
    }

    enum CodingKeys: String, CodingKey {
        case accuracy, count, thresholds
        case topThreeAccuracy = "top3_accuracy"
        case macroF1 = "macro_f1"
        case expectedCalibrationError = "ece"
        case negativeLogLikelihood = "nll"
    }

    /// Computes the figures from each row's class probabilities and true class.
    public init(probabilities: [[Double]], labels: [Int], classCount: Int, thresholds: [Double] = [0.5, 0.7, 0.8]) {
        let count = labels.count
        var truePositives = [Int](repeating: 0, count: classCount)
        var predictedCounts = [Int](repeating: 0, count: classCount)
        var actualCounts = [Int](repeating: 0, count: classCount)
        var correct = [Bool]()
        var confidences = [Double]()
        var nll = 0.0
        var topThree = 0
        for (row, label) in zip(probabilities, labels) {
            if row.lazy.filter({ $0 > row[label] }).count < 3 { topThree += 1 }
            var best = 0
            for c in 1..<row.count where row[c] > row[best] { best = c }
            predictedCounts[best] += 1
            actualCounts[label] += 1
            if best == label { truePositives[label] += 1 }
            correct.append(best == label)
            confidences.append(row[best])
            nll -= log(max(row[label], 1e-300))
        }
        accuracy = Double(correct.filter { $0 }.count) / Double(max(count, 1))
        topThreeAccuracy = Double(topThree) / Double(max(count, 1))
        var f1Sum = 0.0, f1Classes = 0
        for c in 0..<classCount where actualCounts[c] + predictedCounts[c] > 0 {
            f1Sum += 2 * Double(truePositives[c]) / Double(actualCounts[c] + predictedCounts[c])
            f1Classes += 1
        }
        macroF1 = f1Sum / Double(max(f1Classes, 1))
        let bins = 15
        var binCount = [Int](repeating: 0, count: bins)
        var binConfidence = [Double](repeating: 0, count: bins)
        var binCorrect = [Double](repeating: 0, count: bins)
        for (confidence, isCorrect) in zip(confidences, correct) {
            let bin = min(bins - 1, Int(confidence * Double(bins)))
            binCount[bin] += 1
            binConfidence[bin] += confidence
            binCorrect[bin] += isCorrect ? 1 : 0
        }
        var ece = 0.0
        for bin in 0..<bins where binCount[bin] > 0 {
            ece += abs(binCorrect[bin] - binConfidence[bin]) / Double(max(count, 1))
        }
        expectedCalibrationError = ece
        negativeLogLikelihood = nll / Double(max(count, 1))
        self.count = count
        self.thresholds = thresholds.map { threshold in
            let above = zip(confidences, correct).filter { $0.0 >= threshold }
            return ThresholdFigure(
                threshold: threshold, shareBelow: Double(count - above.count) / Double(max(count, 1)),
                accuracyAbove: above.isEmpty ? 1 : Double(above.filter { $0.1 }.count) / Double(above.count))
        }
    }
}

/// How a model with an out-of-scope class separates the texts it should answer from the ones it
/// should not, at the triage template's gates: a text is *answered* when its out-of-scope
/// probability is below `outOfScopeThreshold` and its top intent's confidence is at least
/// `confidenceThreshold`; anything else goes to a person.
public struct ScopeFigure: Sendable, Codable, Equatable {
    /// The out-of-scope probability at or above which a text is held for a person.
    public var outOfScopeThreshold: Double
    /// The confidence below which a text is held for a person.
    public var confidenceThreshold: Double
    /// Share of the held-out out-of-scope texts that would be answered (the target is at most 3%).
    public var outOfScopeAnswered: Double
    /// Share of the held-out banking texts held for a person by these two gates alone.
    public var inScopeHeld: Double
    /// Accuracy on the banking texts that would be answered.
    public var accuracyAnswered: Double

    enum CodingKeys: String, CodingKey {
        case outOfScopeThreshold = "out_of_scope_threshold"
        case confidenceThreshold = "confidence_threshold"
        case outOfScopeAnswered = "out_of_scope_answered"
        case inScopeHeld = "in_scope_held"
        case accuracyAnswered = "accuracy_answered"
    }

    /// Computes the figure from predictions of in-scope texts (with their true labels) and of
    /// out-of-scope texts.
    public init(
        outOfScopeThreshold: Double, confidenceThreshold: Double, inScope: [(IntentPrediction, String)], outOfScope: [IntentPrediction]
    ) {
        func answered(_ prediction: IntentPrediction) -> Bool {
            (prediction.outOfScopeProbability ?? 0) < outOfScopeThreshold && prediction.confidence >= confidenceThreshold
        }
        self.outOfScopeThreshold = outOfScopeThreshold
        self.confidenceThreshold = confidenceThreshold
        outOfScopeAnswered = Double(outOfScope.filter(answered).count) / Double(max(outOfScope.count, 1))
        let kept = inScope.filter { answered($0.0) }
        inScopeHeld = Double(inScope.count - kept.count) / Double(max(inScope.count, 1))
        accuracyAnswered = kept.isEmpty ? 1 : Double(kept.filter { $0.0.label == $0.1 }.count) / Double(kept.count)
    }
}
