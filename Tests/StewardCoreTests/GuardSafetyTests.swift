import StewardCore
import StewardJSON
import StewardTemplates
import StewardTesting
import Testing

/// When in doubt, a person: a checkpoint condition that cannot be evaluated opens the
/// checkpoint (and says why); a choice guard that cannot be evaluated fails the instance at the
/// choice instead of routing it on a guess.
@Suite struct GuardSafetyTests {
    static func refundPlan() throws -> Plan {
        try TestPlans.plan(
            """
            plugins: []
            states:
              approve:
                kind: checkpoint
                credential: support-agent
                when: input.amount > 100
                subject: input
                decisions: {approve: done, reject: refused}
              done: {kind: end}
              refused: {kind: end, status: rejected}
            """)
    }

    @Test(arguments: [
        ("a string amount", ["amount": "5000"] as JSONValue),
        ("a null amount", ["amount": .null] as JSONValue),
        ("no amount", [:] as JSONValue),
        ("a boolean amount", ["amount": true] as JSONValue),
    ])
    func anUnevaluableConditionOpensTheCheckpoint(_ what: String, input: JSONValue) throws {
        let result = try run(Self.refundPlan(), [.started(input: input)]).last!
        #expect(result.state.status == .waiting, "\(what) must open the checkpoint")
        let why = result.state.data.value(at: ["reviews", "approve", "opened_because"])?.stringValue ?? ""
        #expect(why.contains("input.amount > 100") && why.contains("a person decides"), "\(why)")
        #expect(result.effects.contains { if case .openCheckpoint = $0 { return true } else { return false } })
        // The reason stays with the decision.
        let decided = try Transition.apply(
            decision(.approve, at: "approve"), to: result.state, plan: Self.refundPlan())
        #expect(decided.state.data.value(at: ["reviews", "approve", "opened_because"])?.stringValue == why)
        #expect(decided.state.status == .completed)
    }

    @Test func aFalseConditionStillSkipsTheReviewAndATrueOneOpensIt() throws {
        let skipped = try run(Self.refundPlan(), [.started(input: ["amount": 50])]).last!
        #expect(skipped.state.status == .completed)
        #expect(skipped.state.data.value(at: ["reviews", "approve", "automatic"]) == true)
        let opened = try run(Self.refundPlan(), [.started(input: ["amount": 500])]).last!
        #expect(opened.state.status == .waiting)
        #expect(opened.state.data.value(at: ["reviews", "approve", "opened_because"]) == nil)
    }

    @Test func aChoiceGuardThatCannotBeEvaluatedFailsTheInstanceSayingWhy() throws {
        let plan = try TestPlans.plan(
            """
            plugins: []
            states:
              route:
                kind: choice
                choices:
                  - when: input.amount > 100
                    next: big
                otherwise: small
              big: {kind: end}
              small: {kind: end}
            """)
        let result = try run(plan, [.started(input: ["amount": "5000"])]).last!
        #expect(result.state.status == .failed)
        #expect(result.state.failure?.kind == .guardError)
        #expect(result.state.failure?.message.contains("input.amount > 100") == true, "\(String(describing: result.state.failure))")
        #expect(result.state.current == "route", "not routed to 'small' on a guess")
        let fine = try run(plan, [.started(input: ["amount": 50])]).last!
        #expect(fine.state.status == .completed && fine.state.current == "small")
    }
}
