import StewardJSON
import StewardPlugins
import Testing

/// The host's checks on what an adapter returns, against a C fixture plugin that can give
/// every bad answer on demand.
@Suite struct AdapterHostTests {
    let adapter: PluginAdapter

    init() throws {
        let plugin = try FixturePlugin.load()
        adapter = try #require(plugin.modelAdapters.first { $0.key == "fixture-output@1.0.0" })
    }

    func call(_ mode: String, task: ModelTask = .classify) throws(StepCallError) -> AdapterResponse {
        try adapter.call(task: task, input: ["mode": .string(mode)], idempotencyKey: "fixture/\(mode)", attempt: 1)
    }

    @Test func goodAnswerCarriesConfidenceAndUsage() throws {
        let response = try call("ok", task: .score)
        #expect(response.output == ["label": "fixture"])
        #expect(response.confidence == 0.25)
        #expect(response.usage == AdapterUsage(inputTokens: 3, outputTokens: 1, latencyMicroseconds: 7))
        #expect(!adapter.info.threadSafe)
    }

    @Test(arguments: ["negative", "unset"])
    func negativeConfidenceMeansNotReported(mode: String) throws {
        #expect(try call(mode).confidence == nil)
    }

    @Test(arguments: [
        ("nan", "confidence nan is outside [0, 1]"),
        ("above-one", "confidence 1.5 is outside [0, 1]"),
        ("bad-utf8", "output is not valid UTF-8"),
        ("bad-json", "output is not valid JSON"),
        ("null-output", "returned STW_OK with a NULL output"),
    ])
    func badAnswersAreInvalidOutput(mode: String, message: String) throws {
        let error = #expect(throws: StepCallError.self) { try call(mode) }
        #expect(error?.kind == .invalidOutput)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.step == "fixture-output@1.0.0")
    }

    @Test func errorStatusKeepsThePluginsMessage() throws {
        let error = #expect(throws: StepCallError.self) { try call("transient") }
        #expect(error == StepCallError(adapter: "fixture-output@1.0.0", kind: .transient, message: "rate limited"))
        #expect(error?.isRetryable == true)
    }

    @Test func unservedTaskIsRefusedBeforeTheCall() throws {
        let error = #expect(throws: StepCallError.self) { try call("ok", task: .extract) }
        #expect(error?.kind == .invalidInput)
        #expect(error?.message == "does not serve the extract task (it serves: classify, score)")
    }

    @Test func duplicateAdapterIDAndVersionIsRefusedAtRegister() throws {
        var registry = try BankingPlugin.registry()
        let fixture = try FixturePlugin.load()
        let error = #expect(throws: PluginLoadError.self) { try registry.register(fixture) }
        #expect(error?.reason == .duplicateAdapter(adapter: "banking-intent@2.0.0", firstLoadedFrom: try BankingPlugin.path()))
        // Refused as a whole: nothing of the fixture was added.
        #expect(registry.adapter(id: "fixture-output", version: "1.0.0") == nil)
        #expect(registry.plugins.map(\.name) == ["banking"])
    }
}
