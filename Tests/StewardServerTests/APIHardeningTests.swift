import Foundation
import StewardJSON
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The API attacks of issue 17 against the real server: numbers no double holds, `null` where
/// a string is documented, `TRACE`.
@Suite struct APIHardeningTests {
    // MARK: Numbers a double cannot hold (item 5)

    @Test(arguments: [
        ("1e309", "number 1e309 is too large"),
        ("-1e309", "number -1e309 is too large"),
        (String(repeating: "9", count: 5_000), "integer 999999999999999999999999… (5000 characters) is too large"),
        ("18446744073709551617", "not exactly representable"),
    ])
    func overflowingNumbersAreRefusedNamingTheField(number: String, reason: String) async throws {
        let harness = try await ServerHarness.start()
        let body = #"{"template": "support-ticket-triage", "input": {"subject": "refund", "amount": \#(number)}}"#
        let reply = try await harness.send(
            "POST", "/v1/instances", token: harness.operatorToken, body: Data(body.utf8), headers: ["Content-Type": "application/json"])
        #expect(reply.status == 400, "\(reply.text)")
        #expect(reply.json["error"]?["code"] == "malformed_json")
        #expect(reply.json["error"]?["field"] == "input.amount")
        #expect(reply.json["error"]?["message"]?.stringValue?.contains(reason) == true, "\(reply.text)")
        #expect(try await harness.store.instances(status: nil, template: nil, customer: nil, limit: 10).isEmpty, "nothing was started")
        try await harness.stop()
    }

    @Test func nullIsNotAVersion() async throws {
        let harness = try await ServerHarness.start()
        let reply = try await harness.send(
            "POST", "/v1/instances", token: harness.operatorToken,
            json: ["template": "support-ticket-triage", "version": nil, "input": try ServerHarness.ticket(1)])
        #expect(reply.status == 400)
        #expect(reply.json["error"]?["code"] == "invalid_field")
        #expect(reply.json["error"]?["field"] == "version")
        #expect(reply.json["error"]?["message"] == "field 'version' must be a string or left out, found null")
        try await harness.stop()
    }

    // MARK: TRACE (item 10)

    @Test(arguments: [("/v1/instances", "GET, POST"), ("/review/sign-in", "GET, POST"), ("/healthz", "GET"), ("/nowhere", "")])
    func traceIsNotAllowed(path: String, allow: String) async throws {
        let harness = try await ServerHarness.start()
        let reply = try await harness.send("TRACE", path, headers: ["X-Probe": "echo?"])
        #expect(reply.status == 405, "\(reply.status) \(reply.text)")
        #expect(reply.header("Allow") == allow)
        #expect(!reply.text.contains("echo?"), "nothing of the request is echoed")
        try await harness.stop()
    }
}
