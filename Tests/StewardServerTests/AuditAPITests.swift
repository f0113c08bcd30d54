import Foundation
import StewardEngine
import StewardJSON
import StewardReview
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The audit routes against the real server: a ticket of the `audited` customer goes out
/// unreviewed, is sampled for a double audit, and two agents judge it blind.
@Suite struct AuditAPITests {
    static let verdict: JSONValue = [
        "items": [["path": "classification.label", "verdict": "correct"], ["path": "routing.priority", "verdict": "wrong", "value": "P2"]]
    ]

    @Test func twoAgentsAuditASampledTicketBlindAndTheFiguresFollow() async throws {
        let harness = try await ServerHarness.start(auditedCustomer: true)
        let (instance, audit) = try await harness.sampledAudit()
        let bo = try await harness.store.addReviewer(name: "Bo Agent", credentials: ["support-agent"], at: SystemEngineClock().nowMilliseconds())

        let listed = try await harness.send("GET", "/v1/audits", token: harness.agentToken)
        #expect(listed.status == 200)
        let item = try #require(listed.json["audits"]?.arrayValue?.first)
        #expect(item["id"]?.integerValue == audit && item["instance"]?.stringValue == instance && item["customer"] == "audited")
        #expect(item["checkpoint"] == "review_reply" && item["credential"] == "support-agent" && item["status"] == "open")
        #expect(item["needed_reviews"] == 2 && item["reviews_given"] == 0 && item["second_review"] == false && item["can_review"] == true)
        #expect(item["items"]?.arrayValue?.map { $0["path"] } == ["classification.label", "routing.priority"])
        #expect(item["items"]?.arrayValue?.last?["value"] == "P4")
        #expect(item["bindings"] == ["classifier": "banking-intent@3.0.0"])
        #expect(try await harness.send("GET", "/v1/audits?template=support-ticket-triage&customer=audited", token: harness.agentToken).json["audits"]?.arrayValue?.count == 1)
        #expect(try await harness.send("GET", "/v1/audits?status=open", token: harness.agentToken).status == 400)

        // Someone without the credential sees nothing and may judge nothing.
        #expect(try await harness.send("GET", "/v1/audits", token: harness.outsiderToken).json["audits"] == [])
        #expect(try await harness.send("GET", "/v1/audits/\(audit)", token: harness.outsiderToken).status == 403)
        let outsider = try await harness.send("POST", "/v1/audits/\(audit)/verdict", token: harness.outsiderToken, json: Self.verdict)
        #expect(outsider.status == 403 && outsider.json["error"]?["code"] == "forbidden", "\(outsider.text)")
        #expect(try await harness.send("GET", "/v1/audits").status == 401)
        #expect(try await harness.send("GET", "/v1/audits/999", token: harness.agentToken).status == 404)

        // Malformed verdicts.
        let cases: [(JSONValue, Int, String)] = [
            ([:], 400, "items"),
            (["items": []], 400, "items"),
            (["items": [["path": "routing.priority", "verdict": "maybe"]]], 400, "items[0].verdict"),
            (["items": [["path": "routing.priority", "verdict": "correct", "value": "P1"]]], 400, "items[0].value"),
            (["items": [["path": "routing.priority", "verdict": "correct", "note": "x"]]], 400, "items[0].note"),
            (["items": [["path": "routing.priority", "verdict": "correct"]], "reason": "x"], 400, "reason"),
        ]
        for (body, status, field) in cases {
            let reply = try await harness.send("POST", "/v1/audits/\(audit)/verdict", token: harness.agentToken, json: body)
            #expect(reply.status == status && reply.json["error"]?["field"]?.stringValue == field, "\(body.jsonString): \(reply.text)")
        }
        let unknownPath = try await harness.send(
            "POST", "/v1/audits/\(audit)/verdict", token: harness.agentToken,
            json: ["items": [["path": "routing.queue", "verdict": "correct"], ["path": "routing.priority", "verdict": "correct"]]])
        #expect(unknownPath.status == 422 && unknownPath.json["error"]?["code"] == "invalid_verdict", "\(unknownPath.text)")
        let noValue = try await harness.send(
            "POST", "/v1/audits/\(audit)/verdict", token: harness.agentToken,
            json: ["items": [["path": "classification.label", "verdict": "wrong"], ["path": "routing.priority", "verdict": "correct"]]])
        #expect(noValue.status == 422 && noValue.json["error"]?["message"]?.stringValue?.contains("needs the correct value") == true)
        let nullValue = try await harness.send(
            "POST", "/v1/audits/\(audit)/verdict", token: harness.agentToken,
            json: ["items": [["path": "classification.label", "verdict": "wrong", "value": .null], ["path": "routing.priority", "verdict": "correct"]]])
        #expect(nullValue.status == 422, "null is not a correct value: \(nullValue.text)")

        // Ana's first review; she cannot give the second.
        let first = try await harness.send("POST", "/v1/audits/\(audit)/verdict", token: harness.agentToken, json: Self.verdict)
        #expect(first.status == 200, "\(first.text)")
        #expect(first.json["reviews_given"] == 1 && first.json["verdicts"]?.arrayValue?.first?["reviewer"]?.stringValue == harness.agentID)
        let twice = try await harness.send("POST", "/v1/audits/\(audit)/verdict", token: harness.agentToken, json: Self.verdict)
        #expect(twice.status == 403 && twice.json["error"]?["message"]?.stringValue?.contains("already reviewed") == true)
        #expect(try await harness.send("GET", "/v1/audits", token: harness.agentToken).json["audits"] == [])

        // Bo judges blind.
        let blind = try await harness.send("GET", "/v1/audits/\(audit)", token: bo.token)
        #expect(blind.json["second_review"] == true && blind.json["verdicts"] == [] && blind.json["reviews_given"] == 1)
        #expect(try await harness.send("GET", "/v1/audits/\(audit)", token: harness.operatorToken).json["verdicts"] == [])
        let second = try await harness.send(
            "POST", "/v1/audits/\(audit)/verdict", token: bo.token,
            json: ["items": [["path": "classification.label", "verdict": "correct"], ["path": "routing.priority", "verdict": "correct"]]])
        #expect(second.status == 200 && second.json["status"] == "complete" && second.json["verdicts"]?.arrayValue?.count == 2)
        let late = try await harness.send("POST", "/v1/audits/\(audit)/verdict", token: harness.operatorToken, json: Self.verdict)
        #expect(late.status == 403, "the operator holds no support-agent credential: \(late.text)")

        // The figures: operators only.
        #expect(try await harness.send("GET", "/v1/templates/support-ticket-triage/production-accuracy", token: harness.agentToken).status == 403)
        let accuracy = try await harness.send("GET", "/v1/templates/support-ticket-triage/production-accuracy?customer=audited", token: harness.operatorToken)
        #expect(accuracy.status == 200, "\(accuracy.text)")
        #expect(accuracy.json["complete"] == 1 && accuracy.json["customer"] == "audited")
        let group = accuracy.json["groups"]?.arrayValue?.first
        #expect(group?["items"]?.arrayValue?.map { $0["estimate"]?["correct"] } == [1, 0], "Ana's first review: \(accuracy.text)")
        #expect(group?["items"]?.arrayValue?.first?["estimate"]?["interval"]?["high"] == 1)
        #expect(try await harness.send("GET", "/v1/templates/nope/production-accuracy", token: harness.operatorToken).status == 404)
        let agreement = try await harness.send("GET", "/v1/templates/support-ticket-triage/agreement", token: harness.operatorToken)
        #expect(agreement.status == 200 && agreement.json["double_reviewed"] == 1, "\(agreement.text)")
        #expect(agreement.json["items"]?.arrayValue?.last?["agreement"]?["agreed"] == 0)
        #expect(agreement.json["pairs"]?.arrayValue?.count == 2)

        // The verdicts are in the instance's history, and the audit trail is intact.
        let history = try await harness.send("GET", "/v1/instances/\(instance)", token: harness.operatorToken)
        #expect(history.json["history"]?.arrayValue?.filter { $0["event"] == "audit_verdict" }.count == 2)
        #expect(try await harness.store.verifyJournal().problems.isEmpty)
        try await harness.stop()
    }
}
