import Foundation
import StewardCore
import StewardJSON
import Testing

/// `DELETE /v1/instances/{id}` and `POST /v1/instances/{id}/retry` over HTTP: operators only,
/// a reason required, 409 where the operation does not apply, the listing's new filters.
@Suite struct InstanceOperationsAPITests {
    @Test(.timeLimit(.minutes(3)))
    func operatorsCancelAndRetryOverHTTP() async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()

        // Only operators; a reason is required.
        #expect(try await harness.send("DELETE", "/v1/instances/\(instance)", token: harness.agentToken, json: ["reason": "x"]).status == 403)
        #expect(try await harness.send("DELETE", "/v1/instances/\(instance)", token: harness.operatorToken, json: [:]).status == 400)
        #expect(try await harness.send("DELETE", "/v1/instances/\(instance)", token: harness.operatorToken, json: ["reason": " "]).status == 400)
        let cancelled = try await harness.send("DELETE", "/v1/instances/\(instance)", token: harness.operatorToken, json: ["reason": "duplicate ticket"])
        #expect(cancelled.status == 200 && cancelled.json["status"] == "cancelled", "\(cancelled.text)")
        #expect(try await harness.store.task(id: task)?.status == "cancelled")
        let again = try await harness.send("DELETE", "/v1/instances/\(instance)", token: harness.operatorToken, json: ["reason": "again"])
        #expect(again.status == 409, "\(again.text)")
        #expect(try await harness.send("DELETE", "/v1/instances/nope", token: harness.operatorToken, json: ["reason": "x"]).status == 404)

        // A waiting or cancelled instance is not retried.
        let retry = try await harness.send("POST", "/v1/instances/\(instance)/retry", token: harness.operatorToken, json: [:])
        #expect(retry.status == 409 && retry.text.contains("only a failed instance is retried"), "\(retry.text)")

        // An empty ticket fails at intake; retrying runs intake again (and it fails the same way).
        let submitted = try await harness.send(
            "POST", "/v1/instances", token: harness.operatorToken, json: ["template": "support-ticket-triage", "input": ["channel": "email"]])
        let failedID = try #require(submitted.json["id"]?.stringValue)
        #expect(try await harness.waitFor(failedID) { $0 != "running" } == "failed")
        let shown = try await harness.send("GET", "/v1/instances/\(failedID)", token: harness.operatorToken)
        #expect(shown.json["error"]?["state"] == "intake" && shown.json["error"]?["kind"] == "invalid_input", "a failed instance says why at the top: \(shown.text)")
        let listed = try await harness.send("GET", "/v1/instances?status=failed&state=intake&older_than=0s", token: harness.operatorToken)
        #expect(listed.status == 200 && listed.json["instances"]?.arrayValue?.map { $0["id"] } == [.string(failedID)], "\(listed.text)")
        #expect(try await harness.send("GET", "/v1/instances?older_than=soon", token: harness.operatorToken).status == 400)
        let retried = try await harness.send("POST", "/v1/instances/\(failedID)/retry", token: harness.operatorToken, json: [:])
        #expect(retried.status == 200 && retried.json["status"] == "running", "\(retried.text)")
        #expect(try await harness.waitFor(failedID) { $0 != "running" } == "failed")
        let history = try await harness.store.history(of: failedID).map(\.kind)
        #expect(history.filter { $0 == "step_failed" }.count == 2 && history.contains("retried"), "\(history)")
        try await harness.stop()
    }
}
