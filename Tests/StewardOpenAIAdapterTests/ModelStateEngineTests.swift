import Foundation
import StewardBootstrap
import StewardDispatch
import StewardJSON
import StewardPlugins
import StewardPrompts
import StewardCore
import StewardEngine
import StewardReview
import StewardStoreSQLite
import StewardTemplates
import StewardTesting
import Testing

/// A template's `model` state bound to `openai-chat@1.0.0`, run by the durable engine (SQLite
/// store, dispatcher, plugin registry) against the test's HTTP server.
@Suite struct ModelStateEngineTests {
    static let labels: JSONValue = ["card_arrival", "lost_or_stolen_card", "fees"]

    /// A one-model-state template; `binding` is the template's own binding of the role.
    static func template(server: FakeChatServer, binding: String, maxRetries: Int = 0) -> String {
        _ = TestKey.value
        return TestPlans.templateText(
            """
            plugins: []
            models:
              triager: \(binding)
            retry: {max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 1000}
            start: classify
            states:
              classify:
                kind: model
                role: triager
                task: classify
                prompt: tests/classify-ticket@1
                input: {text: input.text}
                parameters:
                  base_url: "\(server.baseURL)"
                  model: test-model
                  api_key_env: \(TestKey.variable)
                  labels: \(labels.jsonString)
                  max_retries: \(maxRetries)
                  retry_backoff_ms: 1
                  top_k: 3
                output: classification
                next: done
              done:
                kind: end
                status: completed
                output:
                  classification: classification
            """, name: "openai-triage")
    }

    /// The engine `EngineAssembly` builds from a workspace holding the template and its prompt
    /// (as `steward` would), with the OpenAI-compatible plugin.
    struct Fixture {
        let engine: Engine
        let store: any EngineStore
        let sleeper: RecordingSleeper
        let directory: URL

        init(text: String) async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-openai-\(UUID().uuidString)")
            let workflows = directory.appendingPathComponent("workflows")
            let prompts = workflows.appendingPathComponent("prompts/tests")
            try FileManager.default.createDirectory(at: prompts, withIntermediateDirectories: true)
            try text.write(to: workflows.appendingPathComponent("openai-triage.yaml"), atomically: true, encoding: .utf8)
            try "Classify this banking ticket.\n\nTicket: {{{text}}}".write(
                to: prompts.appendingPathComponent("classify-ticket@1.mustache"), atomically: true, encoding: .utf8)
            sleeper = RecordingSleeper()
            let assembly = try await EngineAssembly.assemble(EngineOptions(
                workspace: Workspace(root: directory), workflows: workflows.path, database: directory.appendingPathComponent("engine.db").path,
                pluginDirectories: [try OpenAIPlugin.path()], buildPlugins: false, clock: ManualEngineClock(milliseconds: 1_790_000_000_000),
                sleeper: sleeper))
            try #require(assembly.problems.isEmpty, "\(assembly.problems)")
            engine = assembly.engine
            store = assembly.store
        }

        /// An engine over `plan` built by hand, for a template the assembly's validation would
        /// refuse (a role bound to an adapter that is not loaded): what the runtime does then.
        init(plan: Plan, customerBindings: [String: String]) throws {
            var library = PlanLibrary([plan])
            library.setBindings(customerBindings, template: plan.name, customer: "acme-bank")
            var prompts = PromptLibrary()
            try prompts.add(id: "tests/classify-ticket@1", text: "Classify this banking ticket.\n\nTicket: {{{text}}}", file: "classify-ticket@1.mustache")
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-openai-\(UUID().uuidString)")
            store = try SQLiteStore(path: directory.appendingPathComponent("engine.db").path)
            sleeper = RecordingSleeper()
            let dispatcher = Dispatcher(registry: try OpenAIPlugin.registry(), prompts: prompts)
            engine = Engine(
                store: store, plans: library, invoker: PooledStepInvoker(pool: BlockingCallPool(size: 2), call: dispatcher.call),
                clock: ManualEngineClock(milliseconds: 1_790_000_000_000), sleeper: sleeper)
        }
    }

    @Test func modelStateCallsTheEndpointAndRecordsTheAdapterVersion() async throws {
        let server = try FakeChatServer([.completion(#"{"label": "lost_or_stolen_card", "confidence": 0.93}"#, promptTokens: 40, completionTokens: 12)])
        defer { server.stop() }
        let fixture = try await Fixture(text: Self.template(server: server, binding: "openai-chat@1.0.0"))
        defer { try? FileManager.default.removeItem(at: fixture.directory) }

        let finished = try await fixture.engine.submit(template: "openai-triage", input: ["text": "Someone stole my card"], id: "openai-1")
        #expect(finished.status == .completed)
        #expect(finished.bindings["triager"] == "openai-chat@1.0.0")

        // What the store holds, not just what submit returned.
        let stored = try #require(try await fixture.store.instance(id: "openai-1"))
        let classification = try #require(stored.data["classification"])
        #expect(classification["adapter"] == "openai-chat@1.0.0")
        #expect(classification["label"] == "lost_or_stolen_card")
        #expect(classification["confidence"] == 0.93)
        #expect(classification["usage"]?["input_tokens"] == 40)
        #expect(classification["usage"]?["output_tokens"] == 12)
        #expect((classification["usage"]?["latency_us"]?.integerValue ?? 0) > 0)
        #expect(stored.output?["classification"]?["adapter"] == "openai-chat@1.0.0")

        // The rendered, versioned prompt is what the model saw.
        #expect(server.requests.count == 1)
        #expect(server.requests.first?.message(1) == "Classify this banking ticket.\n\nTicket: Someone stole my card")
        #expect(server.requests.first?.headers["authorization"] == "Bearer \(TestKey.value)")
    }

    /// The template binds the role to an adapter this process does not load; the customer's
    /// overlay rebinds it to openai-chat, which ignores the other adapter's `top_k`.
    @Test func customerOverlayRebindsTheRole() async throws {
        let server = try FakeChatServer([.completion(#"{"label": "fees"}"#)])
        defer { server.stop() }
        let fixture = try Fixture(
            plan: TestPlans.plan(Self.template(server: server, binding: "banking-intent@2.0.0"), name: "openai-triage", raw: true),
            customerBindings: ["triager": "openai-chat@1.0.0"])
        defer { try? FileManager.default.removeItem(at: fixture.directory) }

        let plain = try await fixture.engine.submit(template: "openai-triage", input: ["text": "Why this fee?"], id: "openai-plain")
        #expect(plain.status == .failed)
        #expect(plain.bindings["triager"] == "banking-intent@2.0.0")
        #expect(plain.failure?.kind == "unknown_adapter", "\(String(describing: plain.failure))")
        #expect(server.requests.isEmpty)

        let acme = try await fixture.engine.submit(
            template: "openai-triage", customer: "acme-bank", input: ["text": "Why this fee?"], id: "openai-acme")
        #expect(acme.status == .completed)
        #expect(acme.bindings["triager"] == "openai-chat@1.0.0")
        let stored = try #require(try await fixture.store.instance(id: "openai-acme"))
        #expect(stored.data["classification"]?["adapter"] == "openai-chat@1.0.0")
        #expect(stored.data["classification"]?["label"] == "fees")
        // No confidence in the model's answer: stored as null, so a threshold guard cannot pass by accident.
        #expect(stored.data["classification"]?["confidence"] == .null)
    }

    /// After the adapter's own retries the failure is transient and the engine's retry policy
    /// takes over: the second engine attempt succeeds.
    @Test func engineRetriesWhenTheAdapterGivesUp() async throws {
        let server = try FakeChatServer([.error(503), .error(503), .completion(#"{"label": "card_arrival", "confidence": 0.7}"#)])
        defer { server.stop() }
        let fixture = try await Fixture(text: Self.template(server: server, binding: "openai-chat@1.0.0", maxRetries: 1))
        defer { try? FileManager.default.removeItem(at: fixture.directory) }

        let finished = try await fixture.engine.submit(template: "openai-triage", input: ["text": "Card not here yet"], id: "openai-retry")
        #expect(finished.status == .completed)
        #expect(finished.data["classification"]?["label"] == "card_arrival")
        #expect(server.requests.count == 3)
        #expect(fixture.sleeper.delays.count == 1, "one engine-level retry, delays \(fixture.sleeper.delays)")
    }
}
