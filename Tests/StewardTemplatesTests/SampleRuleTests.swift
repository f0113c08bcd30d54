import Testing

@testable import StewardTemplates

/// `sample:` on a checkpoint and a customer's `templates.<name>.sample` override: parsed,
/// validated, every mistake located.
@Suite("Audit sampling rules")
struct SampleRuleTests {
    /// A model, a conditional checkpoint carrying `sample` on line 15 (its value at column 13),
    /// and an end. `when` may be replaced to test a checkpoint without one.
    static func text(sample: String, when: String = "  when: draft.confidence < 0.9") -> String {
        templateText(
            states: """
                draft: {kind: model, role: writer, task: classify, next: review}
                review:
                  kind: checkpoint
                  credential: support-agent
                \(when)
                  decisions: {approve: done}
                  sample: \(sample)
                done: {kind: end}
                """, touchpoints: "[review, when the classifier is unsure]")
    }

    @Test("a valid rule is parsed with its rates, items and credential")
    func valid() throws {
        let template = try TemplateParser.parse(
            Self.text(sample: "{rate: 0.05, double_review: 0.2, items: [draft.label, draft.confidence]}"), file: "sample.yaml")
        guard case .checkpoint(let review) = template.state(named: "review")?.kind else { throw Failure("review") }
        let rule = try #require(review.sample)
        #expect(rule.rate == 0.05)
        #expect(rule.doubleReview == 0.2)
        #expect(rule.items == ["draft.label", "draft.confidence"])
        #expect(rule.credential == nil)
        #expect(rule.location == SourceLocation(file: "sample.yaml", line: 15, column: 13))
        #expect(rule.itemLocations.map(\.column) == [54, 67])
        _ = try Plan(validating: template, catalog: shippedCatalog)

        let other = try TemplateParser.parse(Self.text(sample: "{rate: 1, items: [draft.label], credential: auditor}"), file: "sample.yaml")
        guard case .checkpoint(let second) = other.state(named: "review")?.kind else { throw Failure("review") }
        #expect(second.sample == SampleRule(
            rate: 1, doubleReview: 0, items: ["draft.label"], credential: "auditor",
            location: SourceLocation(file: "sample.yaml", line: 15, column: 13),
            itemLocations: [SourceLocation(file: "sample.yaml", line: 15, column: 31)]))
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let name: String
        let sample: String
        var when = "  when: draft.confidence < 0.9"
        let line: Int
        let column: Int
        let message: String
        var testDescription: String { name }
    }

    static let bad: [BadCase] = [
        BadCase(
            name: "a rate above 1", sample: "{rate: 1.5, items: [draft.label]}", line: 15, column: 20,
            message: "expected a number from 0 to 1 for 'sample.rate' of state 'review', found scalar '1.5'"),
        BadCase(
            name: "a negative double-review fraction", sample: "{rate: 0.1, double_review: -0.2, items: [draft.label]}", line: 15,
            column: 40, message: "expected a number from 0 to 1 for 'sample.double_review' of state 'review', found scalar '-0.2'"),
        BadCase(
            name: "a rate that is not a number", sample: "{rate: often, items: [draft.label]}", line: 15, column: 20,
            message: "expected a number from 0 to 1 for 'sample.rate' of state 'review', found scalar 'often'"),
        BadCase(
            name: "no rate", sample: "{items: [draft.label]}", line: 15, column: 13, message: "missing 'rate' in 'sample' of state 'review'"),
        BadCase(
            name: "no items", sample: "{rate: 0.1}", line: 15, column: 13, message: "missing 'items' in 'sample' of state 'review'"),
        BadCase(
            name: "empty items", sample: "{rate: 0.1, items: []}", line: 15, column: 32,
            message: "'sample.items' of state 'review' is empty; expected at least one instance-data path to judge"),
        BadCase(
            name: "items that are not a list", sample: "{rate: 0.1, items: draft.label}", line: 15, column: 32,
            message: "expected a list of instance-data paths for 'sample.items' of state 'review', found scalar 'draft.label'"),
        BadCase(
            name: "an item that is not a path", sample: "{rate: 0.1, items: [draft..label]}", line: 15, column: 33,
            message: "'draft..label' in 'sample.items' of state 'review' is not an instance-data path"),
        BadCase(
            name: "an item twice", sample: "{rate: 0.1, items: [draft.label, draft.label]}", line: 15, column: 46,
            message: "'draft.label' is listed twice in 'sample.items' of state 'review'; expected each item once"),
        BadCase(
            name: "an unknown key", sample: "{rat: 0.1, rate: 0.1, items: [draft.label]}", line: 15, column: 14,
            message: "unknown key 'rat' in 'sample' of state 'review' (did you mean 'rate'?); expected one of: rate, double_review, items, credential"),
        BadCase(
            name: "a sample that is not a mapping", sample: "0.05", line: 15, column: 13,
            message: "expected a mapping for 'sample' of state 'review', found scalar '0.05'"),
        BadCase(
            name: "an item no step writes", sample: "{rate: 0.1, items: [drfat.label]}", line: 15, column: 33,
            message: "'sample.items' of state 'review' judges 'drfat.label', but no step writes 'drfat' (did you mean 'draft'?); expected a path under one of: draft, errors, input, reviews"),
        BadCase(
            name: "an item in the config", sample: "{rate: 0.1, items: [config.review_threshold]}", line: 15, column: 33,
            message: "judges 'config.review_threshold', but no step writes 'config'"),
        BadCase(
            name: "a checkpoint that always opens", sample: "{rate: 0.1, items: [draft.label]}", when: "  subject: draft", line: 15,
            column: 13, message: "'sample' of state 'review' never applies: the checkpoint has no 'when', so a person reviews every instance"),
    ]

    @Test("a broken rule is a located error", arguments: bad)
    func broken(_ testCase: BadCase) {
        let found = diagnostics(of: Self.text(sample: testCase.sample, when: testCase.when), file: "sample.yaml")
        #expect(found.count == 1, "\(found)")
        let diagnostic = found.first
        #expect(diagnostic?.message.contains(testCase.message) == true, "\(found)")
        #expect(diagnostic?.location.line == testCase.line && diagnostic?.location.column == testCase.column, "\(found)")
    }

    // MARK: Overlays

    static func overlay(_ sample: String) -> String {
        "customer: acme\ntemplates:\n  hostile:\n    sample: \(sample)\n"
    }

    static func validated(_ overlayText: String) throws -> (CustomerOverlay, [TemplateDiagnostic]) {
        let template = try TemplateParser.parse(Self.text(sample: "{rate: 0.05, double_review: 0.2, items: [draft.label]}"), file: "hostile.yaml")
        let overlay = try TemplateParser.parseOverlay(overlayText, file: "acme.yaml")
        return (overlay, TemplateParser.validate(overlay, against: ["hostile": template]))
    }

    @Test("an overlay changes a checkpoint's rates for its customer")
    func overlayOverride() throws {
        let (overlay, problems) = try Self.validated(Self.overlay("{review: {rate: 0.2}}"))
        #expect(problems.isEmpty, "\(problems)")
        let override = try #require(overlay.templates["hostile"]?.sampling["review"])
        #expect(override.rate == 0.2 && override.doubleReview == nil)
        #expect(override.location == SourceLocation(file: "acme.yaml", line: 4, column: 14))
        let rule = SampleRule(rate: 0.05, doubleReview: 0.2, items: ["draft.label"], location: SourceLocation(file: "t", line: 1, column: 1))
        #expect(rule.applying(override).rate == 0.2 && rule.applying(override).doubleReview == 0.2)
        #expect(rule.applying(SampleOverride(rate: nil, doubleReview: 1, location: override.location)).doubleReview == 1)
        #expect(rule.applying(nil) == rule)
    }

    @Test(
        "an overlay's sampling mistakes are located",
        arguments: [
            ("{reveiw: {rate: 0.2}}", 4, 14, "sampling override for unknown checkpoint 'reveiw' of template 'hostile' (did you mean 'review'?); expected one of the checkpoints: review"),
            ("{draft: {rate: 0.2}}", 4, 14, "sampling override for unknown checkpoint 'draft' of template 'hostile'"),
            ("{review: {rate: 2}}", 4, 29, "expected a number from 0 to 1 for 'rate' of 'templates.hostile.sample.review', found scalar '2'"),
            ("{review: {items: [draft.label]}}", 4, 23, "unknown key 'items' in 'templates.hostile.sample.review'; expected one of: rate, double_review"),
            ("{review: {}}", 4, 22, "'templates.hostile.sample.review' changes nothing; expected 'rate' or 'double_review'"),
            ("[review]", 4, 13, "expected a mapping of checkpoint -> {rate, double_review} for 'templates.hostile.sample', found a list"),
        ])
    func overlayMistakes(sample: String, line: Int, column: Int, message: String) throws {
        let problems: [TemplateDiagnostic]
        do {
            problems = try Self.validated(Self.overlay(sample)).1
        } catch let error as TemplateErrors {
            problems = error.diagnostics
        }
        #expect(problems.count == 1, "\(problems)")
        #expect(problems.first?.message.contains(message) == true, "\(problems)")
        #expect(problems.first?.location.line == line && problems.first?.location.column == column, "\(problems)")
    }

    @Test("an overlay may not sample a checkpoint the template does not sample")
    func overlayOnUnsampledCheckpoint() throws {
        let template = try TemplateParser.parse(
            templateText(
                states: """
                    draft: {kind: model, role: writer, task: classify, next: review}
                    review: {kind: checkpoint, credential: support-agent, when: draft.confidence < 0.9, decisions: {approve: done}}
                    done: {kind: end}
                    """, touchpoints: "[review, when the classifier is unsure]"), file: "hostile.yaml")
        let overlay = try TemplateParser.parseOverlay(Self.overlay("{review: {rate: 0.2}}"), file: "acme.yaml")
        let problems = TemplateParser.validate(overlay, against: ["hostile": template])
        #expect(problems.map(\.message) == [
            "checkpoint 'review' of template 'hostile' has no 'sample' rule for the overlay to change; the template samples no checkpoint"
        ])
    }
}
