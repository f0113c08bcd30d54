import Foundation
import StewardJSON
import Testing

@testable import StewardTemplates

/// The package root, three levels above this file (`Tests/StewardTemplatesTests/<file>`).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

@Suite("Shipped template: support-ticket-triage")
struct ShippedTemplateTests {
    static let path = "workflows/support-ticket-triage.yaml"

    static func text() throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
    }

    static func template() throws -> Template {
        try TemplateParser.parse(text(), file: path)
    }

    /// The 1-based line on which `needle` starts a line of the file.
    static func line(of needle: String) throws -> Int {
        let lines = try text().split(separator: "\n", omittingEmptySubsequences: false)
        return try #require(lines.firstIndex { $0.hasPrefix(needle) }) + 1
    }

    @Test("identity, AOP and plugins")
    func header() throws {
        let template = try Self.template()
        #expect(template.name == "support-ticket-triage")
        #expect(template.version == "1.1.0")
        #expect(template.vertical == "customer-support")
        #expect(template.file == Self.path)
        #expect(template.description.hasPrefix("Classifies an incoming support ticket"))
        #expect(template.plugins == ["support", "keywords", "kb"])
        let aop = template.aop
        #expect(aop.domain.hasPrefix("Retail-banking customer support"))
        #expect(aop.inputs.count == 1)
        #expect(aop.outputs.count == 2)
        #expect(aop.humanTouchpoints.count == 1)
        #expect(aop.humanTouchpoints[0].hasPrefix("review_reply"))
        #expect(aop.failureModes.count == 4)
        #expect(aop.escalationTarget == "support-lead")
        #expect(aop.may.count == 3)
        #expect(aop.mayNot == [
            "Promise refunds, reversals or fee waivers.", "Ask for a full card number, PIN or password.",
            "Close a P1 ticket without a human review.",
        ])
    }

    @Test("config and retry policy")
    func configAndRetry() throws {
        let template = try Self.template()
        #expect(template.config["review_threshold"] == 0.7)
        #expect(template.config.value(at: ["routing", "lost_or_stolen_card"]) == ["queue": "cards-urgent", "priority": "P1"])
        #expect(template.config.value(at: ["routing", "compromised_card", "priority"]) == "P1")
        #expect(template.config.value(at: ["routing", "exchange_charge", "priority"]) == "P4")
        #expect(template.config.value(at: ["routing", "default"]) == ["queue": "general", "priority": "P3"])
        #expect(template.config["routing"]?.objectValue?.count == 34)
        // The review gate's urgent intents are exactly the intents the routing table makes P1.
        let p1 = (template.config["routing"]?.objectValue ?? [:]).filter { $0.value["priority"] == "P1" }.keys.sorted()
        #expect((template.config["urgent_intents"]?.arrayValue ?? []).compactMap(\.stringValue).sorted() == p1)
        #expect(template.config["out_of_scope_threshold"] == 0.5)
        // Every queue a route names has a reply template.
        let queues = Set((template.config["routing"]?.objectValue ?? [:]).values.compactMap { $0["queue"]?.stringValue })
        #expect(Set(template.config["replies"]?.objectValue?.keys.map { $0 } ?? []) == queues)
        #expect(template.models == ["classifier": "banking-intent@3.0.0"])
        #expect(template.serviceLevels?.targets["P1"] == ServiceLevels.Target(firstResponse: 15 * 60, resolution: 4 * 3600))
        #expect(template.serviceLevels?.targets["P2"] == ServiceLevels.Target(firstResponse: 3600, resolution: 24 * 3600))
        #expect(template.escalation.map(\.reassign) == ["senior-agent", "support-lead"])
        // Unset fields of `retry` keep the standard values.
        #expect(template.defaultRetry == RetryPolicy(maxAttempts: 3, initialBackoffMilliseconds: 200, maxBackoffMilliseconds: 2000, multiplier: 2))
    }

    @Test("states, in file order, with their kinds and locations")
    func states() throws {
        let template = try Self.template()
        #expect(template.start == "intake")
        #expect(template.startLocation.line == (try Self.line(of: "start: intake")))
        #expect(template.startLocation.column == 8)
        let expected: [(String, String)] = [
            ("intake", "step"), ("check_content", "choice"), ("classify", "model"), ("scan_risk", "step"), ("suggest_articles", "step"),
            ("route", "step"),
            ("draft_reply", "step"), ("review_reply", "checkpoint"), ("respond", "step"), ("done", "end"),
            ("rejected", "end"), ("discard", "end"),
        ]
        #expect(template.states.map(\.name) == expected.map(\.0))
        #expect(template.states.map(\.kindName) == expected.map(\.1))
        for state in template.states {
            #expect(state.location.line == (try Self.line(of: "  \(state.name):")), "\(state.name)")
            #expect(state.location.column == 3)
            #expect(state.location.file == Self.path)
        }
    }

    @Test("step states: steps, inputs, outputs, exits")
    func steps() throws {
        let template = try Self.template()
        func step(_ name: String) throws -> StepState {
            guard case .step(let step) = template.state(named: name)?.kind else { throw Failure("\(name) is not a step") }
            return step
        }
        let intake = try step("intake")
        #expect(intake.step == "support.normalize")
        #expect(intake.output == "ticket")
        #expect(intake.next?.name == "check_content")
        #expect(intake.onError == nil)
        #expect(intake.retry == template.defaultRetry)
        guard case .expression(let whole) = intake.input else { throw Failure("intake input is not an expression") }
        #expect(whole.source == "input")
        #expect(intake.stepLocation.line == (try Self.line(of: "    step: support.normalize")))
        #expect(intake.stepLocation.column == 11)

        guard case .model(let classify) = template.state(named: "classify")?.kind else { throw Failure("classify is not a model state") }
        #expect(classify.role == "classifier")
        #expect(classify.task == .classify)
        #expect(classify.output == "classification")
        guard case .object(let members) = classify.input, case .expression(let text)? = members["text"] else {
            throw Failure("classify input is not {text: expression}")
        }
        #expect(text.source == "ticket.text")
        let scan = try step("scan_risk")
        #expect(scan.step == "keywords.classify")
        #expect(scan.output == "keywords")

        let draft = try step("draft_reply")
        #expect(draft.config == ["signature": "The Support Team"])
        guard case .object(let draftInput) = draft.input else { throw Failure("draft_reply input is not an object") }
        #expect(draftInput.keys.sorted() == ["category", "name", "replies", "subject"])

        #expect(try step("route").next?.name == "draft_reply")
        #expect(try step("respond").output == "delivery")
        #expect(try step("respond").next?.name == "done")
    }

    @Test("choice, checkpoint and end states")
    func controlStates() throws {
        let template = try Self.template()
        guard case .choice(let choice) = template.state(named: "check_content")?.kind else { throw Failure("check_content") }
        #expect(choice.branches.count == 1)
        #expect(choice.branches[0].when.source == "ticket.word_count < 2")
        #expect(choice.branches[0].next.name == "discard")
        #expect(choice.branches[0].whenLocation.line == (try Self.line(of: "      - when: ticket.word_count < 2")))
        #expect(choice.branches[0].whenLocation.column == 15)
        #expect(choice.otherwise?.name == "classify")

        guard case .checkpoint(let review) = template.state(named: "review_reply")?.kind else { throw Failure("review_reply") }
        #expect(review.credential == "support-agent")
        #expect(review.subject == "reply")
        #expect(review.when?.source.hasPrefix("routing.priority == \"P1\" or classification.confidence < config.review_threshold") == true)
        #expect(review.deadline == .firstResponse)
        #expect(review.decisions.mapValues(\.name) == [.approve: "respond", .edit: "respond", .reject: "rejected"])
        let sample = try #require(review.sample, "replies sent without a review are sampled for audit")
        #expect(sample.rate == 0.05 && sample.doubleReview == 0.2 && sample.credential == nil)
        #expect(sample.items == ["classification.label", "routing.priority"])
        #expect(sample.location.line == (try Self.line(of: "    sample: {rate: 0.05")))

        guard case .end(let done) = template.state(named: "done")?.kind, case .object(let output)? = done.output else {
            throw Failure("done")
        }
        #expect(done.outcome == .completed)
        #expect(output.keys.sorted() == ["classification", "delivery", "reply", "review", "routing", "suggestions", "ticket"])
        for name in ["rejected", "discard"] {
            guard case .end(let end) = template.state(named: name)?.kind else { throw Failure(name) }
            #expect(end.outcome == .rejected)
            #expect(end.output == nil)
        }
    }

    @Test("validates against the shipped plugins' steps, and without a catalog")
    func validates() throws {
        let template = try Self.template()
        let plan = try Plan(validating: template, catalog: shippedCatalog)
        #expect(plan.name == "support-ticket-triage")
        #expect(plan.version == "1.1.0")
        #expect(plan.statesByName.count == 12)
        #expect(plan.state("review_reply")?.kindName == "checkpoint")
        #expect(Plan.validate(template, catalog: nil).isEmpty)
        // Every state is reachable: each one's exits lead to known states.
        for state in template.states {
            for exit in state.exits { #expect(plan.state(exit.target) != nil) }
        }
    }

    @Test("a catalog without the keyword classifier refuses the template at the step's line")
    func missingStep() throws {
        let template = try Self.template()
        let catalog = StepCatalog(steps: shippedCatalog.steps.subtracting(["keywords.classify"]))
        #expect(catalog.plugins == ["support", "kb"])
        let diagnostics = Plan.validate(template, catalog: catalog)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.location.line == (try Self.line(of: "    step: keywords.classify")))
        #expect(diagnostics.first?.message == "unknown plugin step 'keywords.classify'; plugin 'keywords' is not loaded")
    }
}

/// Retry backoff grows by the multiplier and stops at the cap.
@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test(
        "backoff before each attempt",
        arguments: [(2, 100), (3, 200), (4, 400), (5, 800), (7, 3200), (8, 5000), (30, 5000)] as [(Int, Int)])
    func standardBackoff(attempt: Int, delay: Int) {
        #expect(RetryPolicy.standard.backoffMilliseconds(beforeAttempt: attempt) == delay)
    }

    @Test("a multiplier of 1 keeps the delay constant; a fractional multiplier still grows")
    func otherMultipliers() {
        let flat = RetryPolicy(maxAttempts: 5, initialBackoffMilliseconds: 250, maxBackoffMilliseconds: 1000, multiplier: 1)
        #expect((2...5).map { flat.backoffMilliseconds(beforeAttempt: $0) } == [250, 250, 250, 250])
        let slow = RetryPolicy(maxAttempts: 5, initialBackoffMilliseconds: 100, maxBackoffMilliseconds: 1000, multiplier: 1.5)
        #expect((2...5).map { slow.backoffMilliseconds(beforeAttempt: $0) } == [100, 150, 225, 337])
    }
}

/// A test failure with a message, for `guard ... else { throw }`.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
