import StewardTemplates
import StewardTesting
import Testing

/// An indentation slip that ends `states:` early is one mistake, reported once: the states
/// after it are read as states, so the graph checks find nothing else wrong.
@Suite("An indentation slip is one error, not a flood")
struct IndentationSlipTests {
    static let body = """
        plugins: [support]
        states:
          intake: {kind: step, step: support.normalize, input: input, output: ticket, next: classify}
        classify:
          kind: step
          step: support.route
          input: ticket
          output: routing
          next: review
          review:
            kind: checkpoint
            credential: support-agent
            decisions: {approve: done, reject: done}
          done: {kind: end}
        """

    @Test func theSlipIsReportedOnceWhereItHappened() throws {
        let text = TestPlans.templateText(Self.body, name: "slipped")
        let parsed = try TemplateParser.parseLeniently(text, file: "slipped.yaml")
        let catalog = StepCatalog(steps: ["support.normalize", "support.route"])
        do {
            _ = try Plan(validating: parsed, catalog: catalog)
            Issue.record("the slip must be reported")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.count == 1, "one root cause, one error: \(lines)")
            let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("classify:") }.map { $0 + 1 } ?? 0
            #expect(lines.first?.hasPrefix("slipped.yaml:\(line):1: error: states 'classify', 'review', 'done' are outside 'states:'") == true, "\(lines)")
        }
    }

    @Test func correctlyIndentedTheSameTemplateIsValid() throws {
        let text = TestPlans.templateText("""
            plugins: [support]
            states:
              intake: {kind: step, step: support.normalize, input: input, output: ticket, next: classify}
              classify:
                kind: step
                step: support.route
                input: ticket
                output: routing
                next: review
              review:
                kind: checkpoint
                credential: support-agent
                decisions: {approve: done, reject: done}
              done: {kind: end}
            """, name: "fixed")
        let parsed = try TemplateParser.parseLeniently(text, file: "fixed.yaml")
        #expect(parsed.diagnostics.isEmpty, "\(parsed.diagnostics)")
        _ = try Plan(validating: parsed, catalog: StepCatalog(steps: ["support.normalize", "support.route"]))
    }
}
