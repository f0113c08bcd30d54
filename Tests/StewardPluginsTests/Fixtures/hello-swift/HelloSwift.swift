// HelloSwift.swift -- a complete Steward step plugin in Swift, on StewardPluginKit.
//
// Step "hello_swift.measure": {"text": "..."} -> {"bytes": <UTF-8 size of text>,
// "attempt": <n>, "call_key": <the key every attempt of this call shares, or null>}.
// Adapter "hello-swift-label@1.0.0" (classify): {"text": "..."} -> {"label": "greeting" | "other"}.
import StewardPluginKit

/// The one exported symbol: public, and written in the plugin's own module. Everything
/// else in the module stays internal.
@_cdecl("stw_plugin_entry")
public func stw_plugin_entry(
    _ host: UnsafePointer<stw_host>?, _ out: UnsafeMutablePointer<UnsafePointer<stw_plugin>?>?
) -> stw_status {
    PluginKit.entry(host, out, plugin: hello)
}

/// The plugin is its steps. `measure` keeps no state, so it is thread-safe for real (the
/// host may call it from several threads at once), and it has no side effects.
let hello = Plugin(
    name: "hello_swift", version: "1.0.0", description: "The smallest useful Swift plugin",
    steps: [
        Step("measure", version: "1.0.0", description: "Counts the bytes of a text", flags: [.threadSafe, .pure]) {
            call throws(StepFailure) in
            guard let text = call.input["text"]?.stringValue else {
                // A failure: a kind (retrying cannot help) and a message for people.
                throw .invalidInput("hello_swift: the input needs a string field 'text'")
            }
            return [
                "bytes": .integer(Int64(text.utf8.count)), "attempt": .integer(Int64(call.attempt)),
                "call_key": call.callKey.map(JSONValue.string) ?? .null,
            ]
        },
    ],
    adapters: [
        // A model adapter: the host checks the task, the SDK decodes prompt, input and
        // parameters; the answer is the output object, a confidence in [0, 1] and usage.
        Adapter(id: "hello-swift-label", version: "1.0.0", description: "Says whether a text greets", tasks: [.classify], threadSafe: true) {
            call throws(StepFailure) in
            guard let text = call.input["text"]?.stringValue else {
                throw .invalidInput("hello-swift-label: the input needs a string field 'text'")
            }
            let greeting = text.lowercased().contains("hello")
            return ModelAnswer(
                output: ["label": .string(greeting ? "greeting" : "other")], confidence: greeting ? 0.9 : 0.6,
                usage: ModelUsage(inputTokens: UInt64(text.split(separator: " ").count)))
        },
    ])
