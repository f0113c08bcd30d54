import Foundation
import StewardCore
import StewardEngine
import StewardJSON
import StewardReview
import StewardStatistics
import Testing

/// Production accuracy, reviewer agreement and labelled data computed from audit items,
/// against figures worked out by hand.
@Suite struct AuditStatisticsTests {
    static let paths = ["classification.label", "routing.priority"]

    /// A complete (or, with no verdicts, open) item whose instance said `label` and `P3`.
    static func item(
        _ id: Int64, instance: String? = nil, customer: String? = "acme", bindings: [String: String] = ["classifier": "banking-intent@2.0.0"],
        label: String = "x", verdicts: [AuditVerdict], needed: Int? = nil, template: String = "triage"
    ) -> AuditItem {
        AuditItem(
            id: id, instanceID: instance ?? "i-\(id)", template: template, templateVersion: "1.0.0", customer: customer, checkpoint: "review",
            visit: 7, credential: "support-agent",
            items: [AuditedValue(path: paths[0], value: .string(label)), AuditedValue(path: paths[1], value: "P3")], bindings: bindings,
            input: ["text": .string("ticket \(id)")], rate: 0.05, neededReviews: needed ?? max(1, verdicts.count), createdAt: 1_000 + id,
            verdicts: verdicts)
    }

    /// A verdict by `reviewer`: the label correct, or corrected to `label`; the priority correct
    /// unless `priority` corrects it.
    static func verdict(_ reviewer: String, label: String? = nil, priority: String? = nil) -> AuditVerdict {
        AuditVerdict(
            reviewer: reviewer, credential: "support-agent", at: 2_000,
            judgements: [
                AuditJudgement(path: paths[0], correct: label == nil, correction: label.map { .string($0) }),
                AuditJudgement(path: paths[1], correct: priority == nil, correction: priority.map { .string($0) }),
            ])
    }

    @Test func accuracyIsCorrectOverJudgedWithAWilsonIntervalPerPathAndGroup() throws {
        // acme on v2: 10 complete items, the label right in 8, the priority right in 9.
        var items = (1...10).map { index in
            Self.item(Int64(index), verdicts: [Self.verdict("rv-a", label: index <= 2 ? "y" : nil, priority: index == 3 ? "P1" : nil)])
        }
        // acme on v1: 2 items, one right. harbour: 1 item. An open item and another template's item count for nothing.
        items.append(Self.item(11, bindings: ["classifier": "banking-intent@1.0.0"], verdicts: [Self.verdict("rv-a")]))
        items.append(Self.item(12, bindings: ["classifier": "banking-intent@1.0.0"], verdicts: [Self.verdict("rv-a", label: "z")]))
        items.append(Self.item(13, customer: "harbour", verdicts: [Self.verdict("rv-b")]))
        items.append(Self.item(14, verdicts: [], needed: 1))
        items.append(Self.item(15, verdicts: [Self.verdict("rv-a", label: "q")], template: "other"))

        let report = ProductionAccuracy.report(items, template: "triage")
        #expect(report.complete == 13 && report.open == 1)
        #expect(report.groups.map { "\($0.customer ?? "-") \($0.bindings["classifier"] ?? "")" } == [
            "acme banking-intent@1.0.0", "acme banking-intent@2.0.0", "harbour banking-intent@2.0.0",
        ])
        let v2 = report.groups[1]
        #expect(v2.items.map(\.path) == Self.paths)
        let label = v2.items[0].estimate
        #expect(label.correct == 8 && label.n == 10 && label.accuracy == 0.8)
        // Wilson 95% for 8/10: 0.4902 to 0.9433 (as tabulated, e.g. Newcombe 1998).
        #expect(abs(label.interval.low - 0.4902) < 1e-4 && abs(label.interval.high - 0.9433) < 1e-4, "\(label.interval)")
        let priority = v2.items[1].estimate
        #expect(priority.correct == 9 && priority.n == 10)
        #expect(priority.interval == Statistics.wilson(successes: 9, trials: 10))
        // Items 1, 2 and 3 each have one path wrong.
        #expect(v2.allCorrect.correct == 7 && v2.allCorrect.n == 10)
        let v1 = report.groups[0].items[0].estimate
        #expect(v1.correct == 1 && v1.n == 2 && v1.accuracy == 0.5)

        let harbour = ProductionAccuracy.report(items, template: "triage", customer: "harbour")
        #expect(harbour.groups.count == 1 && harbour.complete == 1 && harbour.customer == "harbour")
        let none = ProductionAccuracy.report([], template: "triage")
        #expect(none.groups.isEmpty && none.complete == 0)
        #expect(AccuracyEstimate(correct: 0, n: 0).accuracy == nil && AccuracyEstimate(correct: 0, n: 0).interval == Interval(low: 0, high: 1))
    }

    @Test func aDoubleReviewedItemCountsItsFirstReviewForAccuracy() {
        let items = [
            Self.item(1, verdicts: [Self.verdict("rv-a"), Self.verdict("rv-b", label: "y")]),
            Self.item(2, verdicts: [Self.verdict("rv-b", label: "y"), Self.verdict("rv-a")]),
        ]
        let label = ProductionAccuracy.report(items, template: "triage").groups[0].items[0].estimate
        #expect(label.correct == 1 && label.n == 2, "one first review says correct, the other wrong: \(label)")
    }

    @Test func cohensKappaPerPathAndPairMatchesTheHandComputation() throws {
        // Five double-reviewed items; the instance said "x" each time.
        //   item:      1    2    3    4    5
        //   first:     a:x  a:x  a:y  a:y  c:x
        //   second:    b:x  b:y  b:y  c:y  a:x
        // First against second: p_o = 4/5; p_e = 3/5·2/5 + 2/5·3/5 = 0.48; κ = 0.32 / 0.52.
        let items = [
            Self.item(1, verdicts: [Self.verdict("rv-a"), Self.verdict("rv-b")]),
            Self.item(2, verdicts: [Self.verdict("rv-a"), Self.verdict("rv-b", label: "y")]),
            Self.item(3, verdicts: [Self.verdict("rv-a", label: "y"), Self.verdict("rv-b", label: "y")]),
            Self.item(4, verdicts: [Self.verdict("rv-a", label: "y"), Self.verdict("rv-c", label: "y")]),
            Self.item(5, verdicts: [Self.verdict("rv-c"), Self.verdict("rv-a")]),
            // Single-reviewed and open items are not comparable.
            Self.item(6, verdicts: [Self.verdict("rv-a", label: "y")]),
            Self.item(7, verdicts: [Self.verdict("rv-a")], needed: 2),
        ]
        let report = ReviewerAgreement.report(items, template: "triage")
        #expect(report.doubleReviewed == 5)
        #expect(report.items.map(\.path) == Self.paths)
        let label = report.items[0].agreement
        #expect(label.comparable == 5 && label.agreed == 4)
        #expect(abs((label.kappa ?? 0) - 0.32 / 0.52) < 1e-12, "\(label)")
        // Everyone left the priority as it was: one label only, perfect agreement.
        #expect(report.items[1].agreement == Agreement(kappa: 1, comparable: 5, agreed: 5))

        // Pairs, raters in id order. (a, b) on items 1-3: a = x x y, b = x y y; p_o = 2/3,
        // p_e = 2/3·1/3 + 1/3·2/3 = 4/9, κ = (2/9)/(5/9) = 0.4. (a, c) on items 4-5: a = y x,
        // c = y x: p_o = 1, p_e = 1/2, κ = 1.
        let labelPairs = report.pairs.filter { $0.path == Self.paths[0] }
        #expect(labelPairs.map(\.reviewers) == [["rv-a", "rv-b"], ["rv-a", "rv-c"]])
        #expect(labelPairs[0].agreement.comparable == 3 && labelPairs[0].agreement.agreed == 2)
        #expect(abs((labelPairs[0].agreement.kappa ?? 0) - 0.4) < 1e-12)
        #expect(labelPairs[1].agreement == Agreement(kappa: 1, comparable: 2, agreed: 2))
        #expect(report.pairs.count == 4)
    }

    @Test func differentCorrectionsOfTheSameWrongValueDisagree() {
        let items = [
            Self.item(1, verdicts: [Self.verdict("rv-a", label: "y"), Self.verdict("rv-b", label: "z")]),
            Self.item(2, verdicts: [Self.verdict("rv-a", label: "y"), Self.verdict("rv-b", label: "y")]),
        ]
        let label = ReviewerAgreement.report(items, template: "triage").items[0].agreement
        #expect(label.agreed == 1 && label.comparable == 2)
        #expect(ReviewerAgreement.report([], template: "triage").items.isEmpty)
    }

    @Test func theReportsAreCodableAsDocumented() throws {
        let items = [Self.item(1, verdicts: [Self.verdict("rv-a"), Self.verdict("rv-b", label: "y")])]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let accuracy = try JSONValue.parse(Array(encoder.encode(ProductionAccuracy.report(items, template: "triage"))))
        #expect(accuracy["groups"]?.arrayValue?.first?["all_correct"]?["n"] == 1)
        #expect(accuracy["groups"]?.arrayValue?.first?["items"]?.arrayValue?.first?["estimate"]?["interval"]?["low"] != nil)
        let agreement = try JSONValue.parse(Array(encoder.encode(ReviewerAgreement.report(items, template: "triage"))))
        #expect(agreement["double_reviewed"] == 1)
        #expect(agreement["items"]?.arrayValue?.first?["agreement"]?["comparable"] == 1)
        let decoded = try JSONDecoder().decode(AgreementReport.self, from: encoder.encode(ReviewerAgreement.report(items, template: "triage")))
        #expect(decoded == ReviewerAgreement.report(items, template: "triage"))
    }

    @Test func labelsAreEvalDatasetLinesWithTheRightValueAtNestedPaths() {
        let items = [
            Self.item(1, label: "card_arrival", verdicts: [Self.verdict("rv-a", label: "card_delivery_estimate")]),
            Self.item(2, label: "card_arrival", verdicts: [Self.verdict("rv-a"), Self.verdict("rv-b", label: "lost_or_stolen_card", priority: "P1")]),
            Self.item(3, verdicts: [], needed: 1),
            Self.item(4, instance: "i-1", label: "card_arrival", verdicts: [Self.verdict("rv-a", priority: "P2")]),
        ]
        let lines = AuditLabels.dataset(items)
        #expect(lines == [
            [
                "id": "i-1", "input": ["text": "ticket 1"],
                "expected": ["classification": ["label": "card_delivery_estimate"], "routing": ["priority": "P3"]],
            ],
            // The first review says both were right.
            ["id": "i-2", "input": ["text": "ticket 2"], "expected": ["classification": ["label": "card_arrival"], "routing": ["priority": "P3"]]],
            // A second item of the same instance keeps the id unique.
            [
                "id": "i-1/review/7", "input": ["text": "ticket 4"],
                "expected": ["classification": ["label": "card_arrival"], "routing": ["priority": "P2"]],
            ],
        ])
        #expect(lines.first?.jsonString == #"{"expected":{"classification":{"label":"card_delivery_estimate"},"routing":{"priority":"P3"}},"id":"i-1","input":{"text":"ticket 1"}}"#)
    }
}
