import StewardStatistics
import Testing

/// The figures eval runs and review agreement report, against values computed by hand or
/// published in the literature.
@Suite struct StatisticsTests {
    @Test func wilsonMatchesHandComputedBounds() {
        // 81 of 100: the Wilson 95% interval is [0.7222, 0.8749] (Newcombe 1998's formula).
        let interval = Statistics.wilson(successes: 81, trials: 100)
        #expect(abs(interval.low - 0.7222) < 0.0005, "\(interval)")
        #expect(abs(interval.high - 0.8749) < 0.0005, "\(interval)")
        // Never outside [0, 1], even at the edges, and not degenerate at 0 or n.
        let none = Statistics.wilson(successes: 0, trials: 20)
        #expect(none.low == 0 && none.high > 0.1 && none.high < 0.2, "\(none)")
        let all = Statistics.wilson(successes: 20, trials: 20)
        #expect(all.high == 1 && all.low > 0.8, "\(all)")
        #expect(Statistics.wilson(successes: 0, trials: 0) == Interval(low: 0, high: 1))
    }

    @Test func cohenKappaMatchesATextbookTable() {
        // Two raters, 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o 0.7, p_e 0.5, κ 0.4.
        var pairs: [(String, String)] = []
        pairs += Array(repeating: ("yes", "yes"), count: 20)
        pairs += Array(repeating: ("yes", "no"), count: 5)
        pairs += Array(repeating: ("no", "yes"), count: 10)
        pairs += Array(repeating: ("no", "no"), count: 15)
        let kappa = Statistics.cohenKappa(pairs)
        #expect(kappa.map { abs($0 - 0.4) < 1e-9 } == true, "\(String(describing: kappa))")
        #expect(Statistics.cohenKappa([(String, String)]()) == nil)
        #expect(Statistics.cohenKappa([("a", "a"), ("a", "a")]) == 1)
        // Perfect disagreement on a balanced pair of labels is -1.
        #expect(Statistics.cohenKappa([("a", "b"), ("b", "a")]) == -1)
    }

    @Test func bootstrapIsDeterministicAndCoversTheMean() {
        let values = (0..<200).map { Double($0 % 10) }
        func mean(_ indices: [Int]) -> Double { indices.reduce(0) { $0 + values[$1] } / Double(max(indices.count, 1)) }
        let first = Statistics.bootstrap(count: values.count, seed: 42, statistic: mean)
        let second = Statistics.bootstrap(count: values.count, seed: 42, statistic: mean)
        #expect(first == second)
        #expect(first.contains(4.5) && first.high - first.low < 1.2 && first.high - first.low > 0.3, "\(first)")
    }

    @Test func mcnemarExactPValues() {
        #expect(Statistics.mcnemarExact(onlyFirst: 0, onlySecond: 0) == 1)
        // 10 flips all one way: p = 2 * 0.5^10.
        #expect(abs(Statistics.mcnemarExact(onlyFirst: 10, onlySecond: 0) - 2 * 0.0009765625) < 1e-12)
        // Balanced flips are not significant.
        #expect(Statistics.mcnemarExact(onlyFirst: 5, onlySecond: 5) == 1)
        #expect(Statistics.mcnemarExact(onlyFirst: 30, onlySecond: 10) < 0.01)
    }
}
