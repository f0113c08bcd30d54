import StewardEngine
import StewardJSON
import StewardTemplates
import Testing

@testable import StewardEval

/// The report's pure figures against values worked out by hand.
@Suite struct HTMLReportFigureTests {
    static let here = StewardTemplates.SourceLocation(file: "test.yaml", line: 1, column: 1)

    /// A case labelled `expected` at `intent.label` that gave `actual` (nil: no value) with
    /// `confidence` at `intent.confidence`.
    static func labelled(
        _ id: String, _ expected: JSONValue?, _ actual: JSONValue?, confidence: Double? = nil, reviewed: Bool = false
    ) -> CaseResult {
        var intent: [String: JSONValue] = [:]
        if let actual { intent["label"] = actual }
        if let confidence { intent["confidence"] = .double(confidence) }
        let expectedValue: JSONValue = expected.map { ["intent": ["label": $0]] } ?? .emptyObject
        return CaseResult(
            id: id, passed: expected == actual, reviewed: reviewed, status: actual == nil ? "failed" : "completed",
            outputs: ["intent": .object(intent)], expected: expectedValue)
    }

    static let confusionCases: [CaseResult] = [
        labelled("1", "A", "A"), labelled("2", "A", "A"), labelled("3", "A", "B"), labelled("4", "B", "B"), labelled("5", "B", nil),
        labelled("6", "C", "A"), labelled("7", 7, "Z"), labelled("8", nil, "A"),
    ]

    @Test func confusionFoldsLabelsBeyondTheTopOnes() throws {
        let matrix = try #require(ReportFigures.confusion(Self.confusionCases, path: "intent.label", top: 2))
        // A (3) and B (2) keep their rows; C and 7 fold. Case 8 is unlabelled and left out.
        #expect(matrix.rows == ["A", "B", "(other labels)"])
        #expect(matrix.columns == ["A", "B", "(other labels)", "(no value)"])
        #expect(matrix.counts == [[2, 1, 0, 0], [0, 1, 0, 1], [1, 0, 1, 0]])
        #expect(matrix.topCount == 2)
        #expect(matrix.total == 7)
        #expect(matrix.maximum == 2)
    }

    @Test func confusionKeepsEveryLabelUnderTheLimitAndOrdersTiesByText() throws {
        let matrix = try #require(ReportFigures.confusion(Self.confusionCases, path: "intent.label", top: 10))
        #expect(matrix.rows == ["A", "B", "7", "C"])
        #expect(matrix.columns == ["A", "B", "7", "C", "(other labels)", "(no value)"])
        #expect(matrix.counts == [[2, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0]])
    }

    @Test func confusionOfUnlabelledCasesIsNil() {
        #expect(ReportFigures.confusion([Self.labelled("x", nil, "A")], path: "intent.label") == nil)
        #expect(ReportFigures.confusion([], path: "intent.label") == nil)
    }

    static let calibrationCases: [CaseResult] = [
        labelled("1", "A", "A", confidence: 0.10), labelled("2", "A", "B", confidence: 0.20), labelled("3", "A", "A", confidence: 0.30),
        labelled("4", "A", "A", confidence: 0.60), labelled("5", "A", "B", confidence: 0.70), labelled("6", "A", "A", confidence: 0.90),
        labelled("7", "A", "A", confidence: 1.00), labelled("8", nil, "A", confidence: 0.5), labelled("9", "A", "A"),
    ]

    @Test func reliabilityBinsAndTheirErrorMatchHandFiguresAndTheMetric() throws {
        let points = ReportFigures.scored(Self.calibrationCases, path: "intent.label", confidence: "intent.confidence")
        // Case 8 is unlabelled, case 9 has no confidence.
        #expect(points.count == 7)
        let bins = ReportFigures.reliability(points, bins: 4)
        #expect(bins.map(\.count) == [2, 1, 2, 2])
        #expect(bins.map(\.correct) == [1, 1, 1, 2])
        #expect(bins.map(\.lower) == [0, 0.25, 0.5, 0.75])
        let accuracy = bins.map(\.accuracy)
        #expect(accuracy == [0.5, 1, 0.5, 1])
        let means = bins.compactMap(\.meanConfidence)
        for (mean, expected) in zip(means, [0.15, 0.30, 0.65, 0.95]) { #expect(abs(mean - expected) < 1e-12) }
        // (2·0.35 + 1·0.70 + 2·0.15 + 2·0.05) / 7 = 1.8 / 7.
        let ece = try #require(ReportFigures.expectedCalibrationError(bins))
        #expect(abs(ece - 1.8 / 7) < 1e-12)
        let metric = EvalMetric(name: "ece", kind: .calibrationError, path: "intent.label", confidence: "intent.confidence", bins: 4, location: Self.here)
        let measured = try #require(MetricEngine.measure(metric, cases: Self.calibrationCases).value)
        #expect(abs(measured - ece) < 1e-12)
    }

    @Test func reliabilityWithoutCasesHasEmptyBinsAndNoError() {
        let bins = ReportFigures.reliability([], bins: 0)
        #expect(bins.count == 1)
        #expect(bins[0].accuracy == nil)
        #expect(ReportFigures.expectedCalibrationError(bins) == nil)
    }

    static let sweep: [ReportFigures.ScoredCase] = [
        .init(confidence: 0.9, correct: true, reviewed: false), .init(confidence: 0.2, correct: false, reviewed: true),
        .init(confidence: 0.5, correct: true, reviewed: false), .init(confidence: 0.8, correct: true, reviewed: false),
        .init(confidence: 0.5, correct: false, reviewed: true),
    ]

    @Test func reviewCurveHasOnePointPerDistinctConfidence() {
        let curve = ReportFigures.reviewCurve(Self.sweep)
        #expect(curve.map(\.threshold) == [0.2, 0.5, 0.8, 0.9])
        #expect(curve.map(\.reviewed) == [0, 1, 3, 4])
        #expect(curve.map(\.automated) == [5, 4, 2, 1])
        #expect(curve.map(\.correct) == [3, 3, 2, 1])
        #expect(curve.map(\.reviewShare) == [0, 0.2, 0.6, 0.8])
        #expect(curve.map(\.accuracy) == [0.6, 0.75, 1, 1])
    }

    @Test func reviewCurvePointAtARateReviewsAtMostThatShare() {
        let curve = ReportFigures.reviewCurve(Self.sweep)
        #expect(ReportFigures.point(curve, atMostReviewing: 0)?.threshold == 0.2)
        #expect(ReportFigures.point(curve, atMostReviewing: 0.5)?.threshold == 0.5)
        #expect(ReportFigures.point(curve, atMostReviewing: 0.6)?.threshold == 0.8)
        #expect(ReportFigures.point(curve, atMostReviewing: 1)?.threshold == 0.9)
        #expect(ReportFigures.point([], atMostReviewing: 0.5) == nil)
    }

    @Test func checkpointPolicyIsTheRunsOwnReviewsOverTheSameCases() throws {
        let policy = try #require(ReportFigures.checkpointPolicy(Self.sweep))
        #expect(policy.reviewShare == 0.4)
        #expect(policy.accuracy == 1)
        #expect(ReportFigures.checkpointPolicy([]) == nil)
        #expect(ReportFigures.reviewCurve([]).isEmpty)
    }

    static func report(run: Int64, finishedAt: Int64, metrics: [MetricResult], customer: String? = "acme") -> EvalRunReport {
        EvalRunReport(
            run: run, passed: true, metrics: metrics, cases: [], template: "triage", version: "1.0.0", templateHash: "t", customer: customer,
            dataset: "golden.jsonl", datasetHash: "d", configHash: "c", bindings: [:], prompts: [:], baseline: nil, startedAt: finishedAt - 1_000,
            finishedAt: finishedAt, trigger: "cli", concurrency: 1, counts: [:])
    }

    static func accuracy(_ value: Double?) -> MetricResult {
        MetricResult(
            name: "accuracy", kind: .accuracy, path: "intent.label", label: nil, value: value, n: 10, ciLow: nil, ciHigh: nil,
            threshold: AppliedThreshold(EvalThreshold()), passed: true)
    }

    static func record(_ id: Int64, at: Int64, template: String = "triage", customer: String? = "acme", accuracy: Double?) -> EvalRunRecord {
        let summary = report(run: id, finishedAt: at, metrics: [Self.accuracy(accuracy)], customer: customer).summaryJSON
        return EvalRunRecord(
            id: id, template: template, templateVersion: "1.0.0", templateHash: "t", customer: customer, dataset: "golden.jsonl", datasetHash: "d",
            passed: true, createdAt: at, trigger: "cli", summary: summary, body: nil)
    }

    @Test func trendKeepsTheTemplatesAndCustomersRunsOldestFirstWithThisRunOnce() {
        let run = Self.report(run: 10, finishedAt: 3_000, metrics: [Self.accuracy(0.9)])
        let history = [
            Self.record(10, at: 3_000, accuracy: 0.1), Self.record(8, at: 2_000, accuracy: nil), Self.record(7, at: 1_000, accuracy: 0.8),
            Self.record(9, at: 2_500, template: "other", accuracy: 0.5), Self.record(11, at: 2_600, customer: nil, accuracy: 0.5),
            Self.record(7, at: 1_000, accuracy: 0.8),
        ]
        let trend = ReportFigures.trend(run, history: history)
        #expect(trend.map(\.id) == [7, 8, 10])
        #expect(trend.map(\.values) == [["accuracy": 0.8], [:], ["accuracy": 0.9]])
        #expect(trend.map(\.isCurrent) == [false, false, true])
        #expect(ReportFigures.trend(run, history: []).map(\.id) == [10])
    }

    @Test func figuresAreWrittenWithFixedDecimalsAndTextIsEscaped() {
        #expect(ReportMarkup.fixed(0.915, 4) == "0.9150")
        #expect(ReportMarkup.fixed(-0.25, 1) == "-0.3")
        #expect(ReportMarkup.fixed(-0.00001, 2) == "0.00")
        #expect(ReportMarkup.fixed(12.5, 0) == "13")
        #expect(ReportMarkup.fixed(3, 2) == "3.00")
        #expect(ReportMarkup.fixed(.nan, 2) == "nan")
        #expect(ReportMarkup.percent(0.315) == "31.5%")
        #expect(ReportMarkup.iso8601(1_740_000_012_500) == "2025-02-19T21:20:12Z")
        #expect(ReportMarkup.escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    }

    @Test func ticksAreRoundAndCoverTheRange() {
        let scale = ReportMarkup.ticks(0.8, 0.9)
        #expect(abs(scale.lower - 0.8) < 1e-12)
        #expect(abs(scale.upper - 0.9) < 1e-12)
        #expect(scale.values.count == 5)
        #expect(scale.decimals == 3)
        let flat = ReportMarkup.ticks(0.5, 0.5)
        #expect(flat.lower < 0.5 && flat.upper > 0.5)
        let unit = ReportMarkup.ticks(0, 1)
        #expect(unit.values == [0, 0.25, 0.5, 0.75, 1])
        #expect(unit.decimals == 2)
    }
}
