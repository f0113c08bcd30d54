// HelloSwift.swift -- a complete Steward step plugin in Swift, on StewardPluginKit.
//
// Step "hello_swift.measure": {"text": "..."} -> {"bytes": <UTF-8 size of text>,
// "attempt": <n>, "call_key": <the key every attempt of this call shares, or null>}.
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
    ])
