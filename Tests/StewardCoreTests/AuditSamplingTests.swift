import StewardCore
import StewardJSON
import StewardTemplates
import StewardTesting
import Testing

/// A checkpoint's `sample` rule: instances that pass it unreviewed are picked for audit by a
/// draw from their id and customer, the pick is an effect, and the instance goes on.
@Suite struct AuditSamplingTests {
    /// classify (a step) -> review (reviewed below 0.8 confidence, sampled otherwise) -> done.
    static func plan(rate: Double, doubleReview: Double = 0, credential: String = "") throws -> Plan {
        try TestPlans.plan(
            """
            plugins: [support]
            models: {classifier: banking-intent@2.0.0}
            states:
              classify: {kind: step, step: support.classify, output: classification, next: review}
              review:
                kind: checkpoint
                credential: support-agent
                when: classification.confidence < 0.8
                subject: classification
                decisions: {approve: done}
                sample: {rate: \(rate), double_review: \(doubleReview), items: [classification.label, classification.missing]\(credential)}
              done: {kind: end}
            """)
    }

    /// Runs an instance through the checkpoint with a classification of `confidence`.
    static func pass(
        _ id: String, customer: String? = "acme", confidence: Double, plan: Plan, sampling: [String: SampleOverride] = [:]
    ) throws -> TransitionResult {
        let initial = InstanceState(id: id, template: plan.name, templateVersion: plan.version, customer: customer)
        let started = try Transition.apply(.started(input: ["text": .string("ticket \(id)")]), to: initial, plan: plan, sampling: sampling)
        return try Transition.apply(
            .stepSucceeded(state: "classify", attempt: 1, output: ["label": "card_arrival", "confidence": .double(confidence)]),
            to: started.state, plan: plan, sampling: sampling)
    }

    static func requests(_ effects: [Effect]) -> [AuditRequest] {
        effects.compactMap { if case .sampleForAudit(let request) = $0 { request } else { nil } }
    }

    @Test func theDrawIsTheDocumentedHashOfCustomerInstanceAndCheckpoint() {
        // SHA-256("acme/i-1/approve"), first 53 bits over 2^53 (computed independently).
        #expect(AuditSampling.draw(customer: "acme", instance: "i-1", checkpoint: "approve") == 0.2844802529008873)
        #expect(AuditSampling.draw(customer: nil, instance: "i-1", checkpoint: "approve") == 0.013026298272273529)
        #expect(AuditSampling.draw(customer: "acme", instance: "i-1", checkpoint: "approve") != AuditSampling.doubleReviewDraw(customer: "acme", instance: "i-1", checkpoint: "approve"))
        for index in 0..<500 {
            let draw = AuditSampling.draw(customer: "c", instance: "i-\(index)", checkpoint: "review")
            #expect(draw >= 0 && draw < 1)
        }
    }

    @Test func theSameInstanceIsAlwaysDecidedTheSameWay() throws {
        let plan = try Self.plan(rate: 0.5, doubleReview: 0.5)
        for index in 0..<50 {
            let first = Self.requests(try Self.pass("same-\(index)", confidence: 0.95, plan: plan).effects)
            let again = Self.requests(try Self.pass("same-\(index)", confidence: 0.95, plan: plan).effects)
            #expect(first == again)
        }
    }

    @Test func rateZeroPicksNoneAndRateOnePicksEveryUnreviewedInstanceAndNoReviewedOne() throws {
        let never = try Self.plan(rate: 0)
        let always = try Self.plan(rate: 1)
        for index in 0..<200 {
            #expect(Self.requests(try Self.pass("i-\(index)", confidence: 0.95, plan: never).effects).isEmpty)
            let passed = try Self.pass("i-\(index)", confidence: 0.95, plan: always)
            #expect(Self.requests(passed.effects).count == 1)
            // Not blocked: the instance finished as if no review was needed.
            #expect(passed.state.status == .completed)
            let reviewed = try Self.pass("i-\(index)", confidence: 0.5, plan: always)
            #expect(reviewed.state.status == .waiting)
            #expect(Self.requests(reviewed.effects).isEmpty, "an instance a person reviews is not also sampled")
        }
    }

    @Test func aRateInBetweenPicksAboutThatShareAndTheDrawsAgree() throws {
        let plan = try Self.plan(rate: 0.25, doubleReview: 0.5)
        var picked = 0
        var doubled = 0
        for index in 0..<2_000 {
            let requests = Self.requests(try Self.pass("i-\(index)", confidence: 0.95, plan: plan).effects)
            let draw = AuditSampling.draw(customer: "acme", instance: "i-\(index)", checkpoint: "review")
            #expect(requests.isEmpty == (draw >= 0.25))
            picked += requests.count
            if let request = requests.first {
                let second = AuditSampling.doubleReviewDraw(customer: "acme", instance: "i-\(index)", checkpoint: "review")
                #expect(request.neededReviews == (second < 0.5 ? 2 : 1))
                if request.neededReviews == 2 { doubled += 1 }
            }
        }
        // Binomial(2000, 0.25): mean 500, sd 19; the draws are fixed, so these never flake.
        #expect((420...580).contains(picked), "\(picked)")
        #expect((picked / 2 - 60...picked / 2 + 60).contains(doubled), "\(doubled) of \(picked)")
    }

    @Test func theCustomerIsPartOfTheDraw() throws {
        let plan = try Self.plan(rate: 0.5)
        var differ = 0
        for index in 0..<200 {
            let acme = Self.requests(try Self.pass("i-\(index)", customer: "acme", confidence: 0.95, plan: plan).effects)
            let other = Self.requests(try Self.pass("i-\(index)", customer: "harbour", confidence: 0.95, plan: plan).effects)
            if acme.isEmpty != other.isEmpty { differ += 1 }
        }
        #expect(differ > 50, "the same id is drawn independently for another customer (\(differ) of 200 differ)")
    }

    @Test func theRequestCarriesTheJudgedValuesBindingsInputAndCredential() throws {
        let plan = try Self.plan(rate: 1, doubleReview: 1)
        let result = try Self.pass("i-7", confidence: 0.95, plan: plan)
        let request = try #require(Self.requests(result.effects).first)
        #expect(request.state == "review")
        #expect(request.credential == "support-agent", "the checkpoint's credential by default")
        #expect(request.items == [
            AuditedValue(path: "classification.label", value: "card_arrival"), AuditedValue(path: "classification.missing", value: .null),
        ])
        #expect(request.neededReviews == 2)
        #expect(request.rate == 1)
        #expect(request.bindings == ["classifier": "banking-intent@2.0.0"])
        #expect(request.input == ["text": "ticket i-7"])
        #expect(request.visit == 2, "the checkpoint was entered by the instance's second event")
        // The state is what it would be without sampling.
        let unsampled = try Self.pass("i-7", confidence: 0.95, plan: try Self.plan(rate: 0))
        #expect(result.state == unsampled.state)

        let audited = try Self.pass("i-7", confidence: 0.95, plan: try Self.plan(rate: 1, credential: ", credential: quality-auditor"))
        #expect(Self.requests(audited.effects).first?.credential == "quality-auditor")
    }

    @Test func aCustomerOverrideChangesTheRates() throws {
        let plan = try Self.plan(rate: 0)
        let location = SourceLocation(file: "acme.yaml", line: 1, column: 1)
        let raised = try Self.pass(
            "i-1", confidence: 0.95, plan: plan, sampling: ["review": SampleOverride(rate: 1, doubleReview: 1, location: location)])
        #expect(Self.requests(raised.effects).map(\.neededReviews) == [2])
        #expect(Self.requests(raised.effects).first?.rate == 1)
        let other = try Self.pass("i-1", confidence: 0.95, plan: plan, sampling: ["elsewhere": SampleOverride(rate: 1, doubleReview: nil, location: location)])
        #expect(Self.requests(other.effects).isEmpty)
    }
}
