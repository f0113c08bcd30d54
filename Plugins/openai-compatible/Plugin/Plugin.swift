// The openai plugin: one model adapter, openai-chat@1.0.0, for any endpoint that speaks the
// OpenAI chat-completions protocol (OpenAI, Azure-style gateways, vLLM, llama.cpp, Ollama...).
// Nothing outside this folder knows which vendor answers: templates bind a role to
// "openai-chat@1.0.0" and pass the endpoint in the model state's parameters.
//
// Only `stw_plugin_entry` is public; the module name (StewardOpenAIPlugin) is unique, and the
// plugin links StewardPluginKit and Foundation only, never an engine module.
import StewardPluginKit

/// The ABI entry point: hands the host the plugin's descriptor and does nothing else.
@_cdecl("stw_plugin_entry")
public func stw_plugin_entry(
    _ host: UnsafePointer<stw_host>?, _ out: UnsafeMutablePointer<UnsafePointer<stw_plugin>?>?
) -> stw_status {
    PluginKit.entry(host, out, plugin: openAI)
}

let openAI = Plugin(
    name: "openai", version: "1.0.0", description: "Model adapter for OpenAI-compatible HTTP endpoints",
    adapters: [
        Adapter(
            id: ChatAdapter.id, version: ChatAdapter.version,
            description: "Any OpenAI-compatible chat-completions endpoint, in JSON output mode",
            tasks: ModelTask.allCases, threadSafe: true, ChatAdapter.call),
    ])
