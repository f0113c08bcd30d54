import Foundation
import StewardCore
import StewardJSON
import Testing

/// Events over HTTP: `POST /v1/instances/{id}/events/{name}` and, by correlation key,
/// `POST /v1/events/{name}`; the sender's credential, the payload contract (422 with the
/// field), idempotency keys, 404 for a key no instance waits with, 409 for an instance not waiting.
@Suite struct EventAPITests {
    static let template = """
        template: customer-reply
        version: 1.0.0
        vertical: customer-support
        description: Waits for the customer's answer.
        aop:
          domain: Support follow-ups.
          inputs: [A ticket id.]
          outputs: [The customer's answer.]
          human_touchpoints: [none]
          failure_modes: [Closing a ticket the customer did not confirm.]
          escalation_target: support-lead
          may: [Wait for the customer.]
          may_not: [Close unconfirmed tickets.]
        plugins: []
        start: ask
        states:
          ask:
            kind: event
            event: customer_reply
            payload: {text: string, satisfied: boolean?}
            output: reply
            correlate: input.ticket
            credential: crm-webhook
            next: done
          done:
            kind: end
            status: completed
            output: {reply: reply}
        """

    @Test(.timeLimit(.minutes(3)))
    func eventsAreDeliveredByIdAndByKey() async throws {
        let harness = try await ServerHarness.start(extraTemplates: ["customer-reply.yaml": Self.template])
        func submit(_ ticket: String) async throws -> String {
            let reply = try await harness.send(
                "POST", "/v1/instances", token: harness.operatorToken,
                json: ["template": "customer-reply", "customer": "acme-bank", "input": ["ticket": .string(ticket)]])
            try #require(reply.status == 201, "\(reply.text)")
            return try #require(reply.json["id"]?.stringValue)
        }
        let first = try await submit("T-9")
        #expect(try await harness.waitFor(first) { $0 != "running" } == "waiting")
        let crm = try await harness.store.addReviewer(name: "CRM", credentials: ["crm-webhook"], role: "reviewer", at: 1)

        let path = "/v1/instances/\(first)/events/customer_reply"
        #expect(try await harness.send("POST", path, token: harness.agentToken, json: ["payload": ["text": "hi"]]).status == 403)
        let invalid = try await harness.send("POST", path, token: crm.token, json: ["payload": ["text": 3]])
        #expect(invalid.status == 422 && invalid.json["error"]?["field"] == "payload.text", "\(invalid.text)")
        let delivered = try await harness.send(
            "POST", path, token: crm.token, json: ["payload": ["text": "fixed, thanks", "satisfied": true]], headers: ["Idempotency-Key": "crm-1"])
        #expect(delivered.status == 200 && delivered.json["status"] == "completed", "\(delivered.text)")
        let repeated = try await harness.send(
            "POST", path, token: crm.token, json: ["payload": ["text": "fixed, thanks", "satisfied": true]], headers: ["Idempotency-Key": "crm-1"])
        #expect(repeated.status == 200 && repeated.json["status"] == "completed", "the same key answers with the instance: \(repeated.text)")
        #expect(try await harness.store.history(of: first).filter { $0.kind == "event_received" }.count == 1)
        let late = try await harness.send("POST", path, token: harness.operatorToken, json: ["payload": ["text": "again"]])
        #expect(late.status == 409, "\(late.text)")

        let second = try await submit("T-10")
        #expect(try await harness.waitFor(second) { $0 != "running" } == "waiting")
        let byKey = try await harness.send("POST", "/v1/events/customer_reply", token: crm.token, json: ["key": "T-10", "payload": ["text": "ok"]])
        #expect(byKey.status == 200 && byKey.json["instances"]?.arrayValue?.first?["id"]?.stringValue == second, "\(byKey.text)")
        let nobody = try await harness.send("POST", "/v1/events/customer_reply", token: crm.token, json: ["key": "T-404", "payload": ["text": "ok"]])
        #expect(nobody.status == 404, "\(nobody.text)")
        #expect(try await harness.send("POST", "/v1/events/customer_reply", token: crm.token, json: ["payload": [:]]).status == 400, "a key is required")
        try await harness.stop()
    }

    @Test(.timeLimit(.minutes(3)))
    func anEarlyEventIsAcceptedForLaterWhenItsStateKeepsIt() async throws {
        let early = Self.template
            .replacingOccurrences(of: "template: customer-reply", with: "template: early-reply")
            .replacingOccurrences(of: "start: ask\n", with: "start: pause\n")
            .replacingOccurrences(of: "states:\n", with: "states:\n  pause:\n    kind: wait\n    for: 1h\n    next: ask\n")
            .replacingOccurrences(of: "    credential: crm-webhook\n", with: "    credential: crm-webhook\n    buffer: true\n")
        let harness = try await ServerHarness.start(extraTemplates: ["early-reply.yaml": early])
        let reply = try await harness.send(
            "POST", "/v1/instances", token: harness.operatorToken, json: ["template": "early-reply", "customer": "acme-bank", "input": ["ticket": "T-1"]])
        try #require(reply.status == 201, "\(reply.text)")
        let id = try #require(reply.json["id"]?.stringValue)
        #expect(try await harness.waitFor(id) { $0 != "running" } == "waiting")
        let crm = try await harness.store.addReviewer(name: "CRM", credentials: ["crm-webhook"], role: "reviewer", at: 1)
        let path = "/v1/instances/\(id)/events/customer_reply"
        let kept = try await harness.send("POST", path, token: crm.token, json: ["payload": ["text": "sorted it myself"]])
        #expect(kept.status == 202 && kept.json["event_buffered"] == true && kept.json["state"] == "pause", "\(kept.text)")
        #expect(kept.json["buffered"]?.arrayValue?.first?["payload"]?["text"] == "sorted it myself", "\(kept.text)")
        let invalid = try await harness.send("POST", path, token: crm.token, json: ["payload": ["text": 5]])
        #expect(invalid.status == 422, "an early event is checked when it arrives: \(invalid.text)")
        #expect(try await harness.send("POST", path, token: harness.agentToken, json: ["payload": ["text": "x"]]).status == 403)
        try await harness.stop()
    }
}
