import Foundation
import StewardEngine
import StewardJSON
import StewardTemplates
import Testing

@testable import StewardEval

/// A realistic eval run built in code: 200 cases of an intent classifier over 12 labels with
/// confidences, a calibration metric, and three earlier runs.
enum ReportFixture {
    static let here = StewardTemplates.SourceLocation(file: "workflows/bank-triage.yaml", line: 1, column: 1)
    /// Labels and how many cases expect each (200 in all); `limits` and `statement` tie at 10,
    /// so `statement` and `kyc` fold into "other" in a top-10 matrix.
    static let labels: [(String, Int)] = [
        ("card_lost", 30), ("billing", 25), ("fraud", 22), ("loan", 20), ("transfer", 18), ("account", 16), ("atm", 15), ("refund", 14),
        ("pin", 12), ("limits", 10), ("statement", 10), ("kyc", 8),
    ]
    static let failedIndices: Set<Int> = [17, 93, 151]
    static let hostileError = "adapter said <script>alert('x')</script> & quit"

    static let rubric = EvalRubric(
        metrics: [
            EvalMetric(name: "intent_accuracy", kind: .accuracy, path: "intent.label", threshold: EvalThreshold(minimum: 0.7, maxDrop: 0.05), location: here),
            EvalMetric(name: "intent_macro_f1", kind: .macroF1, path: "intent.label", threshold: EvalThreshold(minimum: 0.5), location: here),
            EvalMetric(name: "fraud_recall", kind: .recall, path: "intent.label", label: "fraud", location: here),
            EvalMetric(
                name: "intent_ece", kind: .calibrationError, path: "intent.label", confidence: "intent.confidence", bins: 10,
                threshold: EvalThreshold(maximum: 0.15), location: here),
            EvalMetric(name: "review_rate", kind: .reviewRate, path: nil, threshold: EvalThreshold(maximum: 0.6), location: here),
        ],
        cadence: nil, dataset: nil, location: here)

    /// SplitMix64: a seeded generator so the fixture is the same on every run.
    struct Generator {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
    }

    static let cases: [CaseResult] = {
        var generator = Generator(state: 42)
        let expectedLabels = labels.flatMap { label, count in Array(repeating: label, count: count) }
        return expectedLabels.enumerated().map { index, label in
            let confidence = ((0.3 + 0.7 * generator.next()) * 1000).rounded() / 1000
            let correct = generator.next() < confidence * 0.95 + 0.03
            let id = String(format: "case-%03d", index)
            let expected: JSONValue = ["intent": ["label": .string(label)]]
            let reviewed = confidence < 0.55
            if failedIndices.contains(index) {
                return CaseResult(
                    id: id, passed: false, reviewed: false, status: "failed", error: hostileError, outputs: .emptyObject, expected: expected)
            }
            let labelIndex = labels.firstIndex { $0.0 == label } ?? 0
            let actual = correct ? label : labels[(labelIndex + 1) % labels.count].0
            var result = CaseResult(
                id: id, passed: false, reviewed: reviewed, status: "completed",
                outputs: ["intent": ["label": .string(actual), "confidence": .double(confidence)]], expected: expected,
                checkpoints: reviewed ? ["confirm_intent"] : [])
            result.passed = MetricEngine.casePasses(result, rubric: rubric)
            return result
        }
    }()

    static let startedAt: Int64 = 1_740_000_000_000

    static func report(run: Int64 = 42, cases: [CaseResult] = cases, rubric: EvalRubric = rubric, baseline: Double? = 0.8) -> EvalRunReport {
        let metrics = MetricEngine.evaluate(rubric, cases: cases, baseline: baseline.map { ["intent_accuracy": $0] })
        return EvalRunReport(
            run: run, passed: metrics.allSatisfy { $0.passed || !$0.counted }, metrics: metrics, cases: cases, template: "bank-triage",
            version: "1.4.0", templateHash: "9f2c4e1a7b3d5f60a1b2c3d4e5f60718", customer: "acme & co", dataset: "evals/bank-triage/golden.jsonl",
            datasetHash: "3b7e0c9d1f2a4b6c8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e", configHash: "c0ffee0123456789abcdef0123456789",
            bindings: ["classifier": "banking-intent@1.0.0"], prompts: ["bank/intent@3": "aa11bb22cc33dd44"], baseline: baseline == nil ? nil : 41,
            startedAt: startedAt, finishedAt: startedAt + 12_500, trigger: "cli", concurrency: 16,
            counts: [
                "cases": cases.count, "passed": cases.filter(\.passed).count, "completed": cases.filter { $0.status == "completed" }.count,
                "failed": cases.filter { $0.status == "failed" }.count, "reviewed": cases.filter(\.reviewed).count,
            ])
    }

    /// Three earlier runs of the same template and customer: each metric `offsets[i]` lower
    /// (calibration error and review rate higher); the oldest on another dataset.
    static func history(of run: EvalRunReport) -> [EvalRunRecord] {
        let offsets: [Double] = [0.08, 0.05, 0.02]
        return offsets.enumerated().map { index, offset in
            var earlier = run
            earlier.run = Int64(39 + index)
            earlier.finishedAt = run.finishedAt - Int64(3 - index) * 86_400_000
            earlier.datasetHash = index == 0 ? "0000aaaa" + run.datasetHash.dropFirst(8) : run.datasetHash
            earlier.metrics = run.metrics.map { metric in
                var shifted = metric
                shifted.value = metric.value.map { min(max($0 + (metric.kind.higherIsBetter ? -offset : offset), 0), 1) }
                return shifted
            }
            return EvalRunRecord(
                id: earlier.run, template: earlier.template, templateVersion: earlier.version, templateHash: earlier.templateHash,
                customer: earlier.customer, dataset: earlier.dataset, datasetHash: earlier.datasetHash, passed: true, createdAt: earlier.finishedAt,
                trigger: "schedule", summary: earlier.summaryJSON, body: nil)
        }
    }

    /// The metric's value as the report writes it (four decimals), computed independently.
    static func figure(_ run: EvalRunReport, _ name: String) -> String {
        String(format: "%.4f", run.metrics.first { $0.name == name }?.value ?? .nan)
    }
}

/// Rendering without a browser: self-contained, escaped, every section present, and every
/// chart sensible with little or no data.
@Suite struct HTMLReportTests {
    static func expectSelfContained(_ html: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        for forbidden in ["http://", "https://", "src=", "<link", "url(", "@import", "<script", "<img", "<iframe", "nan,", "\"nan\"", "inf\""] {
            #expect(!html.contains(forbidden), "the report contains \(forbidden)", sourceLocation: sourceLocation)
        }
    }

    @Test func rendersTheRunsKeyNumbersInOneSelfContainedPage() {
        let run = ReportFixture.report()
        let html = HTMLReport.render(run, history: ReportFixture.history(of: run), rubric: ReportFixture.rubric)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        Self.expectSelfContained(html)
        for text in [
            "bank-triage@1.4.0", run.passed ? "PASSED" : "FAILED", "#42", "acme &amp; co", "sha256 3b7e0c9d1f2a", "banking-intent@1.0.0",
            "2025-02-19T21:20:12Z", "200 (", "16.0 cases/s", "c0ffee0123456789abcdef0123456789",
            ReportFixture.figure(run, "intent_accuracy"), ReportFixture.figure(run, "intent_ece"), ReportFixture.figure(run, "review_rate"),
            "max_drop 0.0500 · baseline 0.8000", "min 0.7000", "max 0.1500",
            "Metric trend over past runs", "4 runs of bank-triage", ">#39<", ">#40<", ">#41<", ">#42<",
            "Confusion matrix of the top labels", "(other labels)", "Reliability diagram", "ECE (intent_ece) = ", "Review rate against accuracy",
            "this run reviewed", "Failed cases", "adapter said &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; quit",
        ] {
            #expect(html.contains(text), "missing \(text)")
        }
        // One trend chart per metric, the reliability diagram and the review curve.
        #expect(html.components(separatedBy: "<svg").count - 1 == run.metrics.count + 2)
        // The matrix's diagonal cell of the most frequent label holds its correct cases.
        let correctCardLost = run.cases.filter { $0.expectedValue(at: "intent.label") == "card_lost" && $0.output(at: "intent.label") == "card_lost" }.count
        #expect(html.contains("expected card_lost, actual card_lost: \(correctCardLost)\">\(correctCardLost)</td>"))
        // The failed cases are listed: the three that failed and those that gave a wrong label.
        let failed = run.cases.filter { !$0.passed }
        #expect(html.contains("\(failed.count) of 200 cases did not pass"))
        #expect(html.contains("<code>case-017</code>"))
    }

    @Test func rendersTheSameBytesEveryTime() {
        let run = ReportFixture.report()
        let history = ReportFixture.history(of: run)
        #expect(HTMLReport.render(run, history: history, rubric: ReportFixture.rubric) == HTMLReport.render(run, history: history.reversed(), rubric: ReportFixture.rubric))
    }

    @Test func rendersWithNoHistoryOneHistoryRunAndNoRubric() {
        let run = ReportFixture.report()
        let alone = HTMLReport.render(run, history: [], rubric: ReportFixture.rubric)
        Self.expectSelfContained(alone)
        #expect(alone.contains("Only this run of bank-triage"))
        let one = HTMLReport.render(run, history: Array(ReportFixture.history(of: run).suffix(1)), rubric: ReportFixture.rubric)
        Self.expectSelfContained(one)
        #expect(one.contains("2 runs of bank-triage"))
        let noRubric = HTMLReport.render(run, history: [], rubric: nil)
        Self.expectSelfContained(noRubric)
        #expect(noRubric.contains("The rubric was not given"))
        #expect(noRubric.contains("ECE (intent_ece) = \(ReportFixture.figure(run, "intent_ece"))"))
        #expect(noRubric.contains("Confusion matrix of the top labels</h2>\n<p class=\"caption\">"))
    }

    @Test func rendersWithoutACalibrationMetric() {
        let rubric = EvalRubric(metrics: ReportFixture.rubric.metrics.filter { $0.kind != .calibrationError }, cadence: nil, dataset: nil, location: ReportFixture.here)
        let run = ReportFixture.report(rubric: rubric)
        let html = HTMLReport.render(run, history: ReportFixture.history(of: run), rubric: rubric)
        Self.expectSelfContained(html)
        #expect(html.contains("No calibration_error metric in this run"))
        #expect(html.contains("The curve is left out."))
        #expect(html.components(separatedBy: "<svg").count - 1 == run.metrics.count)
    }

    @Test func rendersWithoutLabelledCases() {
        let unlabelled = ReportFixture.cases.map { c in
            var copy = c
            copy.expected = .emptyObject
            return copy
        }
        let run = ReportFixture.report(cases: unlabelled, baseline: nil)
        let html = HTMLReport.render(run, history: [], rubric: ReportFixture.rubric)
        Self.expectSelfContained(html)
        #expect(html.contains("No case is labelled at <code>intent.label</code> (metric intent_accuracy)."))
        #expect(html.contains("No case is labelled at <code>intent.label</code> with a number at <code>intent.confidence</code>."))
        #expect(html.contains("No run has a value for this metric."))
    }

    @Test func rendersARunGivenWithoutItsCases() throws {
        var summary = try #require(ReportFixture.report().summaryJSON.objectValue)
        summary["cases"] = []
        let run = try EvalRunReport(json: .object(summary))
        let html = HTMLReport.render(run, history: [], rubric: ReportFixture.rubric)
        Self.expectSelfContained(html)
        #expect(html.contains("The run was given without its cases"))
        #expect(html.contains("200 ("))
        #expect(html.contains(ReportFixture.figure(run, "intent_accuracy")))
    }
}
