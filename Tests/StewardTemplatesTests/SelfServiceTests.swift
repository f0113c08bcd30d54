import Foundation
import Testing

@testable import StewardTemplates

/// `self_service: true`: every state that waits on the customer must offer a way to a person.
@Suite struct SelfServiceTests {
    /// A card-activation flow: it asks the customer twice; `escape` says whether the second
    /// question's answer can still reach the agent checkpoint.
    static func template(selfService: Bool, escape: Bool) -> String {
        """
        template: activate-card
        version: 1.0.0
        vertical: customer-support
        description: Walks a customer through activating a new card.
        \(selfService ? "self_service: true\n" : "")aop:
          domain: Card activation.
          inputs: [A customer who cannot activate a card.]
          outputs: [An activated card, or a ticket for an agent.]
          human_touchpoints: [agent, when the customer asks for a person]
          failure_modes: [Leaving a customer stuck in the flow.]
          escalation_target: support-lead
          may: [Ask the customer questions.]
          may_not: [Close the conversation without the customer's confirmation.]
        plugins: []
        start: ask_card
        states:
          ask_card:
            kind: event
            event: customer_answer
            payload: {has_card: boolean, person: boolean?}
            output: card
            next: card_branch
          card_branch:
            kind: choice
            choices:
              - when: exists(card.person) and card.person
                next: agent
            otherwise: ask_activated
          ask_activated:
            kind: event
            event: customer_answer
            payload: {activated: boolean, person: boolean?}
            output: answer
            next: activated_branch
          activated_branch:
            kind: choice
            choices:
              - when: exists(answer.person) and answer.person
                next: \(escape ? "agent" : "done")
            otherwise: done
          agent:
            kind: checkpoint
            credential: support-agent
            subject: card
            decisions: {approve: done, edit: done, reject: done}
          done:
            kind: end
            status: completed
        """
    }

    @Test func aWaitingStateWithNoWayToAPersonFailsValidationNamingIt() throws {
        let found = diagnostics(of: Self.template(selfService: true, escape: false), file: "activate-card.yaml")
        let deadEnds = found.filter { $0.message.contains("offers no way to a person") }
        #expect(deadEnds.count == 1, "\(found)")
        let diagnostic = try #require(deadEnds.first)
        #expect(diagnostic.message.contains("state 'ask_activated'"))
        #expect(diagnostic.location.file == "activate-card.yaml")
        #expect(diagnostic.location.line == 30)
    }

    @Test func everyWaitingStateWithAnEscapeHatchPasses() {
        #expect(diagnostics(of: Self.template(selfService: true, escape: true), file: "activate-card.yaml").isEmpty)
    }

    @Test func theRuleAppliesOnlyToSelfServiceTemplates() {
        #expect(diagnostics(of: Self.template(selfService: false, escape: false), file: "activate-card.yaml").isEmpty)
    }

    @Test func selfServiceMustBeABoolean() {
        let text = Self.template(selfService: true, escape: true).replacingOccurrences(of: "self_service: true", with: "self_service: sometimes")
        let found = diagnostics(of: text, file: "activate-card.yaml")
        #expect(found.contains { $0.message.contains("'self_service'") && $0.location.line == 5 }, "\(found)")
    }
}
