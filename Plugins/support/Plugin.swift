// The customer-support steps, written in Swift with StewardPluginKit.
//
// Only `stw_plugin_entry` is public; everything else stays internal so that the plugin's
// symbols cannot clash with the host's. The module has a unique name (StewardSupportPlugin)
// because same-named Swift modules confuse the runtime's type lookup.
import StewardPluginKit

/// The ABI entry point: hands the host the plugin's descriptor and does nothing else.
@_cdecl("stw_plugin_entry")
public func stw_plugin_entry(
    _ host: UnsafePointer<stw_host>?, _ out: UnsafeMutablePointer<UnsafePointer<stw_plugin>?>?
) -> stw_status {
    PluginKit.entry(host, out, plugin: support)
}

/// Every step is thread-safe for real: none keeps state.
let support = Plugin(
    name: "support", version: "1.0.0", description: "Customer-support steps: normalise, route, draft and send replies",
    steps: [
        Step(
            "normalize", version: "1.0.0", description: "Clean a raw ticket into one text field plus metadata",
            flags: [.threadSafe, .pure, .nonBlocking], Steps.normalize),
        Step(
            "route", version: "1.0.0", description: "Map a category to a queue and priority using the routing table in the input",
            flags: [.threadSafe, .pure, .nonBlocking], Steps.route),
        Step(
            "draft_reply", version: "1.0.0", description: "Draft a customer reply from the category's reply template",
            flags: [.threadSafe, .pure, .nonBlocking], Steps.draftReply),
        Step(
            "send_reply", version: "1.0.0", description: "Record the reply as sent (deduplicated by idempotency key)",
            flags: [.threadSafe], Steps.sendReply),
    ])
