import Foundation
import StewardJSON
import StewardTesting
import Testing
import Yams

/// `Docs/openapi.yaml` against the running server: the same routes on both sides, and real
/// responses that carry what the document says they carry.
@Suite struct OpenAPITests {
    static let document = Package.root.appendingPathComponent("Docs/openapi.yaml")
    static let methods = ["get", "put", "post", "delete", "patch", "head", "options"]

    /// The document as JSON.
    static func load() throws -> JSONValue {
        try SchemaCheck.document(yaml: String(contentsOf: document, encoding: .utf8))
    }

    static func operations(_ document: JSONValue) -> [String] {
        (document["paths"]?.objectValue ?? [:]).flatMap { path, item in
            (item.objectValue ?? [:]).keys.filter { methods.contains($0) }.map { "\($0.uppercased()) \(path)" }
        }.sorted()
    }

    @Test func documentAndRouterAgree() async throws {
        let document = try Self.load()
        #expect(document["openapi"]?.stringValue?.hasPrefix("3.1") == true)
        let harness = try await ServerHarness.start()
        let routed = Set(harness.server.routes)
        let documented = Set(Self.operations(document))
        #expect(routed.subtracting(documented).isEmpty, "routes missing from Docs/openapi.yaml: \(routed.subtracting(documented).sorted())")
        #expect(documented.subtracting(routed).isEmpty, "documented but not routed: \(documented.subtracting(routed).sorted())")
        #expect(routed.count >= 15)
        try await harness.stop()
    }

    /// Calls every documented operation on the real server (path parameters from a real
    /// instance and task, bodies from the document's examples) and checks: it is routed (not
    /// 404/405), the status it answered is documented, and a JSON body has the documented
    /// required fields with the documented types.
    @Test func everyOperationAnswersAsDocumented() async throws {
        let document = try Self.load()
        let harness = try await ServerHarness.start(auditedCustomer: true)
        let (instance, task) = try await harness.waitingTask()
        let (_, audit) = try await harness.sampledAudit()
        var checked = 0
        for operation in Self.operations(document) {
            let parts = operation.split(separator: " ", maxSplits: 1).map(String.init)
            let (method, template) = (parts[0], parts[1])
            let spec = try #require(document["paths"]?[template]?[method.lowercased()])
            let id = template.hasPrefix("/v1/instances") ? instance : template.contains("/audits/") ? String(audit) : String(task)
            let path = template.replacingOccurrences(of: "{id}", with: id).replacingOccurrences(of: "{name}", with: ServerHarness.triage)
            let operatorOnly = template.hasPrefix("/v1/instances") || template.hasPrefix("/v1/templates")
            let token = operatorOnly ? harness.operatorToken : harness.agentToken
            var body: Data?
            var headers: [String: String] = [:]
            if let content = spec["requestBody"]?["content"]?.objectValue, let (type, media) = content.first {
                headers["Content-Type"] = type
                let example = try #require(media["example"], "\(operation) needs a request example")
                if type == "application/json" {
                    body = Data(example.jsonBytes)
                } else {
                    body = Data((example.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: "&").utf8)
                }
            }
            let reply = try await harness.send(method, path, token: token, body: body, headers: headers)
            // Routes whose documented 404 this harness reaches: no instance waits for the event; no
            // notification has the id (the harness records none).
            let expectedNotFound = (operation == "POST /v1/events/{name}" && reply.text.contains("no instance waits for event"))
                || (operation == "POST /v1/notifications/{id}/retry" && reply.text.contains("no notification"))
            #expect((reply.status != 404 || expectedNotFound) && reply.status != 405, "\(operation) is not routed: \(reply.status) \(reply.text.prefix(200))")
            let response = spec["responses"]?[String(reply.status)]
            #expect(response != nil, "\(operation) answered \(reply.status), which the document does not list")
            guard let response else { continue }
            let resolved = SchemaCheck.resolve(response, in: document)
            if let schema = resolved["content"]?["application/json"]?["schema"] {
                #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true, "\(operation)")
                let problems = SchemaCheck.problems(reply.json, against: schema, in: document, at: "\(operation) \(reply.status)")
                #expect(problems.isEmpty, "\(problems)")
            } else if let types = resolved["content"]?.objectValue?.keys, let type = types.first {
                #expect(reply.header("Content-Type")?.hasPrefix(type) == true, "\(operation): \(reply.header("Content-Type") ?? "none") is not \(type)")
            }
            checked += 1
        }
        #expect(checked == Self.operations(document).count)
        // The error document too, on a real refusal.
        let refusal = try await harness.send("GET", "/v1/instances")
        let errorSchema = try #require(document["components"]?["schemas"]?["Error"])
        #expect(SchemaCheck.problems(refusal.json, against: errorSchema, in: document, at: "401").isEmpty)
        #expect(!SchemaCheck.problems(["error": ["code": "x"]], against: errorSchema, in: document, at: "x").isEmpty, "the checker catches a missing field")
        try await harness.stop()
    }
}
