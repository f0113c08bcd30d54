import StewardEval
import StewardJSON
import StewardStatistics
import StewardTemplates
import Testing

/// Metric values against figures computed by hand, and gates that must fail.
@Suite struct MetricTests {
    static let here = SourceLocation(file: "t.yaml", line: 1, column: 1)

    static func metric(_ name: String, _ kind: EvalMetric.Kind, path: String? = "label", label: JSONValue? = nil, confidence: String? = nil,
        tolerance: Double? = nil, threshold: EvalThreshold = EvalThreshold()) -> EvalMetric {
        EvalMetric(name: name, kind: kind, path: path, label: label, confidence: confidence, tolerance: tolerance, threshold: threshold, location: here)
    }

    static func result(_ id: String, actual: JSONValue?, expected: JSONValue?, confidence: Double? = nil, reviewed: Bool = false) -> CaseResult {
        var outputs: [String: JSONValue] = [:]
        if let actual { outputs["label"] = actual }
        if let confidence { outputs["confidence"] = .double(confidence) }
        return CaseResult(
            id: id, passed: false, reviewed: reviewed, status: "completed", outputs: .object(outputs),
            expected: expected.map { ["label": $0] } ?? .emptyObject)
    }

    /// 10 cases: expected a,a,a,a,b,b,b,c,c,(none); actual a,a,a,b,b,b,a,c,a,a.
    static let cases: [CaseResult] = {
        let expected: [JSONValue?] = ["a", "a", "a", "a", "b", "b", "b", "c", "c", nil]
        let actual: [JSONValue] = ["a", "a", "a", "b", "b", "b", "a", "c", "a", "a"]
        let confidence = [0.95, 0.9, 0.85, 0.6, 0.9, 0.8, 0.55, 0.7, 0.65, 0.5]
        return (0..<10).map { result("c\($0)", actual: actual[$0], expected: expected[$0], confidence: confidence[$0], reviewed: confidence[$0] < 0.7) }
    }()

    @Test func proportionsCountOnlyLabelledCases() {
        let accuracy = MetricEngine.measure(Self.metric("acc", .accuracy), cases: Self.cases)
        #expect(accuracy.n == 9)
        #expect(accuracy.value == 6.0 / 9)
        let wilson = Statistics.wilson(successes: 6, trials: 9)
        #expect(accuracy.ciLow == wilson.low && accuracy.ciHigh == wilson.high)
        // Recall of "a": 3 of the 4 expected a's.
        #expect(MetricEngine.measure(Self.metric("r", .recall, label: "a"), cases: Self.cases).value == 0.75)
        // Precision of "a": labelled cases answered a are c0, c1, c2, c6, c8 -> 3 right of 5.
        let precision = MetricEngine.measure(Self.metric("p", .precision, label: "a"), cases: Self.cases)
        #expect(precision.n == 5 && precision.value == 0.6)
        // Review rate counts every case, labelled or not: confidences below 0.7 are c3, c6, c8, c9.
        let reviews = MetricEngine.measure(Self.metric("rr", .reviewRate, path: nil), cases: Self.cases)
        #expect(reviews.n == 10 && reviews.value == 0.4)
    }

    @Test func macroF1MatchesAHandComputation() throws {
        // Labels a: tp 3, fp 2, fn 1 -> 6/9; b: tp 2, fp 1, fn 1 -> 4/6; c: tp 1, fp 0, fn 1 -> 2/3.
        let f1 = MetricEngine.measure(Self.metric("f1", .macroF1), cases: Self.cases)
        let expected = (6.0 / 9 + 4.0 / 6 + 2.0 / 3) / 3
        #expect(abs(try #require(f1.value) - expected) < 1e-12)
        #expect(f1.n == 9)
        #expect(try #require(f1.ciLow) <= expected && expected <= (try #require(f1.ciHigh)))
    }

    @Test func calibrationErrorMatchesAHandComputation() throws {
        // Labelled cases by 10 bins: [0.5,0.6): c6 (0.55 wrong) -> |0 - 0.55| * 1;
        // [0.6,0.7): c3 (0.6 wrong), c8 (0.65 wrong) -> |0 - 0.625| * 2; [0.7,0.8): c7 (0.7 right) -> 0.3;
        // [0.8,0.9): c2 (0.85 right), c5 (0.8 right) -> |1 - 0.825| * 2; [0.9,1]: c0, c1, c4 right -> |1 - 0.91667| * 3.
        let ece = MetricEngine.measure(Self.metric("ece", .calibrationError, confidence: "confidence"), cases: Self.cases)
        let expected = (0.55 + 0.625 * 2 + 0.3 + 0.175 * 2 + (1 - 2.75 / 3) * 3) / 9
        #expect(abs(try #require(ece.value) - expected) < 1e-9, "\(String(describing: ece.value)) vs \(expected)")
    }

    @Test func numericToleranceAndExactMatch() {
        let numbers = [
            CaseResult(id: "1", passed: false, reviewed: false, status: "completed", outputs: ["risk": 0.51], expected: ["risk": 0.5]),
            CaseResult(id: "2", passed: false, reviewed: false, status: "completed", outputs: ["risk": 0.7], expected: ["risk": 0.5]),
            CaseResult(id: "3", passed: false, reviewed: false, status: "failed", outputs: .emptyObject, expected: ["risk": 0.5]),
        ]
        let tolerance = MetricEngine.measure(Self.metric("t", .numericTolerance, path: "risk", tolerance: 0.02), cases: numbers)
        #expect(tolerance.n == 3 && tolerance.value == 1.0 / 3)
        let objects = [
            CaseResult(id: "1", passed: false, reviewed: false, status: "completed", outputs: ["r": ["q": "a", "p": 1]], expected: ["r": ["p": 1.0, "q": "a"]]),
            CaseResult(id: "2", passed: false, reviewed: false, status: "completed", outputs: ["r": ["q": "a", "p": 1, "x": true]], expected: ["r": ["p": 1, "q": "a"]]),
        ]
        #expect(MetricEngine.measure(Self.metric("e", .exactMatch, path: "r"), cases: objects).value == 0.5)
    }

    @Test func gatesFailBelowMinAboveMaxAndOnADropAgainstTheBaseline() {
        let rubric = EvalRubric(
            metrics: [
                Self.metric("acc", .accuracy, threshold: EvalThreshold(minimum: 0.7)),
                Self.metric("rr", .reviewRate, path: nil, threshold: EvalThreshold(maximum: 0.3)),
                Self.metric("recall", .recall, label: "a", threshold: EvalThreshold(maxDrop: 0.05)),
                Self.metric("unlabelled", .accuracy, path: "nothing", threshold: EvalThreshold(minimum: 0.1)),
                Self.metric("free", .accuracy),
            ], cadence: nil, dataset: nil, location: Self.here)
        let results = MetricEngine.evaluate(rubric, cases: Self.cases, baseline: ["recall": 0.85, "rr": 0.1])
        let byName = Dictionary(uniqueKeysWithValues: results.map { ($0.name, $0) })
        #expect(byName["acc"]?.passed == false)
        #expect(byName["acc"]?.note?.contains("below min 0.7") == true)
        #expect(byName["rr"]?.passed == false)
        #expect(byName["rr"]?.threshold.baseline == 0.1)
        #expect(byName["recall"]?.passed == false, "0.75 is 0.10 below the baseline's 0.85")
        #expect(byName["unlabelled"]?.n == 0 && byName["unlabelled"]?.counted == false, "a path no case labels does not decide the verdict")
        #expect(byName["free"]?.passed == true)
        let noBaseline = MetricEngine.evaluate(rubric, cases: Self.cases)
        #expect(noBaseline.first { $0.name == "recall" }?.passed == true)
        #expect(noBaseline.first { $0.name == "recall" }?.note == "max_drop not applied: no baseline run")
    }

    @Test func calibrationFindsTheSmallestHumanShareThatKeepsTheTarget() throws {
        // Sorted by confidence: 0.5 x, 0.55 x, 0.6 x, 0.65 x, 0.7 ok, 0.8 ok, 0.85 ok, 0.9 ok, 0.9 ok, 0.95 ok.
        let points: [(confidence: Double, correct: Bool)] = [
            (0.95, true), (0.9, true), (0.85, true), (0.6, false), (0.9, true), (0.8, true), (0.55, false), (0.7, true), (0.65, false), (0.5, false),
        ]
        let calibration = ThresholdCalibration(points: points, target: 1.0)
        let chosen = try #require(calibration.chosen)
        #expect(chosen.threshold == 0.7 && chosen.humanShare == 0.4 && chosen.autoCases == 6 && chosen.autoAccuracy == 1)
        let looser = try #require(ThresholdCalibration(points: points, target: 0.8).chosen)
        // Sending only 0.5 and 0.55 leaves 6 of 8 right (0.75); sending 0.6 too, 6 of 7 (0.857).
        #expect(looser.threshold == 0.65 && looser.autoCases == 7)
        // Ten cases cannot put a Wilson lower bound at 0.9: nothing is proposed.
        #expect(ThresholdCalibration(points: points, target: 0.9, conservative: true).chosen == nil)
        #expect(calibration.table.contains { $0.threshold == 0.5 && $0.humanShare == 0 })
        let proposal = try #require(calibration.overlayProposal(template: "t", customer: "acme", key: "review_threshold", run: 3))
        #expect(proposal.contains("customer: acme") && proposal.contains("review_threshold: 0.7") && proposal.contains("Not applied"))
    }
}
