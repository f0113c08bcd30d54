import Foundation
import StewardJSON
import StewardPlugins
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The three shipped Swift plugins in one process, through the real host. Each statically
/// contains its own copy of StewardPluginKit and is opened RTLD_LOCAL, while this process links
/// the engine's modules (StewardJSON, StewardPlugins, ...) and never StewardPluginKit.
@Suite("The shipped Swift plugins side by side")
struct SwiftPluginsTogetherTests {
    static let products = [
        ("StewardSupportPlugin", "STEWARD_SUPPORT_PLUGIN"), ("StewardBankingIntentPlugin", "STEWARD_BANKING_PLUGIN"),
        ("StewardOpenAIPlugin", "STEWARD_OPENAI_PLUGIN"),
    ]
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Plugins/banking-intent/models").path
    /// A public symbol of StewardPluginKit (the metadata accessor of `StepFailure`).
    static let kitSymbol = "$s16StewardPluginKit11StepFailureVMa"

    static func paths() throws -> [String] {
        try products.map { product, variable in try BuiltPlugin.path(product: product, variable: variable) }
    }

    @Test func allThreeLoadAndAnswerInOneProcess() throws {
        let registry = try PluginRegistry(loading: Self.paths())
        #expect(registry.plugins.map(\.name) == ["support", "banking", "openai"])

        // support: a nested object with booleans, an integer beyond 2^53 and a null passes through.
        let customer: JSONValue = [
            "id": .integer(9_007_199_254_740_993), "vip": true, "churned": false, "score": 0.5,
            "address": ["zip": 10115, "lines": ["Main St 1", nil]],
        ]
        let normalized = try registry.call(
            "support.normalize", input: ["subject": "Card lost", "customer": customer, "urgent": true], config: [:],
            idempotencyKey: "all/normalize/1", attempt: 1)
        #expect(normalized["customer"] == customer)
        #expect(normalized["customer"]?["id"]?.integerValue == 9_007_199_254_740_993)
        #expect(normalized["customer"]?["vip"]?.boolValue == true)
        #expect(normalized["customer"]?["churned"]?.boolValue == false)
        #expect(normalized["word_count"] == 2)
        let sent = try registry.call(
            "support.send_reply", input: ["reply": ["body": "Hi"]], config: [:], idempotencyKey: "all/send/1", attempt: 1)
        #expect(sent["sent"]?.boolValue == true)
        #expect(sent["characters"] == 2)

        // banking: the adapter and the step; a boolean top_k is not the number 1.
        let classified = try registry.callAdapter(
            id: "banking-intent", version: "2.0.0", task: .classify, input: ["text": "I lost my card yesterday"],
            parameters: ["model_dir": .string(Self.models), "top_k": 3], idempotencyKey: "all/classify/1", attempt: 1)
        #expect(classified.output["alternatives"]?.arrayValue?.count == 3)
        #expect(classified.confidence.map { (0...1).contains($0) } == true)
        #expect(classified.usage.inputTokens > 0)
        let refused = #expect(throws: StepCallError.self) {
            try registry.callAdapter(
                id: "banking-intent", version: "2.0.0", task: .classify, input: ["text": "I lost my card"],
                parameters: ["model_dir": .string(Self.models), "top_k": true], idempotencyKey: "all/classify/2", attempt: 1)
        }
        #expect(refused?.kind == .invalidInput)
        let step = try registry.call(
            "banking.classify", input: ["text": "I lost my card yesterday"], config: ["model_dir": .string(Self.models), "top_k": 2],
            idempotencyKey: "all/step/1", attempt: 1)
        #expect(step["model"] == "banking-intent@2.0.0")
        #expect(step["alternatives"]?.arrayValue?.count == 2)
        #expect(step["label"] == classified.output["label"])

        // openai: the model's JSON, with booleans, nested objects and integers, comes back as it was.
        let server = try FakeChatServer([
            .completion(#"{"amount": 42, "refund": true, "card": {"blocked": false, "last4": 1234}, "items": [1, 2.5, null], "confidence": 0.9}"#)
        ])
        defer { server.stop() }
        let extracted = try registry.callAdapter(
            id: "openai-chat", version: "1.0.0", task: .extract, input: ["text": "Refund 42 EUR to card 1234"],
            parameters: parameters(server), idempotencyKey: "all/extract/1", attempt: 1)
        #expect(extracted.output == ["amount": 42, "refund": true, "card": ["blocked": false, "last4": 1234], "items": [1, 2.5, nil]])
        #expect(extracted.output["refund"]?.boolValue == true)
        #expect(extracted.output["card"]?["blocked"]?.boolValue == false)
        if case .integer(1234)? = extracted.output["card"]?["last4"] {} else { Issue.record("last4 is not the integer 1234") }
        #expect(extracted.confidence == 0.9)
        #expect(server.requests.first?.json?["model"] == "test-model")
    }

    /// Each library resolves StewardPluginKit's symbols to its own copy; the process itself
    /// (the engine's modules and this test) has none, so no plugin can bind to another's.
    @Test func eachPluginHasItsOwnCopyOfTheKitAndTheHostHasNone() throws {
        let paths = try Self.paths()
        _ = try PluginRegistry(loading: paths)
        let inHost: UnsafeMutableRawPointer? = dlsym(dlopen(nil, RTLD_NOW), Self.kitSymbol)
        #expect(inHost == nil, "the test process must not link StewardPluginKit")
        var copies: Set<UInt> = []
        for path in paths {
            let handle: UnsafeMutableRawPointer? = dlopen(path, RTLD_LAZY | RTLD_NOLOAD)
            let symbol: UnsafeMutableRawPointer? = handle.flatMap { dlsym($0, Self.kitSymbol) }
            #expect(symbol != nil, "\(path) is not loaded or has no StewardPluginKit")
            if let symbol { copies.insert(UInt(bitPattern: symbol)) }
        }
        #expect(copies.count == paths.count)
    }
}
