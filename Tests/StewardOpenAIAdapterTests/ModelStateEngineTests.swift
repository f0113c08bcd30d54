import Foundation
import StewardDispatch
import StewardJSON
import StewardPlugins
import StewardPrompts
import StewardRuntime
import StewardStore
import StewardTemplates
import StewardTesting
import Testing

/// A template's `model` state bound to `openai-chat@1.0.0`, run by the durable engine (SQLite
/// store, dispatcher, plugin registry) against the test's HTTP server.
@Suite struct ModelStateEngineTests {
    static let labels: JSONValue = ["card_arrival", "lost_or_stolen_card", "fees"]

    /// A one-model-state template; `binding` is the template's own binding of the role.
    static func template(server: FakeChatServer, binding: String, maxRetries: Int = 0) throws -> Plan {
        _ = TestKey.value
        return try TestPlans.plan(
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

    struct Fixture {
        let engine: Engine
        let store: SQLiteStore
        let sleeper: RecordingSleeper
        let directory: URL

        init(plan: Plan, customerBindings: [String: String] = [:]) throws {
            var library = PlanLibrary([plan])
            if !customerBindings.isEmpty { library.setBindings(customerBindings, template: plan.name, customer: "acme-bank") }
            var prompts = PromptLibrary()
            try prompts.add(id: "tests/classify-ticket@1", text: "Classify this banking ticket.\n\nTicket: {{{text}}}", file: "classify-ticket@1.mustache")
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-openai-\(UUID().uuidString)")
            store = try SQLiteStore(path: directory.appendingPathComponent("engine.db").path)
            sleeper = RecordingSleeper()
            engine = Engine(
                store: store, plans: library, invoker: Dispatcher(registry: try OpenAIPlugin.registry(), prompts: prompts),
                clock: ManualEngineClock(milliseconds: 1_790_000_000_000), sleeper: sleeper)
        }
    }

    @Test func modelStateCallsTheEndpointAndRecordsTheAdapterVersion() async throws {
        let server = try FakeChatServer([.completion(#"{"label": "lost_or_stolen_card", "confidence": 0.93}"#, promptTokens: 40, completionTokens: 12)])
        defer { server.stop() }
        let fixture = try Fixture(plan: Self.template(server: server, binding: "openai-chat@1.0.0"))
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
            plan: Self.template(server: server, binding: "banking-intent@2.0.0"), customerBindings: ["triager": "openai-chat@1.0.0"])
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
        let fixture = try Fixture(plan: Self.template(server: server, binding: "openai-chat@1.0.0", maxRetries: 1))
        defer { try? FileManager.default.removeItem(at: fixture.directory) }

        let finished = try await fixture.engine.submit(template: "openai-triage", input: ["text": "Card not here yet"], id: "openai-retry")
        #expect(finished.status == .completed)
        #expect(finished.data["classification"]?["label"] == "card_arrival")
        #expect(server.requests.count == 3)
        #expect(fixture.sleeper.delays.count == 1, "one engine-level retry, delays \(fixture.sleeper.delays)")
    }
}
