import Foundation
import StewardJSON
import StewardPlugins
import Testing

/// The real banking plugin, called through the C ABI as the engine calls it.
@Suite struct BankingAdapterTests {
    let registry: PluginRegistry
    let modelDirectory = JSONValue.string(Checkout.models.path)

    init() throws {
        registry = try BankingPlugin.registry()
    }

    @Test func declaresEveryAdapterVersionForClassify() throws {
        #expect(registry.adapterKeys == ["banking-intent@1.0.0", "banking-intent@2.0.0", "banking-intent@3.0.0"])
        let adapter = try #require(registry.adapter(id: "banking-intent", version: "2.0.0"))
        #expect(adapter.serves(.classify))
        #expect(!adapter.serves(.generate))
        #expect(adapter.info.threadSafe)
        #expect(registry.stepNames == ["banking.classify"])
    }

    /// Every held-out row, through the ABI: accuracy must reach the 0.85 the support vertical
    /// promises, and match what the trainer measured on the same rows in metrics.json.
    @Test(arguments: ["1.0.0", "2.0.0", "3.0.0"])
    func heldOutAccuracyThroughTheABI(version: String) throws {
        let heldOut = try HeldOut.load()
        #expect(heldOut.rows.count >= 1000)
        #expect(heldOut.heldOutRows.isDisjoint(with: heldOut.calibrationRows))
        var correct = 0
        for (index, row) in heldOut.rows.enumerated() {
            let response = try registry.callAdapter(
                id: "banking-intent", version: version, task: .classify, input: ["text": .string(row.text)],
                parameters: ["model_dir": modelDirectory], idempotencyKey: "test/heldout/\(index)", attempt: 1)
            if response.output["label"]?.stringValue == row.label { correct += 1 }
        }
        let accuracy = Double(correct) / Double(heldOut.rows.count)
        let metrics = try JSONValue.parse(Array(Data(contentsOf: Checkout.models.appendingPathComponent("metrics.json"))))
        let trainerAccuracy = try #require(metrics["models"]?[version]?["held_out"]?["accuracy"]?.doubleValue)
        #expect(accuracy >= 0.85, "banking-intent@\(version) held-out accuracy \(accuracy)")
        #expect(abs(accuracy - trainerAccuracy) < 1e-9, "through the ABI \(accuracy), trainer measured \(trainerAccuracy)")
    }

    /// Version 3 must reach the 0.90 and beat the plain TF-IDF + logistic regression
    /// baseline (version 2) the trainer fitted in the same run, on the same held-out rows.
    @Test func version3BeatsTheBaselineTrainedInTheSameRun() throws {
        let metrics = try JSONValue.parse(Array(Data(contentsOf: Checkout.models.appendingPathComponent("metrics.json"))))
        let v3 = try #require(metrics["models"]?["3.0.0"]?["held_out"]?["accuracy"]?.doubleValue)
        let baseline = try #require(metrics["models"]?["2.0.0"]?["held_out"]?["accuracy"]?.doubleValue)
        #expect(v3 >= 0.90)
        #expect(v3 > baseline)
    }

    /// Version 3 says how likely a text is to be none of the intents, and never names that class.
    @Test(arguments: [
        ("where does jelly come from", true), ("what's the weather in paris tomorrow", true),
        ("How do I make text strikethrough on github?", true),
        ("my card was stolen yesterday", false), ("I still have not received my new card", false),
    ])
    func version3ReportsTheOutOfScopeProbability(text: String, outOfScope: Bool) throws {
        let response = try registry.callAdapter(
            id: "banking-intent", version: "3.0.0", task: .classify, input: ["text": .string(text)],
            parameters: ["model_dir": modelDirectory], idempotencyKey: "test/oos/\(text)", attempt: 1)
        let probability = try #require(response.output["out_of_scope_probability"]?.doubleValue)
        #expect((probability >= 0.5) == outOfScope, "\(text): out of scope \(probability)")
        #expect(response.output["label"]?.stringValue != "out_of_scope")
        let alternatives = try #require(response.output["alternatives"]?.arrayValue)
        #expect(!alternatives.contains { $0["label"]?.stringValue == "out_of_scope" })
        #expect(try #require(response.confidence) + probability <= 1 + 1e-9)
        // Versions without the class say nothing about it.
        let v2 = try registry.callAdapter(
            id: "banking-intent", version: "2.0.0", task: .classify, input: ["text": .string(text)],
            parameters: ["model_dir": modelDirectory], idempotencyKey: "test/oos2/\(text)", attempt: 1)
        #expect(v2.output["out_of_scope_probability"] == nil)
    }

    @Test func answerShapeAndCalibratedConfidence() throws {
        let response = try registry.callAdapter(
            id: "banking-intent", version: "2.0.0", task: .classify,
            input: ["text": "I still have not received my new card, it has been two weeks"],
            parameters: ["model_dir": modelDirectory], idempotencyKey: "test/shape/1", attempt: 1)
        #expect(response.output["label"]?.stringValue == "card_arrival")
        let alternatives = try #require(response.output["alternatives"]?.arrayValue)
        #expect(alternatives.count == 5)
        let confidences = alternatives.compactMap { $0["confidence"]?.doubleValue }
        #expect(confidences == confidences.sorted(by: >))
        #expect(confidences.reduce(0, +) <= 1 + 1e-9)
        #expect(alternatives.first?["label"] == response.output["label"])
        let confidence = try #require(response.confidence)
        #expect(confidence == confidences.first)
        #expect(confidence > 0.5 && confidence <= 1)
        #expect(response.usage.inputTokens == 13)
    }

    @Test func topKParameter() throws {
        let response = try registry.callAdapter(
            id: "banking-intent", version: "1.0.0", task: .classify, input: ["text": "How do I top up by bank transfer?"],
            parameters: ["model_dir": modelDirectory, "top_k": 2], idempotencyKey: "test/topk/1", attempt: 1)
        #expect(response.output["alternatives"]?.arrayValue?.count == 2)
    }

    @Test func stepReturnsLabelConfidenceAndModel() throws {
        let output = try registry.call(
            "banking.classify", input: ["text": "Someone stole my card", "version": "1.0.0"],
            config: ["model_dir": modelDirectory], idempotencyKey: "test/step/1", attempt: 1)
        #expect(output["label"]?.stringValue == "lost_or_stolen_card")
        #expect(output["model"]?.stringValue == "banking-intent@1.0.0")
        let confidence = try #require(output["confidence"]?.doubleValue)
        #expect(confidence == output["alternatives"]?.arrayValue?.first?["confidence"]?.doubleValue)
        let byDefault = try registry.call(
            "banking.classify", input: ["text": "Someone stole my card"], config: ["model_dir": modelDirectory],
            idempotencyKey: "test/step/2", attempt: 1)
        #expect(byDefault["model"]?.stringValue == "banking-intent@2.0.0")
    }

    @Test func missingWeightsFolderIsAPermanentErrorNamingThePath() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("steward-no-models-\(UUID().uuidString)").path
        let error = #expect(throws: StepCallError.self) {
            try registry.callAdapter(
                id: "banking-intent", version: "2.0.0", task: .classify, input: ["text": "where is my card"],
                parameters: ["model_dir": .string(missing)], idempotencyKey: "test/missing/1", attempt: 1)
        }
        #expect(error?.kind == .permanent)
        #expect(error?.callee == .adapter)
        #expect(error?.message.contains(missing + "/banking-intent-2.0.0.stwm") == true)
        let stepError = #expect(throws: StepCallError.self) {
            try registry.call(
                "banking.classify", input: ["text": "where is my card"], config: ["model_dir": .string(missing)],
                idempotencyKey: "test/missing/2", attempt: 1)
        }
        #expect(stepError?.kind == .permanent)
        #expect(stepError?.message.contains(missing) == true)
    }

    @Test func corruptWeightsAreAPermanentError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("steward-bad-models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try Data(contentsOf: Checkout.models.appendingPathComponent("banking-intent-1.0.0.stwm"))
        try good.prefix(good.count / 2).write(to: folder.appendingPathComponent("banking-intent-1.0.0.stwm"))
        let error = #expect(throws: StepCallError.self) {
            try registry.callAdapter(
                id: "banking-intent", version: "1.0.0", task: .classify, input: ["text": "where is my card"],
                parameters: ["model_dir": .string(folder.path)], idempotencyKey: "test/corrupt/1", attempt: 1)
        }
        #expect(error?.kind == .permanent)
        #expect(error?.message.contains("truncated") == true)
    }

    struct BadCall: Sendable, CustomTestStringConvertible {
        let name: String
        let task: ModelTask
        let input: JSONValue
        let parameters: JSONValue
        var testDescription: String { name }
    }

    static let badCalls: [BadCall] = [
        BadCall(name: "no text", task: .classify, input: ["subject": "card"], parameters: [:]),
        BadCall(name: "text not a string", task: .classify, input: ["text": 42], parameters: [:]),
        BadCall(name: "no words", task: .classify, input: ["text": "  ?! "], parameters: [:]),
        BadCall(name: "input not an object", task: .classify, input: ["where is my card"], parameters: [:]),
        BadCall(name: "top_k zero", task: .classify, input: ["text": "where is my card"], parameters: ["top_k": 0]),
        BadCall(name: "top_k boolean", task: .classify, input: ["text": "where is my card"], parameters: ["top_k": true]),
        BadCall(name: "model_dir not a string", task: .classify, input: ["text": "where is my card"], parameters: ["model_dir": 3]),
        BadCall(name: "task the adapter does not serve", task: .generate, input: ["text": "where is my card"], parameters: [:]),
    ]

    @Test(arguments: badCalls)
    func badCallsAreInvalidInput(_ bad: BadCall) throws {
        var parameters = bad.parameters.objectValue ?? [:]
        if parameters["model_dir"] == nil { parameters["model_dir"] = modelDirectory }
        let error = #expect(throws: StepCallError.self) {
            try registry.callAdapter(
                id: "banking-intent", version: "2.0.0", task: bad.task, input: bad.input, parameters: .object(parameters),
                idempotencyKey: "test/bad/1", attempt: 1)
        }
        #expect(error?.kind == .invalidInput)
    }

    @Test func unknownVersionNamesTheLoadedOnes() throws {
        let error = #expect(throws: StepCallError.self) {
            try registry.callAdapter(
                id: "banking-intent", version: "9.0.0", task: .classify, input: ["text": "hi"], idempotencyKey: "k", attempt: 1)
        }
        #expect(error?.kind == .unknownAdapter)
        #expect(error?.description == "adapter banking-intent@9.0.0 failed (unknown_adapter): no loaded plugin provides this version (loaded: 1.0.0, 2.0.0, 3.0.0)")
    }

    /// Host-side wall time per call through the ABI (JSON in, JSON out, checks included).
    @Test func latencyThroughTheABI() throws {
        let heldOut = try HeldOut.load()
        let texts = heldOut.rows.prefix(300).map(\.text)
        for version in ["1.0.0", "2.0.0"] {
            var timings: [Duration] = []
            for (index, text) in texts.enumerated() {
                let start = ContinuousClock.now
                _ = try registry.callAdapter(
                    id: "banking-intent", version: version, task: .classify, input: ["text": .string(text)],
                    parameters: ["model_dir": modelDirectory], idempotencyKey: "test/latency/\(index)", attempt: 1)
                timings.append(ContinuousClock.now - start)
            }
            timings.sort()
            let median = timings[timings.count / 2], p99 = timings[timings.count * 99 / 100]
            func micros(_ duration: Duration) -> Int { Int(duration / .microseconds(1)) }
            print("banking-intent@\(version): \(texts.count) calls through the ABI, median \(micros(median)) µs, p99 \(micros(p99)) µs")
            #expect(median < .milliseconds(20))
        }
    }

    @Test func concurrentCallsAgreeWithSerialOnes() async throws {
        let registry = registry, modelDirectory = modelDirectory
        let texts = try HeldOut.load().rows.prefix(64).map(\.text)
        let serial = try texts.map { text in
            try registry.callAdapter(
                id: "banking-intent", version: "2.0.0", task: .classify, input: ["text": .string(text)],
                parameters: ["model_dir": modelDirectory], idempotencyKey: "s", attempt: 1
            ).output
        }
        let concurrent = try await withThrowingTaskGroup(of: (Int, JSONValue).self) { group in
            for (index, text) in texts.enumerated() {
                group.addTask {
                    let response = try registry.callAdapter(
                        id: "banking-intent", version: "2.0.0", task: .classify, input: ["text": .string(text)],
                        parameters: ["model_dir": modelDirectory], idempotencyKey: "c", attempt: 1)
                    return (index, response.output)
                }
            }
            var outputs = [JSONValue](repeating: .null, count: texts.count)
            for try await (index, output) in group { outputs[index] = output }
            return outputs
        }
        #expect(concurrent == serial)
    }
}
