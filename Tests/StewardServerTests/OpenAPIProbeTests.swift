import Foundation
import StewardJSON
import StewardTesting
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The other way round from `OpenAPITests.everyOperationAnswersAsDocumented`: hostile and
/// malformed requests (what a schema-driven fuzzer sends) must get answers the document lists,
/// with the documented body.
@Suite struct OpenAPIProbeTests {
    /// One request that breaks a rule, with the status the server must give.
    struct Probe: Sendable, CustomTestStringConvertible {
        let name: String
        let method: String
        let path: String
        let token: Token
        let body: String?
        let contentType: String?
        let origin: Bool
        let status: Int
        var testDescription: String { name }

        enum Token: Sendable { case none, operatorToken, agentToken }

        init(
            _ name: String, _ method: String, _ path: String, token: Token = .operatorToken, body: String? = nil,
            contentType: String? = "application/json", origin: Bool = false, status: Int
        ) {
            self.name = name
            self.method = method
            self.path = path
            self.token = token
            self.body = body
            self.contentType = body == nil ? nil : contentType
            self.origin = origin
            self.status = status
        }
    }

    static let submit = "/v1/instances"
    static let input = #""input": {"subject": "s", "body": "b", "channel": "chat", "customer": {"name": "Jo"}}"#

    /// (An unknown customer is 404 only where overlays are loaded: `ServeCommandTests` checks it.)
    static let probes: [Probe] = [
        Probe("submit: version null", "POST", submit, body: #"{"template": "support-ticket-triage", "version": null, \#(input)}"#, status: 400),
        Probe("submit: customer null", "POST", submit, body: #"{"template": "support-ticket-triage", "customer": null, \#(input)}"#, status: 400),
        Probe("submit: an unknown template", "POST", submit, body: #"{"template": "nope", \#(input)}"#, status: 422),
        Probe("submit: an unknown version", "POST", submit, body: #"{"template": "support-ticket-triage", "version": "9", \#(input)}"#, status: 422),
        Probe("submit: input not an object", "POST", submit, body: #"{"template": "support-ticket-triage", "input": [1]}"#, status: 400),
        Probe("submit: an unknown field", "POST", submit, body: #"{"template": "support-ticket-triage", "inptu": {}}"#, status: 400),
        Probe("submit: malformed JSON", "POST", submit, body: #"{"template": "#, status: 400),
        Probe("submit: a number no double holds", "POST", submit, body: #"{"template": "support-ticket-triage", "input": {"amount": 1e309}}"#, status: 400),
        Probe("submit: a JSON array", "POST", submit, body: "[]", status: 400),
        Probe("submit: not JSON", "POST", submit, body: "template=x", contentType: "application/x-www-form-urlencoded", status: 415),
        Probe("submit: no token", "POST", submit, token: .none, body: "{}", status: 401),
        Probe("submit: a reviewer", "POST", submit, token: .agentToken, body: "{}", status: 403),
        Probe("list: a bad status", "GET", "/v1/instances?status=done", status: 400),
        Probe("list: a bad limit", "GET", "/v1/instances?limit=0", status: 400),
        Probe("list: an unknown parameter", "GET", "/v1/instances?sort=asc", status: 400),
        Probe("show: an unknown instance", "GET", "/v1/instances/nope", status: 404),
        Probe("tasks: an unknown parameter", "GET", "/v1/tasks?x=1", status: 400),
        Probe("tasks: a credential not held", "GET", "/v1/tasks?credential=attorney", token: .agentToken, status: 403),
        Probe("task: not a number", "GET", "/v1/tasks/abc", token: .agentToken, status: 404),
        Probe("task: unknown", "GET", "/v1/tasks/999999", token: .agentToken, status: 404),
        Probe("decide: unknown task", "POST", "/v1/tasks/999999/decision", token: .agentToken, body: #"{"decision": "approve"}"#, status: 404),
        Probe("decide: a bad decision", "POST", "/v1/tasks/999999/decision", token: .agentToken, body: #"{"decision": "maybe"}"#, status: 400),
        Probe("decide: reason null", "POST", "/v1/tasks/999999/decision", token: .agentToken, body: #"{"decision": "reject", "reason": null}"#, status: 400),
        Probe("decide: not JSON", "POST", "/v1/tasks/999999/decision", token: .agentToken, body: "decision=approve", contentType: "text/plain", status: 415),
        Probe("sign-in: not a form", "POST", "/review/sign-in", token: .none, body: "{}", contentType: "application/json", origin: true, status: 415),
        Probe("sign-in: cross-site", "POST", "/review/sign-in", token: .none, body: "token=x", contentType: "application/x-www-form-urlencoded", status: 403),
        Probe("sign-in: no token", "POST", "/review/sign-in", token: .none, body: "token=", contentType: "application/x-www-form-urlencoded", origin: true, status: 401),
        Probe("sign-out: not a form", "POST", "/review/sign-out", token: .none, body: "{}", contentType: "application/json", origin: true, status: 415),
        Probe("sign-out: cross-site", "POST", "/review/sign-out", token: .none, body: "csrf=x", contentType: "application/x-www-form-urlencoded", status: 403),
        Probe("decision form: not a form", "POST", "/review/tasks/1/decision", token: .none, body: "{}", contentType: "application/json", status: 415),
        Probe("decision form: not signed in", "POST", "/review/tasks/1/decision", token: .none, body: "csrf=x", contentType: "application/x-www-form-urlencoded", status: 303),
    ]

    @Test(arguments: probes)
    func probeAnswersAsDocumented(_ probe: Probe) async throws {
        let document = try OpenAPITests.load()
        let harness = try await ServerHarness.start()
        let template = probe.path.split(separator: "?")[0].replacingOccurrences(of: "/nope", with: "/{id}")
            .replacingOccurrences(of: "/abc", with: "/{id}").replacingOccurrences(of: "/999999", with: "/{id}")
            .replacingOccurrences(of: "/tasks/1/", with: "/tasks/{id}/")
        let spec = try #require(document["paths"]?[template]?[probe.method.lowercased()], "\(template) is documented")
        var headers: [String: String] = [:]
        if let type = probe.contentType { headers["Content-Type"] = type }
        if probe.origin { headers["Origin"] = WebPageTests.origin(harness) }
        let token: String? = switch probe.token {
        case .none: nil
        case .operatorToken: harness.operatorToken
        case .agentToken: harness.agentToken
        }
        let reply = try await harness.send(probe.method, probe.path, token: token, body: probe.body.map { Data($0.utf8) }, headers: headers)
        #expect(reply.status == probe.status, "\(probe.name): \(reply.status) \(reply.text.prefix(300))")
        let response = try #require(spec["responses"]?[String(reply.status)], "\(probe.name): \(reply.status) is not documented for \(probe.method) \(template)")
        let resolved = SchemaCheck.resolve(response, in: document)
        if let schema = resolved["content"]?["application/json"]?["schema"] {
            #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true, "\(probe.name)")
            let problems = SchemaCheck.problems(reply.json, against: schema, in: document, at: probe.name)
            #expect(problems.isEmpty, "\(problems)")
        } else if let type = resolved["content"]?.objectValue?.keys.first {
            #expect(reply.header("Content-Type")?.hasPrefix(type) == true, "\(probe.name): \(reply.header("Content-Type") ?? "none") is not \(type)")
        }
        try await harness.stop()
    }

    @Test func requestsSchemasRefuseNull() throws {
        let document = try OpenAPITests.load()
        let submit = try #require(document["components"]?["schemas"]?["SubmitRequest"]?["properties"])
        for field in ["template", "version", "customer", "idempotency_key"] {
            #expect(submit[field]?["type"] == "string", "\(field) is a string, never null")
        }
        #expect(!SchemaCheck.problems(["template": "t", "version": nil, "input": [:]], against: ["$ref": "#/components/schemas/SubmitRequest"], in: document, at: "null").isEmpty)
    }
}
