import Foundation
import StewardJSON
import StewardCore
import StewardEngine
import StewardReview
import StewardStoreSQLite
import StewardTesting
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `steward serve` as an operator runs it: the real executable, stopped with SIGTERM.
@Suite struct ServeCommandTests {
    static var stewardBinary: URL {
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("steward"),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("steward"),
            Package.root.appendingPathComponent(".build/debug/steward"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[2]
    }

    @Test(.timeLimit(.minutes(2)))
    func resumesAtStartAndStopsGracefullyOnSIGTERM() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.stewardBinary.path), "build the steward executable first (swift build)")
        let plugins = try Package.plugins.get()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("steward.db").path
        let assembly = try await ServerHarness.assemble(database: database)
        let store = assembly.store
        let op = try await store.addReviewer(name: "Olu", credentials: [], role: "operator", at: SystemEngineClock().nowMilliseconds())
        // Left running by an earlier process (submitted, never driven): serve must resume it.
        let engine = assembly.engine
        let leftOver = try await engine.submit(
            template: ServerHarness.triage, input: try ServerHarness.ticket(1), id: "left-over", drive: false)
        try #require(leftOver.status == .running)

        // Run from elsewhere, the classifier and the KB find their data through these.
        var environment = ProcessInfo.processInfo.environment
        environment["STEWARD_MODEL_DIR"] = Package.root.appendingPathComponent("Plugins/banking-intent/models").path
        environment["STEWARD_KB_ARTICLES"] = Package.root.appendingPathComponent("data/stackfaq/articles.json").path
        environment["STEWARD_LIBRARY_PATH"] = plugins.appendingPathComponent("lib").path
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess. Its standard
        // output goes to a file the test reads as it grows.
        let outputFile = directory.appendingPathComponent("serve.out").path
        let process = try ChildProcess.start(
            Self.stewardBinary.path,
            [
                "serve", "--port", "0", "--db", database, "--workflows", Package.root.appendingPathComponent("workflows").path,
                "--plugins", plugins.appendingPathComponent("plugins").path,
            ], directory: directory.path, environment: environment, stdout: outputFile)
        let exited = Mutex(false)
        defer { if !exited.withLock({ $0 }) { process.kill(); _ = process.wait() } }

        // The first line names the port.
        var port: Int?
        let listening = ContinuousClock.now + .seconds(120)
        while port == nil {
            let text = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
            if let range = text.range(of: "http://127.0.0.1:") {
                port = Int(text[range.upperBound...].prefix { $0.isNumber })
                break
            }
            if let ending = process.poll() {
                exited.withLock { $0 = true }
                Issue.record("steward serve ended (\(ending)) before listening: \(text)")
                return
            }
            try #require(ContinuousClock.now < listening, "steward serve did not listen within 120 s: \(text)")
            try await Task.sleep(for: .milliseconds(20))
        }
        let base = URL(string: "http://127.0.0.1:\(try #require(port))")!

        let body = Data(("{\"template\": \"support-ticket-triage\", \"input\": " + (try ServerHarness.ticket(1)).jsonString + "}").utf8)
        let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        var accepted: [String] = []
        for index in 0..<10 {
            var request = URLRequest(url: base.appendingPathComponent("v1/instances"))
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(op.token)", forHTTPHeaderField: "Authorization")
            request.setValue("serve-\(index)", forHTTPHeaderField: "Idempotency-Key")
            let (data, response) = try await session.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 201)
            if let id = try JSONValue.parse(Array(data))["id"]?.stringValue { accepted.append(id) }
        }

        // With the overlays loaded, a customer without one is refused as the API document says.
        var unknown = URLRequest(url: base.appendingPathComponent("v1/instances"))
        unknown.httpMethod = "POST"
        unknown.httpBody = Data(#"{"template": "support-ticket-triage", "customer": "nobody", "input": {}}"#.utf8)
        unknown.setValue("application/json", forHTTPHeaderField: "Content-Type")
        unknown.setValue("Bearer \(op.token)", forHTTPHeaderField: "Authorization")
        let (refusal, refused) = try await session.data(for: unknown)
        #expect((refused as? HTTPURLResponse)?.statusCode == 404, "\(String(decoding: refusal, as: UTF8.self))")
        #expect(try JSONValue.parse(Array(refusal))["error"]?["code"] == "not_found")

        // An operator runs an eval over the API: stored, listed, shown with its cases, and in the status.
        let evals = directory.appendingPathComponent("evals")
        try FileManager.default.createDirectory(at: evals, withIntermediateDirectories: true)
        let golden = try String(contentsOf: Package.root.appendingPathComponent("evals/support-ticket-triage/banking77-heldout.jsonl"), encoding: .utf8)
        try (golden.split(separator: "\n").prefix(40).joined(separator: "\n") + "\n").write(to: evals.appendingPathComponent("golden.jsonl"), atomically: true, encoding: .utf8)
        func call(_ method: String, _ path: String, _ json: String? = nil) async throws -> (Int, JSONValue) {
            var request = URLRequest(url: URL(string: base.absoluteString + path)!)
            request.httpMethod = method
            if let json {
                request.httpBody = Data(json.utf8)
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            request.setValue("Bearer \(op.token)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await session.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONValue.parse(Array(data))) ?? .null)
        }
        let (created, run) = try await call("POST", "/v1/evals/runs", #"{"template": "support-ticket-triage", "dataset": "evals/golden.jsonl", "bindings": {"classifier": "banking-intent@1.0.0"}}"#)
        #expect(created == 201, "\(run)")
        let runID = try #require(run["run"]?.integerValue)
        #expect(run["bindings"]?["classifier"] == "banking-intent@1.0.0")
        #expect(run["metrics"]?.arrayValue?.isEmpty == false)
        let (shown, full) = try await call("GET", "/v1/evals/runs/\(runID)")
        #expect(shown == 200 && full["cases"]?.arrayValue?.count == 40)
        let (listed, runs) = try await call("GET", "/v1/evals/runs?template=support-ticket-triage")
        #expect(listed == 200 && runs["runs"]?.arrayValue?.first?["run"]?.integerValue == runID)
        let (statusCode, status) = try await call("GET", "/v1/evals/status")
        #expect(statusCode == 200 && status["templates"]?.arrayValue?.contains { $0["template"] == "support-ticket-triage" } == true, "\(status)")
        let (outside, _) = try await call("POST", "/v1/evals/runs", #"{"template": "support-ticket-triage", "dataset": "../../etc/passwd"}"#)
        #expect(outside == 422)
        let (badBinding, refusalBody) = try await call("POST", "/v1/evals/runs", #"{"template": "support-ticket-triage", "dataset": "evals/golden.jsonl", "bindings": {"classifier": "banking-intent@9.9.9"}}"#)
        #expect(badBinding == 422 && refusalBody["error"]?["code"] == "invalid_eval", "\(refusalBody)")

        // Migrations over the API: start the shipped plan, see it, a refused approval, a rollback.
        let migrations = directory.appendingPathComponent("migrations")
        try FileManager.default.createDirectory(at: migrations, withIntermediateDirectories: true)
        try String(contentsOf: Package.root.appendingPathComponent("migrations/banking-intent-v2.yaml"), encoding: .utf8)
            .write(to: migrations.appendingPathComponent("v2.yaml"), atomically: true, encoding: .utf8)
        // The plan's regression stage reads the rubric's dataset from the workspace.
        let shipped = directory.appendingPathComponent("evals/support-ticket-triage")
        try FileManager.default.createDirectory(at: shipped, withIntermediateDirectories: true)
        try golden.write(to: shipped.appendingPathComponent("banking77-heldout.jsonl"), atomically: true, encoding: .utf8)
        let (started, startedBody) = try await call("POST", "/v1/migrations", #"{"file": "migrations/v2.yaml"}"#)
        #expect(started == 201, "\(startedBody)")
        #expect(startedBody["migrations"]?.arrayValue?.first?["customers"]?.arrayValue?.first?["state"] == "running", "\(startedBody)")
        let (again, _) = try await call("POST", "/v1/migrations", #"{"file": "migrations/v2.yaml"}"#)
        #expect(again == 422, "a migration name is used once")
        let (shownMigration, _) = try await call("GET", "/v1/migrations/banking-intent-v2")
        #expect(shownMigration == 200)
        let (missing, _) = try await call("GET", "/v1/migrations/no-such")
        #expect(missing == 404)
        let (approval, approvalBody) = try await call("POST", "/v1/migrations/banking-intent-v2/approve", #"{"customer": "acme-bank"}"#)
        #expect(approval == 403, "the operator does not hold migration-approver: \(approvalBody)")
        let (rolledBack, rolledBody) = try await call("POST", "/v1/migrations/banking-intent-v2/rollback", "{}")
        #expect(rolledBack == 200 && rolledBody["migrations"]?.arrayValue?.first?["status"] == "rolled_back", "\(rolledBody)")

        process.kill(SIGTERM)
        // Waited for without blocking a cooperative thread: graceful shutdown takes a moment.
        var ending = process.poll()
        let stopping = ContinuousClock.now + .seconds(60)
        while ending == nil, ContinuousClock.now < stopping {
            try await Task.sleep(for: .milliseconds(20))
            ending = process.poll()
        }
        exited.withLock { $0 = ending != nil }
        #expect(ending?.signal == nil && ending?.status == 0, "exit \(String(describing: ending))")
        #expect(((try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "").contains("steward: stopped"))
        #expect(accepted.count == 10)
        #expect(try await store.instance(id: "left-over")?.status == .completed, "resumed at start")
        for id in accepted {
            #expect(try await store.instance(id: id)?.status == .completed, "\(id) was acknowledged and finished before exit")
        }
    }
}
