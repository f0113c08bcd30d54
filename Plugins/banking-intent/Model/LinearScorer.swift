#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A linear scorer over sparse features: `score[c] = bias[c] + sum_j x[j] * weights[j][c]`.
///
/// Both model versions reduce to this form: naive Bayes scores are log prior plus
/// feature-weighted log likelihoods, logistic regression scores are its logits. Weights are
/// stored feature-major, so one feature's weights for every class are contiguous.
public struct LinearScorer: Sendable, Equatable {
    /// Number of classes.
    public let classCount: Int
    /// Number of features.
    public let featureCount: Int
    /// `featureCount * classCount` weights, feature-major.
    public let weights: [Float]
    /// One bias per class.
    public let bias: [Float]

    /// Creates a scorer, checking the array sizes.
    public init(classCount: Int, featureCount: Int, weights: [Float], bias: [Float]) throws(BankingIntentError) {
        guard weights.count == classCount * featureCount, bias.count == classCount else {
            throw BankingIntentError(
                "a scorer of \(classCount) classes and \(featureCount) features needs \(classCount * featureCount) weights and \(classCount) biases, got \(weights.count) and \(bias.count)")
        }
        self.classCount = classCount
        self.featureCount = featureCount
        self.weights = weights
        self.bias = bias
    }

    /// The class scores of `vector`.
    public func scores(_ vector: SparseVector) -> [Double] {
        var scores = bias.map(Double.init)
        let classes = classCount
        weights.withUnsafeBufferPointer { weights in
            scores.withUnsafeMutableBufferPointer { scores in
                for (position, feature) in vector.indices.enumerated() {
                    let value = Double(vector.values[position])
                    let row = Int(feature) * classes
                    for c in 0..<classes {
                        scores[c] += value * Double(weights[row + c])
                    }
                }
            }
        }
        return scores
    }

    /// The same scorer with each feature's weights shifted by their mean over classes.
    ///
    /// Adding one constant to a feature's weights for every class adds the same amount to
    /// every class score, which changes neither the ranking nor the softmax. Centring keeps
    /// the stored numbers small, so the 16-bit weight file loses less precision.
    public func centred() -> LinearScorer {
        var centred = weights
        for feature in 0..<featureCount {
            let row = feature * classCount
            var sum = 0.0
            for c in 0..<classCount { sum += Double(weights[row + c]) }
            let mean = Float(sum / Double(classCount))
            for c in 0..<classCount { centred[row + c] -= mean }
        }
        return try! LinearScorer(classCount: classCount, featureCount: featureCount, weights: centred, bias: bias)
    }
}

/// Softmax and temperature scaling.
public enum Calibration {
    /// `softmax(scores / temperature)`, computed stably.
    public static func softmax(_ scores: [Double], temperature: Double = 1) -> [Double] {
        guard let top = scores.max() else { return [] }
        var exps = scores.map { exp(($0 - top) / temperature) }
        let sum = exps.reduce(0, +)
        for index in exps.indices { exps[index] /= sum }
        return exps
    }

    /// Mean negative log-likelihood of `labels` under `softmax(scores / temperature)`.
    public static func negativeLogLikelihood(scores: [[Double]], labels: [Int], temperature: Double) -> Double {
        var total = 0.0
        for (row, label) in zip(scores, labels) {
            let top = row.max() ?? 0
            var sum = 0.0
            for score in row { sum += exp((score - top) / temperature) }
            total += log(sum) - (row[label] - top) / temperature
        }
        return total / Double(max(labels.count, 1))
    }

    /// The temperature in [0.01, 100] that minimises the NLL of `labels`: a golden-section
    /// search over ln(temperature). The NLL is convex in 1/temperature, so it has one minimum.
    public static func fitTemperature(scores: [[Double]], labels: [Int]) -> Double {
        var low = log(0.01), high = log(100.0)
        let ratio = (5.0.squareRoot() - 1) / 2
        func loss(_ u: Double) -> Double { negativeLogLikelihood(scores: scores, labels: labels, temperature: exp(u)) }
        var a = high - ratio * (high - low), b = low + ratio * (high - low)
        var lossA = loss(a), lossB = loss(b)
        for _ in 0..<80 {
            if lossA < lossB {
                high = b
                b = a
                lossB = lossA
                a = high - ratio * (high - low)
                lossA = loss(a)
            } else {
                low = a
                a = b
                lossA = lossB
                b = low + ratio * (high - low)
                lossB = loss(b)
            }
        }
        return exp((low + high) / 2)
    }
}
