#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Multinomial naive Bayes over TF-IDF features (version 1 of the adapter).
public enum NaiveBayes {
    /// Fits class priors and Laplace/Lidstone-smoothed feature likelihoods.
    ///
    /// The score of class c is `ln P(c) + sum_j x[j] * ln theta[c][j]` with
    /// `theta[c][j] = (n[c][j] + alpha) / (sum_j n[c][j] + alpha * featureCount)`, where
    /// `n[c][j]` is the summed TF-IDF weight of feature j in class c's training texts.
    public static func train(
        vectors: [SparseVector], labels: [Int], classCount: Int, featureCount: Int, alpha: Double
    ) -> LinearScorer {
        var mass = [Double](repeating: 0, count: featureCount * classCount)
        var classCounts = [Double](repeating: 0, count: classCount)
        for (vector, label) in zip(vectors, labels) {
            classCounts[label] += 1
            for (position, feature) in vector.indices.enumerated() {
                mass[Int(feature) * classCount + label] += Double(vector.values[position])
            }
        }
        var classTotals = [Double](repeating: 0, count: classCount)
        for feature in 0..<featureCount {
            for c in 0..<classCount { classTotals[c] += mass[feature * classCount + c] }
        }
        var weights = [Float](repeating: 0, count: featureCount * classCount)
        for feature in 0..<featureCount {
            for c in 0..<classCount {
                let theta = (mass[feature * classCount + c] + alpha) / (classTotals[c] + alpha * Double(featureCount))
                weights[feature * classCount + c] = Float(log(theta))
            }
        }
        let total = classCounts.reduce(0, +)
        let bias = classCounts.map { Float(log(max($0, 1) / total)) }
        return try! LinearScorer(classCount: classCount, featureCount: featureCount, weights: weights, bias: bias)
    }
}
