import Testing

@testable import StewardTemplates

/// `human_in_path: required` and the AOP's touchpoints checked against the states (issue 17, item 7b).
@Suite("Human in the path")
struct HumanInPathTests {
    struct PathCase: Sendable, CustomTestStringConvertible {
        let name: String
        let states: String
        let pure: Set<String>?
        /// The routes reported, in file order of their last state.
        let routes: [String]
        var testDescription: String { name }
    }

    /// A model's draft goes through a routing step, then a person, then out.
    static let routeThenReview = """
        draft: {kind: model, role: writer, task: generate, next: route}
        route: {kind: step, step: support.route, next: review}
        review: {kind: checkpoint, credential: support-agent, decisions: {approve: send}}
        send: {kind: step, step: support.send_reply, next: done}
        done: {kind: end}
        """

    /// A model drafts; the reply is sent; between them, variously, a person.
    static let cases: [PathCase] = [
        PathCase(
            name: "a checkpoint without a condition on the only route", states: """
                draft: {kind: model, role: writer, task: generate, next: review}
                review: {kind: checkpoint, credential: support-agent, subject: draft, decisions: {approve: send, reject: dropped}}
                send: {kind: step, step: support.send_reply, next: done}
                done: {kind: end}
                dropped: {kind: end, status: rejected}
                """, pure: nil, routes: []),
        PathCase(
            name: "a checkpoint whose when may skip it", states: """
                draft: {kind: model, role: writer, task: generate, next: review}
                review: {kind: checkpoint, credential: support-agent, when: draft.confidence < 0.9, decisions: {approve: send}}
                send: {kind: step, step: support.send_reply, next: done}
                done: {kind: end}
                """, pure: nil, routes: ["draft → review → send (step 'support.send_reply')"]),
        PathCase(name: "a step before the checkpoint that is not pure", states: routeThenReview, pure: nil, routes: ["draft → route (step 'support.route')"]),
        PathCase(name: "the same step flagged pure", states: routeThenReview, pure: ["support.route"], routes: []),
        PathCase(
            name: "a choice that bypasses the checkpoint", states: """
                draft: {kind: model, role: writer, task: generate, next: gate}
                gate:
                  kind: choice
                  choices: [{when: draft.confidence > 0.95, next: send}]
                  otherwise: review
                review: {kind: checkpoint, credential: support-agent, decisions: {approve: send}}
                send: {kind: step, step: support.send_reply, next: done}
                done: {kind: end}
                """, pure: nil, routes: ["draft → gate → send (step 'support.send_reply')"]),
        PathCase(
            name: "a model failure that leads to a send", states: """
                draft: {kind: model, role: writer, task: generate, next: review, on_error: apologise}
                review: {kind: checkpoint, credential: support-agent, decisions: {approve: done}}
                apologise: {kind: step, step: support.send_reply, next: done}
                done: {kind: end}
                """, pure: nil, routes: ["draft → apologise (step 'support.send_reply')"]),
        PathCase(
            name: "a second model after the checkpoint", states: """
                draft: {kind: model, role: writer, task: generate, next: review}
                review: {kind: checkpoint, credential: support-agent, decisions: {approve: polish}}
                polish: {kind: model, role: writer, task: generate, next: send}
                send: {kind: step, step: support.send_reply, next: done}
                done: {kind: end}
                """, pure: nil, routes: ["polish → send (step 'support.send_reply')"]),
        PathCase(
            name: "an ffi call is always an effect", states: """
                draft: {kind: model, role: writer, task: score, next: record}
                record: {kind: ffi, library: churn, signature: double f(double), args: [1], next: done}
                done: {kind: end}
                """, pure: ["support.route"], routes: ["draft → record (ffi 'f')"]),
        PathCase(
            name: "steps before any model need no person", states: """
                intake: {kind: step, step: support.normalize, next: done}
                done: {kind: end}
                """, pure: nil, routes: []),
    ]

    static func text(_ states: String, rule: String = "human_in_path: required") -> String {
        templateText(states: states, touchpoints: "[review, when a person reads the draft]", extra: rule)
    }

    @Test("every route from a model to an effect must pass a checkpoint that always opens", arguments: cases)
    func routes(_ testCase: PathCase) throws {
        let catalog = StepCatalog(steps: shippedCatalog.steps, foreignProblems: [:], pureSteps: testCase.pure)
        let found = diagnostics(of: Self.text(testCase.states), file: "path.yaml", catalog: catalog)
            .filter { $0.message.hasPrefix("human_in_path") }
        #expect(found.count == testCase.routes.count, "\(found)")
        for (diagnostic, route) in zip(found, testCase.routes) {
            #expect(diagnostic.message.contains("with no person in between: \(route); expected a checkpoint with a credential and no 'when'"), "\(diagnostic)")
            // At the state with the effect (the route's last state).
            let last = String(route.split(separator: " → ").last!.split(separator: " ")[0])
            let lines = Self.text(testCase.states).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(diagnostic.location.line == (lines.firstIndex { $0.hasPrefix("  \(last):") } ?? -1) + 1, "\(diagnostic)")
        }
        // Without the rule the same template raises none of these.
        let optional = diagnostics(of: Self.text(testCase.states, rule: ""), file: "path.yaml", catalog: catalog)
        #expect(!optional.contains { $0.message.hasPrefix("human_in_path") })
    }

    @Test("an unknown human_in_path value is an error")
    func unknownRule() {
        let found = diagnostics(of: Self.text(Self.cases[0].states, rule: "human_in_path: maybe"), file: "path.yaml")
        #expect(found.map(\.message) == ["unknown value 'maybe' for 'human_in_path'; expected one of: required, optional"])
        #expect(found.first?.location.line == 7 && found.first?.location.column == 16)
    }

    // MARK: Overlays

    static let overlayTemplate = """
        draft: {kind: model, role: writer, task: generate, next: review}
        review: {kind: checkpoint, credential: support-agent, when: draft.confidence < 0.9, decisions: {approve: send}}
        send: {kind: step, step: support.send_reply, next: done}
        done: {kind: end}
        """

    @Test(
        "an overlay may require a human in the path of every template or of one",
        arguments: [
            ("customer: acme\nhuman_in_path: required\n", 2, 16),
            ("customer: acme\ntemplates:\n  hostile:\n    human_in_path: required\n", 3, 3),
            ("customer: acme\ntemplates:\n  hostile:\n    config: {}\n", 0, 0),
        ])
    func overlay(text: String, line: Int, column: Int) throws {
        let template = try TemplateParser.parse(Self.text(Self.overlayTemplate, rule: ""), file: "hostile.yaml")
        let overlay = try TemplateParser.parseOverlay(text, file: "acme.yaml")
        let found = TemplateParser.validate(overlay, against: ["hostile": template])
        guard line > 0 else {
            #expect(found.isEmpty, "\(found)")
            return
        }
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.location == SourceLocation(file: "acme.yaml", line: line, column: column))
        #expect(
            found.first?.message
                == "customer 'acme' requires a human in the path, but in template 'hostile' model output reaches step 'support.send_reply' with no person in between: draft → review → send (step 'support.send_reply') (hostile.yaml:11:3); expected a checkpoint with a credential and no 'when' on that route")
    }

    // MARK: Touchpoints

    struct TouchpointCase: Sendable, CustomTestStringConvertible {
        let name: String
        let touchpoints: String
        let rule: String
        /// (line, column, message fragment) of each diagnostic.
        let expected: [(Int, Int, String)]
        var testDescription: String { name }
    }

    /// Two checkpoints, `review` (line 10) and `second` (line 11); `send` is a step.
    static let touchpointStates = """
        send: {kind: step, step: support.send_reply, next: review}
        review: {kind: checkpoint, credential: support-agent, decisions: {approve: second}}
        second: {kind: checkpoint, credential: support-lead, decisions: {approve: done}}
        done: {kind: end}
        """

    static let touchpointCases: [TouchpointCase] = [
        TouchpointCase(name: "both checkpoints named", touchpoints: "['review, every reply', 'second: above 100', A person is on call]", rule: "", expected: []),
        TouchpointCase(
            name: "free text names none, and is not checked", touchpoints: "[review of uncertain results, h, 'Escalation: the lead']", rule: "",
            expected: []),
        TouchpointCase(
            name: "a misspelt checkpoint", touchpoints: "['reveiw, every reply', 'second, above 100']", rule: "",
            expected: [
                (4, 65, "aop.human_touchpoints names unknown checkpoint 'reveiw' (did you mean 'review'?); expected one of the checkpoints: review, second"),
                (10, 3, "checkpoint 'review' is not named in aop.human_touchpoints; expected an entry starting 'review, '"),
            ]),
        TouchpointCase(
            name: "a step named as a touchpoint", touchpoints: "['send, when the reply goes out', review, second]", rule: "",
            expected: [(4, 65, "aop.human_touchpoints names 'send', which is a step state, not a checkpoint")]),
        TouchpointCase(
            name: "one checkpoint left out", touchpoints: "['review: always']", rule: "",
            expected: [(11, 3, "checkpoint 'second' is not named in aop.human_touchpoints")]),
        TouchpointCase(
            name: "human_in_path: required needs every checkpoint named", touchpoints: "[a person reads the work]", rule: "human_in_path: required",
            expected: [
                (10, 3, "checkpoint 'review' is not named in aop.human_touchpoints"), (11, 3, "checkpoint 'second' is not named in aop.human_touchpoints"),
            ]),
    ]

    @Test("touchpoints that name checkpoints are checked against the states", arguments: touchpointCases)
    func touchpoints(_ testCase: TouchpointCase) {
        let text = templateText(states: Self.touchpointStates, touchpoints: testCase.touchpoints, extra: testCase.rule)
        let found = diagnostics(of: text, file: "aop.yaml")
        #expect(found.count == testCase.expected.count, "\(found)")
        for (diagnostic, (line, column, fragment)) in zip(found, testCase.expected) {
            #expect(diagnostic.location.line == line && diagnostic.location.column == column, "\(diagnostic)")
            #expect(diagnostic.message.contains(fragment), "\(diagnostic)")
        }
    }

    @Test("every shipped template names each of its checkpoints in its AOP")
    func shippedTouchpoints() throws {
        for name in ["support-ticket-triage.yaml", "account-health-review.yaml"] {
            let text = try String(contentsOf: packageRoot.appendingPathComponent("workflows/\(name)"), encoding: .utf8)
            let template = try TemplateParser.parse(text, file: name)
            let checkpoints = template.states.filter { if case .checkpoint = $0.kind { return true } else { return false } }.map(\.name)
            let named = template.aop.humanTouchpoints.compactMap { Plan.touchpointName($0, states: Set(template.states.map(\.name))) }
            #expect(!checkpoints.isEmpty && Set(named) == Set(checkpoints), "\(name): \(named) vs \(checkpoints)")
            #expect(Plan.validate(template, catalog: nil).isEmpty, "\(Plan.validate(template, catalog: nil))")
        }
    }
}
