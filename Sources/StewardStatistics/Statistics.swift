#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A two-sided confidence interval.
public struct Interval: Sendable, Hashable, Codable {
    /// The lower bound.
    public var low: Double
    /// The upper bound.
    public var high: Double

    /// Creates an interval; `low` must not exceed `high`.
    public init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }

    /// Whether `value` lies inside (bounds included).
    public func contains(_ value: Double) -> Bool { value >= low && value <= high }
}

/// Pure statistics for evaluation and review: intervals, agreement, paired tests. No I/O; every
/// random draw comes from a caller-seeded generator, so the same inputs give the same figures.
public enum Statistics {
    /// The normal quantile for a two-sided 95% interval.
    public static let z95 = 1.959963984540054

    /// The Wilson score interval of a proportion `successes / trials`.
    ///
    /// - Parameters:
    ///   - successes: How many trials succeeded, `0...trials`.
    ///   - trials: How many trials there were; with none, the interval is `[0, 1]`.
    ///   - z: The normal quantile (1.96 for 95%).
    public static func wilson(successes: Int, trials: Int, z: Double = z95) -> Interval {
        guard trials > 0 else { return Interval(low: 0, high: 1) }
        let n = Double(trials)
        let p = Double(successes) / n
        let z2 = z * z
        let denominator = 1 + z2 / n
        let centre = (p + z2 / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denominator
        return Interval(low: max(0, centre - half), high: min(1, centre + half))
    }

    /// A percentile bootstrap interval of `statistic` over `count` items: `resamples` draws
    /// of `count` indices with replacement, the statistic of each, and the 2.5th and 97.5th
    /// percentiles. Deterministic for a given `seed`.
    ///
    /// - Parameters:
    ///   - count: How many items there are; with none, the interval is the statistic of none, twice.
    ///   - resamples: How many draws (1,000 is plenty for a 95% interval).
    ///   - seed: Seeds the generator.
    ///   - statistic: Computes the statistic from a multiset of item indices (each `0..<count`).
    public static func bootstrap(
        count: Int, resamples: Int = 1_000, seed: UInt64 = 0x5EED_5EED, statistic: ([Int]) -> Double
    ) -> Interval {
        guard count > 0, resamples > 0 else {
            let value = statistic([])
            return Interval(low: value, high: value)
        }
        var generator = SplitMix64(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var indices = [Int](repeating: 0, count: count)
        for _ in 0..<resamples {
            for position in 0..<count { indices[position] = Int(generator.next() % UInt64(count)) }
            let value = statistic(indices)
            if value.isFinite { values.append(value) }
        }
        guard !values.isEmpty else { return Interval(low: .nan, high: .nan) }
        values.sort()
        return Interval(low: percentile(values, 0.025), high: percentile(values, 0.975))
    }

    /// The `q` quantile (0...1) of sorted `values`, by linear interpolation.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    /// Cohen's κ of two raters over the same items: `(p_o - p_e) / (1 - p_e)`, where `p_o` is
    /// the observed agreement and `p_e` the agreement expected by chance from each rater's
    /// label frequencies.
    ///
    /// - Parameter pairs: One `(first rater's label, second rater's label)` per item.
    /// - Returns: κ, 1 when both raters always gave the same single label (no chance to
    ///   disagree), or nil for no items.
    public static func cohenKappa<Label: Hashable>(_ pairs: [(Label, Label)]) -> Double? {
        guard !pairs.isEmpty else { return nil }
        let n = Double(pairs.count)
        var agreed = 0
        var first: [Label: Int] = [:]
        var second: [Label: Int] = [:]
        for (a, b) in pairs {
            if a == b { agreed += 1 }
            first[a, default: 0] += 1
            second[b, default: 0] += 1
        }
        let observed = Double(agreed) / n
        var expected = 0.0
        for (label, count) in first { expected += Double(count) / n * Double(second[label] ?? 0) / n }
        if expected >= 1 { return observed >= 1 ? 1 : 0 }
        return (observed - expected) / (1 - expected)
    }

    /// McNemar's exact test of paired binary outcomes: the two-sided binomial p-value of
    /// `b` cases that only the first run got right against `c` that only the second did.
    /// 1 when no case flipped.
    public static func mcnemarExact(onlyFirst b: Int, onlySecond c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        let k = min(b, c)
        // P(X <= k) for X ~ Binomial(n, 1/2), in log space so large n does not underflow.
        var tail = 0.0
        for i in 0...k { tail += exp(logChoose(n, i) - Double(n) * log(2.0)) }
        return min(1, 2 * tail)
    }

    /// ln(n choose k).
    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n) + 1) - lgamma(Double(k) + 1) - lgamma(Double(n - k) + 1)
    }
}

/// SplitMix64: a small, fast, seedable generator (Steele, Lea and Flood, 2014). Used where a
/// figure must be reproducible from its seed; not for secrets.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
