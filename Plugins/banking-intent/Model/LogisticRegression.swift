#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Multinomial (softmax) logistic regression with an L2 penalty, fitted by L-BFGS on the
/// full training set (version 2 of the adapter).
///
/// It minimises `mean_i -ln softmax(W x_i + b)[y_i] + (lambda / 2) * |W|^2` (the bias is not
/// penalised). Everything is deterministic: weights start at zero and there is no sampling,
/// so the same data gives bit-identical weights on every run of the same build.
public enum LogisticRegression {
    /// Options for `train`.
    public struct Options: Sendable {
        /// The L2 penalty `lambda`.
        public var l2: Double
        /// Most L-BFGS iterations.
        public var maximumIterations: Int
        /// Stop when the largest gradient component falls below this.
        public var gradientTolerance: Double
        /// Number of correction pairs L-BFGS keeps.
        public var memory: Int

        /// Creates options.
        public init(l2: Double, maximumIterations: Int = 500, gradientTolerance: Double = 1e-5, memory: Int = 8) {
            self.l2 = l2
            self.maximumIterations = maximumIterations
            self.gradientTolerance = gradientTolerance
            self.memory = memory
        }
    }

    /// What `train` did: the model and how the optimisation went.
    public struct Fit: Sendable {
        /// The fitted scorer.
        public let scorer: LinearScorer
        /// L-BFGS iterations run.
        public let iterations: Int
        /// Final objective value.
        public let objective: Double
        /// Largest gradient component at the end.
        public let gradientNorm: Double
    }

    /// Fits the model.
    public static func train(
        vectors: [SparseVector], labels: [Int], classCount: Int, featureCount: Int, options: Options
    ) -> Fit {
        let weightCount = featureCount * classCount
        let n = Double(vectors.count)
        let objective: ([Double], inout [Double]) -> Double = { parameters, gradient in
            for index in gradient.indices { gradient[index] = 0 }
            var loss = 0.0
            var scores = [Double](repeating: 0, count: classCount)
            parameters.withUnsafeBufferPointer { theta in
                gradient.withUnsafeMutableBufferPointer { grad in
                    for (vector, label) in zip(vectors, labels) {
                        for c in 0..<classCount { scores[c] = theta[weightCount + c] }
                        for (position, feature) in vector.indices.enumerated() {
                            let value = Double(vector.values[position])
                            let row = Int(feature) * classCount
                            for c in 0..<classCount { scores[c] += value * theta[row + c] }
                        }
                        var top = scores[0]
                        for c in 1..<classCount where scores[c] > top { top = scores[c] }
                        var sum = 0.0
                        for c in 0..<classCount {
                            scores[c] = exp(scores[c] - top)
                            sum += scores[c]
                        }
                        loss += log(sum) - log(scores[label])
                        // scores now holds exp; turn it into p - onehot, scaled by 1/n.
                        for c in 0..<classCount { scores[c] = scores[c] / sum / n }
                        scores[label] -= 1 / n
                        for (position, feature) in vector.indices.enumerated() {
                            let value = Double(vector.values[position])
                            let row = Int(feature) * classCount
                            for c in 0..<classCount { grad[row + c] += value * scores[c] }
                        }
                        for c in 0..<classCount { grad[weightCount + c] += scores[c] }
                    }
                    var penalty = 0.0
                    for index in 0..<weightCount {
                        penalty += theta[index] * theta[index]
                        grad[index] += options.l2 * theta[index]
                    }
                    loss = loss / n + options.l2 / 2 * penalty
                }
            }
            return loss
        }
        let start = [Double](repeating: 0, count: weightCount + classCount)
        let result = LBFGS.minimize(
            start: start, memory: options.memory, maximumIterations: options.maximumIterations,
            gradientTolerance: options.gradientTolerance, objective: objective)
        let weights = result.point[0..<weightCount].map { Float($0) }
        let bias = result.point[weightCount...].map { Float($0) }
        let scorer = try! LinearScorer(classCount: classCount, featureCount: featureCount, weights: weights, bias: bias)
        return Fit(scorer: scorer, iterations: result.iterations, objective: result.value, gradientNorm: result.gradientNorm)
    }
}

/// Limited-memory BFGS (Nocedal and Wright, algorithm 7.4) with a backtracking Armijo line search.
public enum LBFGS {
    /// The minimiser's answer.
    public struct Result: Sendable {
        /// The last point.
        public let point: [Double]
        /// The objective there.
        public let value: Double
        /// Largest gradient component there.
        public let gradientNorm: Double
        /// Iterations run.
        public let iterations: Int
    }

    /// Minimises `objective`, which returns the value and writes the gradient.
    public static func minimize(
        start: [Double], memory: Int, maximumIterations: Int, gradientTolerance: Double,
        objective: ([Double], inout [Double]) -> Double
    ) -> Result {
        let dimension = start.count
        var x = start
        var gradient = [Double](repeating: 0, count: dimension)
        var value = objective(x, &gradient)
        var steps: [[Double]] = []  // s_k = x_{k+1} - x_k
        var changes: [[Double]] = []  // y_k = g_{k+1} - g_k
        var curvatures: [Double] = []  // 1 / (y_k . s_k)
        var iteration = 0
        var candidate = [Double](repeating: 0, count: dimension)
        var candidateGradient = [Double](repeating: 0, count: dimension)
        func dot(_ a: [Double], _ b: [Double]) -> Double {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    var sum = 0.0
                    for index in 0..<a.count { sum += a[index] * b[index] }
                    return sum
                }
            }
        }
        func largest(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }

        while iteration < maximumIterations, largest(gradient) > gradientTolerance {
            iteration += 1
            // Two-loop recursion: direction = -H * gradient.
            var direction = gradient
            var alphas = [Double](repeating: 0, count: steps.count)
            for k in stride(from: steps.count - 1, through: 0, by: -1) {
                alphas[k] = curvatures[k] * dot(steps[k], direction)
                let alpha = alphas[k]
                changes[k].withUnsafeBufferPointer { y in
                    for index in 0..<dimension { direction[index] -= alpha * y[index] }
                }
            }
            if let lastStep = steps.last, let lastChange = changes.last {
                let scale = dot(lastStep, lastChange) / dot(lastChange, lastChange)
                for index in 0..<dimension { direction[index] *= scale }
            } else {
                // First iteration: a small steepest-descent step.
                let scale = 1 / max(largest(gradient), 1e-12)
                for index in 0..<dimension { direction[index] *= scale }
            }
            for k in 0..<steps.count {
                let beta = curvatures[k] * dot(changes[k], direction)
                let correction = alphas[k] - beta
                steps[k].withUnsafeBufferPointer { s in
                    for index in 0..<dimension { direction[index] += correction * s[index] }
                }
            }
            for index in 0..<dimension { direction[index] = -direction[index] }
            var slope = dot(gradient, direction)
            if slope >= 0 {
                // Not a descent direction (should not happen on a convex objective): restart.
                steps.removeAll()
                changes.removeAll()
                curvatures.removeAll()
                for index in 0..<dimension { direction[index] = -gradient[index] }
                slope = dot(gradient, direction)
            }
            // Backtracking line search with the Armijo condition.
            var stepLength = 1.0
            var candidateValue = 0.0
            var accepted = false
            for _ in 0..<40 {
                for index in 0..<dimension { candidate[index] = x[index] + stepLength * direction[index] }
                candidateValue = objective(candidate, &candidateGradient)
                if candidateValue <= value + 1e-4 * stepLength * slope {
                    accepted = true
                    break
                }
                stepLength *= 0.5
            }
            guard accepted else { break }
            var s = [Double](repeating: 0, count: dimension)
            var y = [Double](repeating: 0, count: dimension)
            for index in 0..<dimension {
                s[index] = candidate[index] - x[index]
                y[index] = candidateGradient[index] - gradient[index]
            }
            let ys = dot(y, s)
            swap(&x, &candidate)
            swap(&gradient, &candidateGradient)
            let previous = value
            value = candidateValue
            if ys > 1e-12 {
                if steps.count == memory {
                    steps.removeFirst()
                    changes.removeFirst()
                    curvatures.removeFirst()
                }
                steps.append(s)
                changes.append(y)
                curvatures.append(1 / ys)
            }
            if abs(previous - value) <= 1e-12 * max(1, abs(value)) { break }
        }
        return Result(point: x, value: value, gradientNorm: largest(gradient), iterations: iteration)
    }
}
