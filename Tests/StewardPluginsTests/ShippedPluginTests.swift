import Foundation
import StewardJSON
import StewardPlugins
import Testing

/// The plugins shipped in `Plugins/` load through the same host and answer real calls.
@Suite("Shipped plugins")
struct ShippedPluginTests {
    /// Built the way `steward plugins build` builds it (see Plugins/keywords/steward-plugin.yaml).
    @Test(arguments: LoadMode.allCases)
    func keywordsClassifies(_ mode: LoadMode) async throws {
        let source = FixtureBuilder.packageRoot.appendingPathComponent("Plugins/keywords/keywords.c")
        let path = try await FixtureBuilder.plugin(at: source, extraFlags: ["-O2"])
        let registry = try mode.registry([path])
        let step = try #require(registry.step("keywords.classify"))
        #expect(step.isThreadSafe && step.isPure)

        let stolen = try registry.call(
            "keywords.classify", input: ["text": "My card was stolen at the station"], config: [:], idempotencyKey: "t1/classify/1", attempt: 1)
        #expect(stolen["category"] == "card_lost")
        #expect(stolen["matched"] == ["stolen"])
        #expect((stolen["confidence"]?.doubleValue ?? 0) > 0.5)

        let unknown = try registry.call(
            "keywords.classify", input: ["text": "Hello there"], config: [:], idempotencyKey: "t2/classify/1", attempt: 1)
        #expect(unknown["category"] == "general")

        #expect(throws: StepCallError(
            step: "keywords.classify", kind: .invalidInput, message: "input must be a JSON object with a string field \"text\"")
        ) {
            _ = try registry.call("keywords.classify", input: ["body": "no text"], config: [:], idempotencyKey: "t3/classify/1", attempt: 1)
        }
    }

    /// `libStewardSupportPlugin.so`, the SwiftPM dynamic-library product.
    static let supportPlugin = FixtureBuilder.product("StewardSupportPlugin")

    @Test(.enabled(if: supportPlugin != nil, "libStewardSupportPlugin.so is not in the build products directory"), arguments: LoadMode.allCases)
    func swiftSupportPluginRuns(_ mode: LoadMode) throws {
        let registry = try mode.registry([try #require(Self.supportPlugin)])
        let plugin = try #require(registry.plugins.first)
        #expect(plugin.name == "support")
        // Built against the current header, so stamped with the host's own version.
        #expect(plugin.abiMajor == 1 && plugin.abiMinor == PluginLoader.hostABI.minor)
        #expect(registry.stepNames == ["support.normalize", "support.route", "support.draft_reply", "support.send_reply"])

        let normalized = try registry.call(
            "support.normalize", input: ["subject": "Card  lost", "body": " I lost\tmy card\n yesterday "], config: [:],
            idempotencyKey: "t1/normalize/1", attempt: 1)
        #expect(normalized["text"] == "Card lost. I lost my card yesterday")
        #expect(normalized["word_count"] == 7)
        #expect(normalized["channel"] == "email")
        // A channel that sends one `text` field: that is the body.
        let single = try registry.call(
            "support.normalize", input: ["text": "my card has not arrived"], config: [:], idempotencyKey: "t3/normalize/1", attempt: 1)
        #expect(single["text"] == "my card has not arrived" && single["word_count"] == 5)

        let sent1 = try registry.call(
            "support.send_reply", input: ["reply": ["body": "Hi"]], config: [:], idempotencyKey: "t1/send/1", attempt: 1)
        let sent2 = try registry.call(
            "support.send_reply", input: ["reply": ["body": "Hi"]], config: [:], idempotencyKey: "t1/send/1", attempt: 2)
        #expect(sent1["message_id"] == sent2["message_id"], "the same idempotency key sends the same message")

        #expect(throws: StepCallError(step: "support.normalize", kind: .invalidInput, message: "a ticket needs a subject or a body")) {
            _ = try registry.call("support.normalize", input: [:], config: [:], idempotencyKey: "t2/normalize/1", attempt: 1)
        }
    }
}
