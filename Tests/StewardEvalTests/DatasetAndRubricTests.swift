import Foundation
import StewardEval
import StewardJSON
import StewardTemplates
import StewardTesting
import Testing

/// Golden datasets and rubrics are operator input: every mistake gets file and line.
@Suite struct DatasetAndRubricTests {
    @Test func aWellFormedDatasetParsesAndHashesItsBytes() throws {
        let text = """
            {"id": "a", "input": {"text": "hi"}, "expected": {"classification": {"label": "x"}}}

            {"id": 7, "input": {"text": "no label"}}\r
            """
        let dataset = try EvalDataset.parse(Data(text.utf8), file: "golden.jsonl")
        #expect(dataset.cases.map(\.id) == ["a", "7"])
        #expect(dataset.cases.map(\.line) == [1, 3])
        #expect(dataset.cases[1].expected == .emptyObject)
        #expect(dataset.hash.count == 64)
        let again = try EvalDataset.parse(Data(text.utf8), file: "golden.jsonl")
        #expect(again.hash == dataset.hash)
    }

    @Test func badLinesAreReportedWithFileAndLine() {
        let text = """
            {"id": "a", "input": {}}
            {"id": "b", "input": {"text": "x"}
            ["not", "an", "object"]
            {"input": {}}
            {"id": "a", "input": {}}
            {"id": "c", "input": "text"}
            {"id": "d", "input": {}, "expected": [1]}
            """
        do {
            _ = try EvalDataset.parse(Data(text.utf8), file: "evals/t/golden.jsonl")
            Issue.record("a malformed dataset parsed")
        } catch {
            let lines = error.problems.map(\.description)
            #expect(lines.count == 6, "\(lines)")
            #expect(lines[0].hasPrefix("evals/t/golden.jsonl:2: error: not JSON"), "\(lines[0])")
            #expect(lines[1] == "evals/t/golden.jsonl:3: error: expected a JSON object {\"id\", \"input\", \"expected\"}, found array")
            #expect(lines[2] == "evals/t/golden.jsonl:4: error: missing \"id\"; expected a non-empty string")
            #expect(lines[3] == "evals/t/golden.jsonl:5: error: duplicate id 'a' (first on line 1); expected each id once")
            #expect(lines[4] == "evals/t/golden.jsonl:6: error: \"input\" of case 'c' must be an object, found string")
            #expect(lines[5].hasPrefix("evals/t/golden.jsonl:7: error: \"expected\" of case 'd' must be an object"), "\(lines[5])")
        }
    }

    @Test func anEmptyOrMissingDatasetIsRefused() {
        #expect(throws: DatasetError.self) { try EvalDataset.parse(Data("\n\n".utf8), file: "empty.jsonl") }
        #expect(throws: DatasetError.self) { try EvalDataset.load(path: "/nonexistent/golden.jsonl") }
    }

    static let rubricBody = """
        plugins: []
        models: {judge: some-judge@1.0.0}
        eval:
          cadence: "*/30 9-17 * * 1-5"
          dataset: evals/test-template/golden.jsonl
          metrics:
            - {name: accuracy, kind: accuracy, path: input.label, min: 0.8, max_drop: 0.02}
            - {name: p1_recall, kind: recall, path: input.priority, label: P1, min: 0.9}
            - {name: ece, kind: calibration_error, path: input.label, confidence: input.confidence, max: 0.1}
            - {name: reviews, kind: review_rate, max: 0.5}
            - {name: quality, kind: judge, role: judge, path: input.text, rubric: "Is it polite?", min: 0.6, min_kappa: 0.5}
        start: done
        states:
          done: {kind: end}
        """

    @Test func theRubricParses() throws {
        let plan = try TestPlans.plan(Self.rubricBody)
        let rubric = try #require(plan.template.eval)
        #expect(rubric.metrics.map(\.name) == ["accuracy", "p1_recall", "ece", "reviews", "quality"])
        #expect(rubric.metrics[1].label == "P1")
        #expect(rubric.metrics[2].bins == 10)
        #expect(rubric.metrics[4].minimumKappa == 0.5)
        #expect(rubric.metrics[0].threshold == EvalThreshold(minimum: 0.8, maximum: nil, maxDrop: 0.02))
        #expect(rubric.cadence?.description == "*/30 9-17 * * 1-5")
        #expect(rubric.dataset == "evals/test-template/golden.jsonl")
    }

    @Test func rubricMistakesAreLocated() {
        let body = """
            plugins: []
            eval:
              cadence: fortnightly
              metrics:
                - {name: a, kind: acuracy, path: x}
                - {name: b, kind: recall, path: x}
                - {name: c, kind: accuracy, path: x, min: 0.9, max: 0.5}
                - {name: d, kind: judge, role: grader, path: x, rubric: r}
                - {name: e, kind: review_rate, path: x}
                - {name: c, kind: accuracy, path: y}
                - {name: f, kind: accuracy, path: y, min: 90}
            start: done
            states:
              done: {kind: end}
            """
        do {
            _ = try TestPlans.plan(body)
            Issue.record("a broken rubric parsed")
        } catch {
            let messages = error.diagnostics.map(\.description)
            func has(_ line: Int, _ fragment: String) -> Bool { messages.contains { $0.hasPrefix("test-template.yaml:\(line):") && $0.contains(fragment) } }
            #expect(has(15, "invalid cadence: expected 'daily', 'weekly', 'monthly' or a cron expression"), "\(messages)")
            #expect(has(17, "unknown metric kind 'acuracy' in metric 'a' (did you mean 'accuracy'?)"), "\(messages)")
            #expect(has(18, "missing 'label' in metric 'b'"), "\(messages)")
            #expect(has(19, "'max' 0.5 of metric 'c' is below its 'min' 0.9"), "\(messages)")
            #expect(has(20, "judge role 'grader' of metric 'd' is not a model role of the template"), "\(messages)")
            #expect(has(21, "'path' does not apply to a review_rate metric"), "\(messages)")
            #expect(has(22, "duplicate metric name 'c'"), "\(messages)")
            #expect(has(23, "'min' of metric 'f' is 90.0; every metric is a share or a score in [0, 1]"), "\(messages)")
        }
    }

    @Test func anOverlayMayOnlyTightenGates() throws {
        let template = try TestPlans.plan(Self.rubricBody).template
        let overlay = try TemplateParser.parseOverlay(
            """
            customer: acme
            templates:
              test-template:
                eval:
                  cadence: daily
                  metrics:
                    accuracy: {min: 0.7}
                    p1_recall: {min: 0.95}
                    nonsense: {min: 0.5}
            """, file: "acme.yaml")
        let problems = TemplateParser.validate(overlay, against: ["test-template": template]).map(\.description)
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("acme.yaml:7:") && $0.contains("may only tighten the gate of metric 'accuracy': min 0.7 is below the template's 0.8") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("acme.yaml:9:") && $0.contains("unknown metric 'nonsense'") }, "\(problems)")
        let tightened = try #require(template.eval).applying(overlay.templates["test-template"]?.eval)
        #expect(tightened.metric(named: "p1_recall")?.threshold.minimum == 0.95)
        #expect(tightened.metric(named: "accuracy")?.threshold.maxDrop == 0.02)
        #expect(tightened.cadence == .daily)
    }

    @Test func cronSchedulesFindTheirNextMinuteInUTC() throws {
        // 2026-12-02 is a Wednesday; 10:07:30 UTC.
        let wednesday: Int64 = 1_796_206_050_000
        let weekly = EvalCadence.weekly.schedule
        // The next Monday 00:00 UTC is 2026-12-07.
        #expect(weekly.next(after: wednesday) == 1_796_601_600_000)
        let everyQuarter = try CronSchedule(parsing: "*/15 * * * *")
        #expect(everyQuarter.next(after: wednesday) == 1_796_206_500_000)  // 10:15
        let monthly = EvalCadence.monthly.schedule
        #expect(monthly.next(after: wednesday) == 1_798_761_600_000)  // 2027-01-01
        #expect(try CronSchedule(parsing: "0 0 30 2 *").next(after: wednesday) == nil)
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(parsing: "61 * * * *") }
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(parsing: "* * *") }
        // Exactly on a due minute, the next one is strictly later.
        #expect(everyQuarter.next(after: 1_796_206_500_000) == 1_796_207_400_000)
    }
}
