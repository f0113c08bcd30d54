import Foundation
import StewardJSON
import StewardPlugins
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real `openai-chat@1.0.0` adapter, called through the C ABI as the engine calls it,
/// against an HTTP server the test runs on 127.0.0.1.
@Suite struct ChatAdapterTests {
    let registry: PluginRegistry

    init() throws {
        registry = try OpenAIPlugin.registry()
    }

    @Test func declaresOneThreadSafeAdapterForEveryTask() throws {
        #expect(registry.plugins.map(\.name) == ["openai"])
        #expect(registry.adapterKeys == ["openai-chat@1.0.0"])
        #expect(registry.stepNames.isEmpty)
        let adapter = try #require(registry.adapter(id: "openai-chat", version: "1.0.0"))
        for task in ModelTask.allCases { #expect(adapter.serves(task), "\(task)") }
        #expect(adapter.info.threadSafe)
    }

    struct TaskCase: Sendable, CustomStringConvertible {
        let task: ModelTask
        let content: String
        let extra: [String: JSONValue]
        let output: JSONValue
        let confidence: Double?
        var description: String { "\(task): \(content)" }
    }

    static let taskCases: [TaskCase] = [
        TaskCase(
            task: .classify,
            content: #"{"label": "card_arrival", "confidence": 0.82, "alternatives": [{"label": "card_delivery_estimate", "confidence": 0.1}, "lost_or_stolen_card"]}"#,
            extra: ["labels": ["card_arrival", "card_delivery_estimate", "lost_or_stolen_card"]],
            output: ["label": "card_arrival", "alternatives": [["label": "card_delivery_estimate", "confidence": 0.1], ["label": "lost_or_stolen_card"]]],
            confidence: 0.82),
        // No confidence in the model's JSON: not reported, never a made-up number.
        TaskCase(task: .classify, content: #"{"label": "Card_Arrival"}"#, extra: ["labels": ["card_arrival", "fees"]], output: ["label": "card_arrival"], confidence: nil),
        TaskCase(
            task: .extract, content: #"{"amount": 42.5, "currency": "EUR", "date": null}"#, extra: ["fields": ["amount", "currency", "date"]],
            output: ["amount": 42.5, "currency": "EUR", "date": nil], confidence: nil),
        TaskCase(task: .generate, content: #"{"text": "Your card is on its way."}"#, extra: [:], output: ["text": "Your card is on its way."], confidence: nil),
        // A prompt that asks for other fields gets them as they are.
        TaskCase(
            task: .generate, content: #"{"subject": "Re: card", "body": "Hi", "confidence": 0.6}"#, extra: [:],
            output: ["subject": "Re: card", "body": "Hi"], confidence: 0.6),
        TaskCase(task: .score, content: #"{"score": 0.73, "confidence": 0.9}"#, extra: [:], output: ["score": 0.73], confidence: 0.9),
        // A confidence outside [0, 1] is not a probability: not reported.
        TaskCase(task: .score, content: #"{"score": 4, "confidence": 85}"#, extra: [:], output: ["score": 4], confidence: nil),
    ]

    @Test(arguments: taskCases)
    func successMapsTheAnswerToTheTaskOutput(_ testCase: TaskCase) throws {
        let server = try FakeChatServer([.completion(testCase.content, promptTokens: 31, completionTokens: 9)])
        defer { server.stop() }
        let before = ContinuousClock.now
        let response = try registry.chat(
            testCase.task, parameters: parameters(server, testCase.extra.merging(["temperature": 0.2]) { _, new in new }),
            prompt: "Ticket: where is my card?")
        let wall = before.seconds(to: .now)
        #expect(response.output == testCase.output)
        #expect(response.confidence == testCase.confidence)
        #expect(response.usage.inputTokens == 31)
        #expect(response.usage.outputTokens == 9)
        #expect(response.usage.latencyMicroseconds > 0)
        #expect(Double(response.usage.latencyMicroseconds) / 1e6 <= wall)

        let request = try #require(server.requests.first)
        #expect(server.requests.count == 1)
        #expect(request.method == "POST")
        #expect(request.path == "/v1/chat/completions")
        #expect(request.headers["content-type"] == "application/json")
        let body = try #require(request.json)
        #expect(body["model"] == "test-model")
        #expect(body["temperature"] == 0.2)
        #expect(body["response_format"] == ["type": "json_object"])
        #expect(body["messages"]?.arrayValue?.compactMap { $0["role"]?.stringValue } == ["system", "user"])
        #expect(request.message(0)?.contains("JSON") == true)
        #expect(request.message(1) == "Ticket: where is my card?")
        if let labels = testCase.extra["labels"]?.arrayValue?.compactMap(\.stringValue) {
            #expect(request.message(0)?.contains(labels.joined(separator: ", ")) == true)
        }
    }

    @Test func authorizationCarriesTheKeyFromTheNamedVariable() throws {
        let server = try FakeChatServer([.completion(#"{"text": "ok"}"#), .completion(#"{"text": "ok"}"#)])
        defer { server.stop() }
        _ = try registry.chat(.generate, parameters: parameters(server))
        #expect(server.requests.first?.headers["authorization"] == "Bearer \(TestKey.value)")
        // No api_key_env: no key is sent (local servers need none).
        var anonymous = parameters(server).objectValue!
        anonymous["api_key_env"] = nil
        _ = try registry.chat(.generate, parameters: .object(anonymous))
        #expect(server.requests.count == 2)
        #expect(server.requests.last?.headers["authorization"] == nil)
    }

    @Test func withoutAPromptTheInputIsSent() throws {
        let server = try FakeChatServer([.completion(#"{"label": "fees"}"#), .completion(#"{"score": 1}"#)])
        defer { server.stop() }
        _ = try registry.chat(.classify, input: ["text": "Why was I charged twice?"], parameters: parameters(server))
        #expect(server.requests.first?.message(1) == "Classify this message.\n\nWhy was I charged twice?")
        _ = try registry.chat(.score, input: ["account": "A-1", "open_tickets": 3], parameters: parameters(server, ["max_tokens": 50]))
        let user = try #require(server.requests.last?.message(1))
        #expect(user.hasPrefix("Score this message.\n\nInput (JSON):\n"))
        #expect(user.contains(#""open_tickets":3"#))
        #expect(server.requests.last?.json?["max_tokens"] == 50)
    }

    @Test func emptyPromptAndEmptyInputIsInvalidInput() throws {
        let server = try FakeChatServer([])
        defer { server.stop() }
        let error = #expect(throws: StepCallError.self) {
            try registry.chat(.generate, input: .emptyObject, parameters: parameters(server), prompt: "  \n")
        }
        #expect(error?.kind == .invalidInput)
        #expect(server.requests.isEmpty)
    }

    @Test func rateLimitThenSuccessHonoursRetryAfter() throws {
        let server = try FakeChatServer([
            .error(429, "slow down", headers: ["Retry-After": "1"]), .completion(#"{"label": "fees", "confidence": 0.5}"#),
        ])
        defer { server.stop() }
        let response = try registry.chat(.classify, parameters: parameters(server))
        #expect(response.output["label"] == "fees")
        let requests = server.requests
        #expect(requests.count == 2)
        let gap = requests[0].receivedAt.seconds(to: requests[1].receivedAt)
        #expect(gap >= 0.95, "Retry-After: 1 but the retry came after \(gap) s")
        #expect(response.usage.latencyMicroseconds >= 950_000)
    }

    /// `retry-after-ms` (some gateways) and `Retry-After` as an HTTP date are honoured too.
    @Test func retryAfterInMillisecondsAndAsADate() throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        // Whole seconds, and the first exchange takes time on a loaded machine: a date 4 s ahead
        // still means a wait of more than 1.5 s when the adapter reads it.
        let date = formatter.string(from: Date().addingTimeInterval(4))
        let server = try FakeChatServer([
            .error(429, headers: ["retry-after-ms": "300"]), .completion(#"{"text": "one"}"#),
            .error(429, headers: ["Retry-After": date]), .completion(#"{"text": "two"}"#),
        ])
        defer { server.stop() }
        _ = try registry.chat(.generate, parameters: parameters(server))
        _ = try registry.chat(.generate, parameters: parameters(server))
        let requests = server.requests
        #expect(requests.count == 4)
        let milliseconds = requests[0].receivedAt.seconds(to: requests[1].receivedAt)
        let dated = requests[2].receivedAt.seconds(to: requests[3].receivedAt)
        #expect(milliseconds >= 0.29, "retry-after-ms: 300 but the retry came after \(milliseconds) s")
        #expect(dated >= 1.5, "Retry-After: \(date) but the retry came after \(dated) s")
    }

    @Test func retryAfterIsCappedByMaxRetryWait() throws {
        let server = try FakeChatServer([.error(503, headers: ["Retry-After": "120"]), .completion(#"{"text": "ok"}"#)])
        defer { server.stop() }
        let start = ContinuousClock.now
        let response = try registry.chat(.generate, parameters: parameters(server, ["max_retry_wait_ms": 100]))
        #expect(response.output == ["text": "ok"])
        #expect(server.requests.count == 2)
        #expect(start.seconds(to: .now) < 10)
    }

    @Test(arguments: [0, 2])
    func serverErrorsBecomeTransientAfterMaxRetries(maxRetries: Int) throws {
        let server = try FakeChatServer(Array(repeating: .error(500, "upstream exploded"), count: 3) + [.completion(#"{"text": "too late"}"#)])
        defer { server.stop() }
        let error = #expect(throws: StepCallError.self) {
            try registry.chat(.generate, parameters: parameters(server, ["max_retries": .integer(Int64(maxRetries))]))
        }
        #expect(error?.kind == .transient)
        #expect(error?.message.contains("HTTP 500") == true)
        #expect(error?.message.contains("upstream exploded") == true)
        #expect(error?.message.contains("gave up after \(maxRetries + 1) attempt(s)") == true, "\(error?.message ?? "")")
        #expect(server.requests.count == maxRetries + 1)
    }

    @Test func backoffGrowsBetweenRetries() throws {
        let server = try FakeChatServer([.error(502), .error(502), .completion(#"{"text": "ok"}"#)])
        defer { server.stop() }
        _ = try registry.chat(.generate, parameters: parameters(server, ["retry_backoff_ms": 200]))
        let requests = server.requests
        #expect(requests.count == 3)
        // 200 ms (+ up to 100 jitter), then 400 ms (+ up to 200).
        let first = requests[0].receivedAt.seconds(to: requests[1].receivedAt)
        let second = requests[1].receivedAt.seconds(to: requests[2].receivedAt)
        #expect(first >= 0.19 && second >= 0.39, "waits \(first) s, \(second) s")
    }

    @Test func connectionFailuresAreRetriedThenTransient() throws {
        let port = try FakeChatServer.closedPort()
        let error = #expect(throws: StepCallError.self) {
            try registry.chat(.generate, parameters: ["base_url": .string("http://127.0.0.1:\(port)/v1"), "model": "m", "max_retries": 1, "retry_backoff_ms": 1])
        }
        #expect(error?.kind == .transient)
        #expect(error?.message.contains("cannot reach http://127.0.0.1:\(port)/v1/chat/completions") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("gave up after 2 attempt(s)") == true)
    }

    @Test(arguments: [401, 403])
    func refusedKeyIsPermanentAndNeverQuoted(status: Int) throws {
        let key = TestKey.value
        let server = try FakeChatServer([.error(status, "Incorrect API key provided: \(key)"), .completion(#"{"text": "no"}"#)])
        defer { server.stop() }
        let error = #expect(throws: StepCallError.self) { try registry.chat(.generate, parameters: parameters(server)) }
        #expect(error?.kind == .permanent)
        #expect(error?.message.contains("refused the API key from the environment variable \(TestKey.variable) (HTTP \(status))") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(key) == false)
        #expect(error?.description.contains(key) == false)
        #expect(server.requests.count == 1)
    }

    @Test(arguments: [400, 404, 422])
    func clientErrorsArePermanentWithTheServersMessage(status: Int) throws {
        let server = try FakeChatServer([.error(status, "model 'test-model' does not exist (key \(TestKey.value))"), .completion(#"{"text": "no"}"#)])
        defer { server.stop() }
        let error = #expect(throws: StepCallError.self) { try registry.chat(.generate, parameters: parameters(server)) }
        #expect(error?.kind == .permanent)
        #expect(error?.message.contains("HTTP \(status)") == true)
        #expect(error?.message.contains("model 'test-model' does not exist (key [redacted])") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(TestKey.value) == false)
        #expect(server.requests.count == 1)
    }

    @Test func slowAnswerIsATransientTimeout() throws {
        var slow = ScriptedReply.completion(#"{"text": "late"}"#)
        slow.delayMilliseconds = 3_000
        let server = try FakeChatServer([slow])
        defer { server.stop() }
        let start = ContinuousClock.now
        let error = #expect(throws: StepCallError.self) {
            try registry.chat(.generate, parameters: parameters(server, ["timeout_ms": 300]))
        }
        let elapsed = start.seconds(to: .now)
        #expect(error?.kind == .transient)
        #expect(error?.message.contains("within timeout_ms (300 ms)") == true, "\(error?.message ?? "")")
        #expect(elapsed >= 0.29 && elapsed < 2.5, "gave up after \(elapsed) s")
        // A timeout is not retried inside the adapter: the engine's retry policy decides.
        #expect(server.requests.count == 1)
    }

    struct GarbageCase: Sendable, CustomStringConvertible {
        let task: ModelTask
        let reply: ScriptedReply
        let extra: [String: JSONValue]
        let message: String
        var description: String { message }
    }

    static let garbage: [GarbageCase] = [
        GarbageCase(task: .classify, reply: .completion("Sure! The label is card_arrival."), extra: [:], message: "content that is not JSON: Sure! The label is card_arrival."),
        GarbageCase(task: .classify, reply: .completion(#"{"category": "fees"}"#), extra: [:], message: "has no string 'label'"),
        GarbageCase(
            task: .classify, reply: .completion(#"{"label": "weather"}"#), extra: ["labels": ["fees", "cards"]],
            message: "picked label 'weather', which is not one of the labels: fees, cards"),
        GarbageCase(task: .score, reply: .completion(#"{"score": "high"}"#), extra: [:], message: "has no numeric 'score'"),
        GarbageCase(task: .extract, reply: .completion(#"{"amount": 3}"#), extra: ["fields": ["amount", "currency"]], message: "lacks the required field(s) currency"),
        GarbageCase(task: .extract, reply: .completion("[1, 2]"), extra: [:], message: "is not an object"),
        GarbageCase(task: .generate, reply: .completion("{}"), extra: [:], message: "is an empty object"),
        GarbageCase(task: .generate, reply: ScriptedReply(status: 200, body: "<html>gateway</html>"), extra: [:], message: "not JSON, so not a chat completion: <html>gateway</html>"),
        GarbageCase(task: .generate, reply: ScriptedReply(status: 200, body: #"{"choices": []}"#), extra: [:], message: "has no choices[0].message"),
    ]

    @Test(arguments: garbage)
    func garbageFromTheModelIsPermanent(_ testCase: GarbageCase) throws {
        let server = try FakeChatServer([testCase.reply, testCase.reply])
        defer { server.stop() }
        let error = #expect(throws: StepCallError.self) {
            try registry.chat(testCase.task, parameters: parameters(server, testCase.extra))
        }
        #expect(error?.kind == .permanent)
        #expect(error?.message.contains(testCase.message) == true, "\(error?.message ?? "")")
        #expect(server.requests.count == 1)
    }

    /// The endpoint and model fall back to the environment; with neither, the error says what to set.
    /// The adapter runs in a host process (`isolation: process`) with the variables set or
    /// removed there, so this process's environment never changes under other tests.
    @Test func missingBaseURLIsPermanentAndTheEnvironmentIsTheFallback() throws {
        func isolated(_ changes: [String: String?]) throws -> LoadedPlugin {
            let host = try #require(IsolationEnvironment.locateHost(), "steward-plugin-host is built with the tests")
            var settings = IsolationSettings(mode: .process, hosts: 1, channels: 1)
            settings.environment = changes
            return try PluginLoader.load(path: OpenAIPlugin.path(), isolation: settings, environment: IsolationEnvironment(hostExecutable: host, stateDirectory: nil))
        }
        func registry(_ plugin: LoadedPlugin) throws -> PluginRegistry {
            var registry = PluginRegistry()
            try registry.register(plugin)
            return registry
        }
        let bare = try isolated(["STEWARD_OPENAI_BASE_URL": nil, "STEWARD_OPENAI_MODEL": nil])
        defer { bare.isolated?.stop() }
        let missing = #expect(throws: StepCallError.self) { try registry(bare).chat(.generate, parameters: ["model": "m"]) }
        #expect(missing?.kind == .permanent)
        #expect(missing?.message == "no endpoint configured: set parameters.base_url in the model state (e.g. \"http://127.0.0.1:8080/v1\") or the environment variable STEWARD_OPENAI_BASE_URL")

        let server = try FakeChatServer([.completion(#"{"text": "from env"}"#)])
        defer { server.stop() }
        let noModel = #expect(throws: StepCallError.self) { try registry(bare).chat(.generate, parameters: ["base_url": .string(server.baseURL)]) }
        #expect(noModel?.kind == .permanent)
        #expect(noModel?.message.contains("STEWARD_OPENAI_MODEL") == true)

        let configured = try isolated(["STEWARD_OPENAI_BASE_URL": server.baseURL + "/", "STEWARD_OPENAI_MODEL": "env-model"])
        defer { configured.isolated?.stop() }
        let response = try registry(configured).chat(.generate, parameters: .emptyObject)
        #expect(response.output == ["text": "from env"])
        #expect(server.requests.first?.path == "/v1/chat/completions")
        #expect(server.requests.first?.json?["model"] == "env-model")
    }

    @Test(arguments: [
        (["base_url": "ftp://example.com/v1", "model": "m"] as JSONValue, "is not an http(s) URL"),
        (["base_url": "http://127.0.0.1:1/v1", "model": "m", "api_key_env": "sk-live-abc123"] as JSONValue, "must be the NAME of an environment variable"),
        (["base_url": "http://127.0.0.1:1/v1", "model": "m", "api_key_env": "STEWARD_TEST_NO_SUCH_VARIABLE"] as JSONValue, "STEWARD_TEST_NO_SUCH_VARIABLE named by api_key_env is not set"),
        (["base_url": "http://127.0.0.1:1/v1", "model": "m", "timeout_ms": "fast"] as JSONValue, "'timeout_ms' must be an integer"),
        (["base_url": "http://127.0.0.1:1/v1", "model": "m", "labels": []] as JSONValue, "'labels' must list at least one label"),
    ])
    func badConfigurationIsPermanentBeforeAnyRequest(parameters: JSONValue, message: String) throws {
        let error = #expect(throws: StepCallError.self) { try registry.chat(.classify, parameters: parameters) }
        #expect(error?.kind == .permanent)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        // A key pasted where its variable's name belongs is never echoed.
        #expect(error?.message.contains("sk-live-abc123") == false)
    }

    @Test func unknownParametersOfOtherAdaptersAreIgnored() throws {
        let server = try FakeChatServer([.completion(#"{"label": "fees"}"#)])
        defer { server.stop() }
        let response = try registry.chat(.classify, parameters: parameters(server, ["top_k": 3, "model_dir": "/nowhere"]))
        #expect(response.output == ["label": "fees"])
    }

    /// The adapter is declared thread-safe, so the host calls it concurrently: every caller
    /// must get the answer to its own request.
    @Test func concurrentCallsEachGetTheirOwnAnswer() throws {
        let server = try FakeChatServer { _, request in
            var reply = ScriptedReply.completion((["text": .string(request.message(1) ?? "?")] as JSONValue).jsonString)
            reply.delayMilliseconds = 150
            return reply
        }
        defer { server.stop() }
        let registry = self.registry
        let settings = parameters(server)
        let results = Mutex<[Int: String]>([:])
        let group = DispatchGroup()
        for index in 0..<8 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let text = try? registry.chat(.generate, parameters: settings, prompt: "prompt number \(index)", key: "test/\(index)/1")
                    .output["text"]?.stringValue
                results.withLock { $0[index] = text ?? "failed" }
            }
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        let answers = results.withLock { $0 }
        #expect(answers == Dictionary(uniqueKeysWithValues: (0..<8).map { ($0, "prompt number \($0)") }))
        #expect(server.requests.count == 8)
        #expect(server.mostConcurrent >= 2, "the host serialised a thread-safe adapter")
    }
}
