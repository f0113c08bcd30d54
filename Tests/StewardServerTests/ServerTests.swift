import Foundation
import StewardJSON
import StewardCore
import StewardEngine
import StewardReview
import StewardStoreSQLite
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The API against the real server on a loopback port.
@Suite struct APITests {
    @Test func healthAndReadiness() async throws {
        let harness = try await ServerHarness.start()
        let health = try await harness.send("GET", "/healthz")
        #expect(health.status == 200)
        #expect(health.json["status"] == "ok")
        let ready = try await harness.send("GET", "/readyz")
        #expect(ready.status == 200)
        #expect(ready.json["status"] == "ready")
        #expect(ready.json["checks"]?["store"] == "ok")
        #expect(ready.json["checks"]?["plugins"] == "5 loaded")
        try await harness.stop()
    }

    /// Who calls.
    enum Caller: String, CaseIterable, Sendable {
        case nobody, unknownToken, outsider, agent, operatorRole

        func token(_ harness: ServerHarness) -> String? {
            switch self {
            case .nobody: return nil
            case .unknownToken: return "stw_" + String(repeating: "0", count: 64)
            case .outsider: return harness.outsiderToken
            case .agent: return harness.agentToken
            case .operatorRole: return harness.operatorToken
            }
        }
    }

    /// Expected status per route for each caller: submit, list instances, show instance,
    /// list tasks, show task, decide.
    static let matrix: [(Caller, [Int])] = [
        (.nobody, [401, 401, 401, 401, 401, 401]),
        (.unknownToken, [401, 401, 401, 401, 401, 401]),
        (.outsider, [403, 403, 403, 200, 403, 403]),
        (.agent, [403, 403, 403, 200, 200, 200]),
        // Operators inspect everything but decide only with the credential.
        (.operatorRole, [201, 200, 200, 200, 200, 403]),
    ]

    @Test(arguments: matrix)
    func authorisation(caller: Caller, expected: [Int]) async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()
        let token = caller.token(harness)
        let submit = try await harness.send(
            "POST", "/v1/instances", token: token, json: ["template": .string(ServerHarness.triage), "input": try ServerHarness.ticket(1)])
        let replies = [
            submit,
            try await harness.send("GET", "/v1/instances", token: token),
            try await harness.send("GET", "/v1/instances/\(instance)", token: token),
            try await harness.send("GET", "/v1/tasks", token: token),
            try await harness.send("GET", "/v1/tasks/\(task)", token: token),
            try await harness.send("POST", "/v1/tasks/\(task)/decision", token: token, json: ["decision": "approve"]),
        ]
        #expect(replies.map(\.status) == expected, "\(caller): \(replies.map { "\($0.status) \($0.text)" })")
        for reply in replies where reply.status >= 400 {
            #expect(reply.json["error"]?["code"]?.stringValue != nil, "every error carries {error: {code, message}}: \(reply.text)")
            #expect(reply.json["error"]?["message"]?.stringValue != nil)
            if reply.status == 401 { #expect(reply.header("WWW-Authenticate")?.hasPrefix("Bearer") == true) }
        }
        let tasks = replies[3].json["tasks"]?.arrayValue ?? []
        switch caller {
        case .outsider:
            #expect(tasks.isEmpty, "a reviewer sees only tasks for credentials held")
            let refusals = try await harness.store.auditEntries().filter { $0.kind == "decision_refused" }
            #expect(refusals.count == 1, "the refused decision is audited")
        case .agent, .operatorRole:
            #expect(tasks.contains { $0["id"]?.integerValue == task })
        default:
            break
        }
        if caller == .agent {
            #expect(replies[4].json["task"]?["credential"] == "support-agent")
            #expect(replies[4].json["aop"]?["may_not"]?.arrayValue?.isEmpty == false)
            #expect(try await harness.waitFor(instance) { $0 == "completed" } == "completed")
        }
        try await harness.stop()
    }

    @Test func submitShowAndList() async throws {
        let harness = try await ServerHarness.start()
        let reply = try await harness.send(
            "POST", "/v1/instances", token: harness.operatorToken,
            json: ["template": .string(ServerHarness.triage), "customer": "acme-bank", "input": try ServerHarness.ticket(1)])
        #expect(reply.status == 201)
        let id = try #require(reply.json["id"]?.stringValue)
        #expect(reply.header("Location") == "/v1/instances/\(id)")
        #expect(try await harness.waitFor(id) { $0 != "running" } == "completed")

        let shown = try await harness.send("GET", "/v1/instances/\(id)", token: harness.operatorToken)
        #expect(shown.status == 200)
        #expect(shown.json["status"] == "completed")
        #expect(shown.json["customer"] == "acme-bank")
        let events = shown.json["history"]?.arrayValue?.compactMap { $0["event"]?.stringValue } ?? []
        #expect(events.first == "started")
        #expect(events.filter { $0 == "step_succeeded" }.count >= 4, "\(events)")
        #expect(shown.json["output"]?["delivery"]?["sent"] == true)

        for query in ["", "?status=completed", "?template=support-ticket-triage", "?customer=acme-bank&limit=1"] {
            let listed = try await harness.send("GET", "/v1/instances\(query)", token: harness.operatorToken)
            #expect(listed.status == 200)
            #expect(listed.json["instances"]?.arrayValue?.first?["id"]?.stringValue == id, "\(query): \(listed.text)")
        }
        let none = try await harness.send("GET", "/v1/instances?status=failed", token: harness.operatorToken)
        #expect(none.json["instances"]?.arrayValue?.isEmpty == true)
        try await harness.stop()
    }

    /// A malformed request: method, path, body, content type; expected status, code and field.
    struct Malformed: Sendable, CustomTestStringConvertible {
        var name: String
        var method = "POST"
        var path = "/v1/instances"
        var body: String?
        var contentType: String? = "application/json"
        var status: Int
        var code: String
        var field: String?
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = [
        // The parse error names the member whose value it is in.
        Malformed(name: "not JSON", body: "{\"template\": ", status: 400, code: "malformed_json", field: "template"),
        Malformed(name: "a JSON array", body: "[1, 2]", status: 400, code: "malformed_json"),
        Malformed(name: "no template", body: "{\"input\": {}}", status: 400, code: "invalid_field", field: "template"),
        Malformed(name: "template not a string", body: "{\"template\": 7, \"input\": {}}", status: 400, code: "invalid_field", field: "template"),
        Malformed(name: "input not an object", body: "{\"template\": \"support-ticket-triage\", \"input\": \"hi\"}", status: 400, code: "invalid_field", field: "input"),
        Malformed(name: "no input", body: "{\"template\": \"support-ticket-triage\"}", status: 400, code: "invalid_field", field: "input"),
        Malformed(name: "misspelt field", body: "{\"template\": \"support-ticket-triage\", \"input\": {}, \"idempotencykey\": \"x\"}", status: 400, code: "invalid_field", field: "idempotencykey"),
        Malformed(name: "customer not a string", body: "{\"template\": \"support-ticket-triage\", \"input\": {}, \"customer\": []}", status: 400, code: "invalid_field", field: "customer"),
        Malformed(name: "unknown template", body: "{\"template\": \"no-such\", \"input\": {}}", status: 422, code: "unknown_template", field: "template"),
        Malformed(name: "unknown version", body: "{\"template\": \"support-ticket-triage\", \"version\": \"9.9.9\", \"input\": {}}", status: 422, code: "unknown_template", field: "version"),
        Malformed(name: "text/plain body", body: "{}", contentType: "text/plain", status: 415, code: "unsupported_media_type"),
        Malformed(name: "no content type", body: "{}", contentType: nil, status: 415, code: "unsupported_media_type"),
        Malformed(name: "form body on the API", body: "template=x", contentType: "application/x-www-form-urlencoded", status: 415, code: "unsupported_media_type"),
        Malformed(name: "unknown status filter", method: "GET", path: "/v1/instances?status=done", status: 400, code: "invalid_field", field: "status"),
        Malformed(name: "limit zero", method: "GET", path: "/v1/instances?limit=0", status: 400, code: "invalid_field", field: "limit"),
        Malformed(name: "limit not a number", method: "GET", path: "/v1/instances?limit=ten", status: 400, code: "invalid_field", field: "limit"),
        Malformed(name: "unknown query parameter", method: "GET", path: "/v1/instances?stats=x", status: 400, code: "invalid_field", field: "stats"),
        Malformed(name: "unknown instance", method: "GET", path: "/v1/instances/nope", status: 404, code: "not_found"),
        Malformed(name: "task id not a number", method: "GET", path: "/v1/tasks/abc", status: 404, code: "not_found"),
        Malformed(name: "unknown task", method: "GET", path: "/v1/tasks/999", status: 404, code: "not_found"),
        Malformed(name: "unknown route", method: "GET", path: "/v2/instances", status: 404, code: "not_found"),
        Malformed(name: "wrong method", method: "DELETE", path: "/v1/instances", status: 405, code: "method_not_allowed"),
        Malformed(name: "decision on an unknown task", path: "/v1/tasks/999/decision", body: "{\"decision\": \"approve\"}", status: 404, code: "not_found"),
    ]

    @Test(arguments: malformed)
    func malformedRequests(_ bad: Malformed) async throws {
        let harness = try await ServerHarness.start()
        var headers: [String: String] = [:]
        if let type = bad.contentType, bad.body != nil { headers["Content-Type"] = type }
        let reply = try await harness.send(
            bad.method, bad.path, token: harness.operatorToken, body: bad.body.map { Data($0.utf8) }, headers: headers)
        #expect(reply.status == bad.status, "\(reply.text)")
        #expect(reply.json["error"]?["code"]?.stringValue == bad.code, "\(reply.text)")
        #expect(reply.json["error"]?["field"]?.stringValue == bad.field, "\(reply.text)")
        #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
        if bad.status == 405 { #expect(reply.header("Allow") == "GET, POST") }
        let counts = try await harness.store.countByStatus()
        #expect(counts.isEmpty, "a refused request creates nothing: \(counts)")
        try await harness.stop()
    }

    /// Malformed decisions: missing or ill-typed fields (400) and decisions the desk refuses (422).
    @Test(arguments: [
        ("{}", 400, "invalid_field", "decision"),
        ("{\"decision\": \"maybe\"}", 400, "invalid_field", "decision"),
        ("{\"decision\": 1}", 400, "invalid_field", "decision"),
        ("{\"decision\": \"approve\", \"output\": {}}", 400, "invalid_field", "output"),
        ("{\"decision\": \"reject\", \"reason\": 5}", 400, "invalid_field", "reason"),
        ("{\"decision\": \"edit\"}", 422, "invalid_decision", nil),
        ("{\"decision\": \"edit\", \"output\": \"just text\"}", 422, "invalid_decision", nil),
        ("{\"decision\": \"edit\", \"output\": {\"subject\": \"Re: card\"}}", 422, "invalid_decision", nil),
        ("{\"decision\": \"reject\"}", 422, "invalid_decision", nil),
        ("{\"decision\": \"reject\", \"reason\": \"  \"}", 422, "invalid_decision", nil),
    ] as [(String, Int, String, String?)])
    func malformedDecisions(body: String, status: Int, code: String, field: String?) async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()
        let reply = try await harness.send(
            "POST", "/v1/tasks/\(task)/decision", token: harness.agentToken, body: Data(body.utf8), headers: ["Content-Type": "application/json"])
        #expect(reply.status == status, "\(reply.text)")
        #expect(reply.json["error"]?["code"]?.stringValue == code)
        #expect(reply.json["error"]?["field"]?.stringValue == field)
        #expect(try await harness.store.instance(id: instance)?.status == .waiting, "a refused decision changes nothing")
        #expect(try await harness.store.task(id: task)?.status == "open")
        try await harness.stop()
    }

    @Test func oversizedBodyIsRefusedWith413() async throws {
        let harness = try await ServerHarness.start()
        // 10 MB of valid JSON: refused for its size, not its content.
        var body = Data("{\"template\": \"support-ticket-triage\", \"input\": {\"body\": \"".utf8)
        body.append(Data(repeating: UInt8(ascii: "a"), count: 10_000_000))
        body.append(Data("\"}}".utf8))
        let reply = try await harness.send("POST", "/v1/instances", token: harness.operatorToken, body: body, headers: ["Content-Type": "application/json"])
        #expect(reply.status == 413)
        #expect(reply.json["error"]?["code"] == "body_too_large")
        // Chunked (no Content-Length): refused once 1 MiB has been read.
        var request = URLRequest(url: harness.base.appendingPathComponent("v1/instances"))
        request.httpMethod = "POST"
        request.setValue("Bearer \(harness.operatorToken)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBodyStream = InputStream(data: body)
        let (data, response) = try await harness.session.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 413, "\(String(decoding: data.prefix(300), as: UTF8.self))")
        #expect(try await harness.send("GET", "/healthz").status == 200, "the server is fine afterwards")
        #expect(try await harness.store.countByStatus().isEmpty)
        try await harness.stop()
    }

    @Test func idempotentSubmit() async throws {
        let harness = try await ServerHarness.start()
        let body: JSONValue = ["template": .string(ServerHarness.triage), "input": try ServerHarness.ticket(1)]
        let first = try await harness.send("POST", "/v1/instances", token: harness.operatorToken, json: body, headers: ["Idempotency-Key": "order-77"])
        #expect(first.status == 201)
        let again = try await harness.send("POST", "/v1/instances", token: harness.operatorToken, json: body, headers: ["Idempotency-Key": "order-77"])
        #expect(again.status == 200)
        #expect(again.json["id"] == first.json["id"])
        #expect(again.header("Location") == first.header("Location"))
        var withField = body.objectValue!
        withField["idempotency_key"] = "order-77"
        let viaField = try await harness.send("POST", "/v1/instances", token: harness.operatorToken, json: .object(withField))
        #expect(viaField.status == 200)
        #expect(viaField.json["id"] == first.json["id"])
        let clash = try await harness.send(
            "POST", "/v1/instances", token: harness.operatorToken, json: .object(withField), headers: ["Idempotency-Key": "order-78"])
        #expect(clash.status == 400)
        #expect(clash.json["error"]?["field"] == "idempotency_key")

        // Racing submissions with one key: one instance, one 201.
        let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let reply = try await harness.send("POST", "/v1/instances", token: harness.operatorToken, json: body, headers: ["Idempotency-Key": "race"])
                    return (reply.status, reply.json["id"]?.stringValue)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.filter { $0.0 == 201 }.count == 1, "\(statuses)")
        #expect(statuses.filter { $0.0 == 200 }.count == 7, "\(statuses)")
        #expect(Set(statuses.compactMap(\.1)).count == 1)
        #expect(try await harness.store.instances().count == 2)
        try await harness.stop()
    }

    @Test func secondDecisionConflicts() async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()
        let first = try await harness.send("POST", "/v1/tasks/\(task)/decision", token: harness.agentToken, json: ["decision": "reject", "reason": "tone"])
        #expect(first.status == 200)
        #expect(first.json["task"]?["status"] == "decided")
        #expect(first.json["task"]?["decision"] == "reject")
        let second = try await harness.send("POST", "/v1/tasks/\(task)/decision", token: harness.agentToken, json: ["decision": "approve"])
        #expect(second.status == 409)
        #expect(second.json["error"]?["code"] == "conflict")
        #expect(try await harness.waitFor(instance) { $0 != "running" } == "rejected")
        try await harness.stop()
    }

    @Test func editedOutputIsApplied() async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()
        let edited: JSONValue = ["subject": "Re: My card was stolen", "body": "Hi Jonas, your card is blocked. A new one is on its way."]
        let reply = try await harness.send("POST", "/v1/tasks/\(task)/decision", token: harness.agentToken, json: ["decision": "edit", "output": edited])
        #expect(reply.status == 200, "\(reply.text)")
        #expect(try await harness.waitFor(instance) { $0 == "completed" } == "completed")
        let shown = try await harness.send("GET", "/v1/instances/\(instance)", token: harness.operatorToken)
        #expect(shown.json["output"]?["reply"] == edited)
        #expect(shown.json["output"]?["review"]?["decision"] == "edit")
        try await harness.stop()
    }

    @Test func tokensNeverReachTheLog() async throws {
        let logs = LogCapture()
        let harness = try await ServerHarness.start(logs: logs)
        let (_, task) = try await harness.waitingTask()
        _ = try await harness.send("GET", "/v1/tasks", token: harness.agentToken)
        _ = try await harness.send("GET", "/v1/tasks/\(task)", token: "stw_not-a-real-token-but-still-secret")
        _ = try await harness.send("POST", "/v1/tasks/\(task)/decision", token: harness.agentToken, json: ["decision": "approve"])
        _ = try await harness.send("POST", "/review/sign-in", body: Data("token=\(harness.agentToken)".utf8), headers: WebPageTests.sameOriginForm(harness))
        _ = try await harness.send("POST", "/review/sign-in", body: Data("token=stw_not-a-real-token-but-still-secret".utf8), headers: WebPageTests.sameOriginForm(harness))
        try await harness.stop()
        let text = logs.text
        #expect(text.contains("path=/v1/tasks"), "the capture works: requests are logged")
        #expect(text.contains("task decided"))
        for secret in [harness.agentToken, harness.operatorToken, "stw_not-a-real-token-but-still-secret", String(harness.agentToken.dropFirst(4).prefix(16))] {
            #expect(!text.contains(secret), "a token appears in the log")
        }
    }

    @Test func metricsCountWhatHappened() async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()
        let before = try await harness.send("GET", "/metrics")
        #expect(before.status == 200)
        #expect(before.header("Content-Type")?.hasPrefix("text/plain") == true)
        #expect(before.text.contains("steward_review_queue_depth{credential=\"support-agent\"} 1"), "\(before.text)")
        #expect(before.text.contains("steward_instances_started_total{template=\"support-ticket-triage\",customer=\"\"} 1"))
        #expect(before.text.contains("steward_step_duration_seconds_count{step=\"keywords.classify\"} 1"))
        _ = try await harness.send("POST", "/v1/tasks/\(task)/decision", token: harness.agentToken, json: ["decision": "approve"])
        try await harness.waitFor(instance) { $0 == "completed" }
        let after = try await harness.send("GET", "/metrics").text
        #expect(after.contains("steward_review_queue_depth{credential=\"support-agent\"} 0"), "\(after)")
        #expect(after.contains("steward_instances_completed_total{template=\"support-ticket-triage\",customer=\"\"} 1"))
        #expect(after.contains("steward_checkpoint_wait_seconds_count{credential=\"support-agent\"} 1"))
        #expect(after.contains("steward_step_duration_seconds_count{step=\"support.send_reply\"} 1"))
        try await harness.stop()
    }

    /// Acknowledged work survives a graceful shutdown: every 201 is stored, and the driver
    /// finished it before the process would exit.
    @Test func gracefulShutdownLosesNothing() async throws {
        let harness = try await ServerHarness.start()
        let body: JSONValue = ["template": .string(ServerHarness.triage), "input": try ServerHarness.ticket(1)]
        let accepted = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let reply = try await harness.send("POST", "/v1/instances", token: harness.operatorToken, json: body, headers: ["Idempotency-Key": "stop-\(index)"])
                    return reply.status == 201 ? reply.json["id"]?.stringValue : nil
                }
            }
            return try await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
        }
        try await harness.stop(keepFiles: true)
        defer { harness.removeFiles() }
        #expect(accepted.count == 40)
        for id in accepted {
            let state = try await harness.store.instance(id: id)
            #expect(state?.status == .completed, "\(id) is \(state?.status.rawValue ?? "missing")")
        }
    }
}
