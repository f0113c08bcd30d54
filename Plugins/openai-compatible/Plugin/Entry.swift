// The openai plugin: one model adapter, openai-chat@1.0.0, for any endpoint that speaks the
// OpenAI chat-completions protocol (OpenAI, Azure-style gateways, vLLM, llama.cpp, Ollama...).
// Nothing outside this folder knows which vendor answers: templates bind a role to
// "openai-chat@1.0.0" and pass the endpoint in the model state's parameters.
//
// Only `stw_plugin_entry` is public; the module name (StewardOpenAIPlugin) is unique, and the
// plugin links StewardABI and Foundation only, never an engine module.
import StewardABI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ABI entry point: hands the host the static plugin descriptor and does nothing else.
@_cdecl("stw_plugin_entry")
public func stw_plugin_entry(
    _ host: UnsafePointer<stw_host>?, _ out: UnsafeMutablePointer<UnsafePointer<stw_plugin>?>?
) -> stw_status {
    guard let host, let out, host.pointee.header.abi_major == UInt16(STW_ABI_VERSION_MAJOR) else {
        return stw_status(STW_ERR_INCOMPATIBLE)
    }
    out.pointee = Descriptor.plugin
    return stw_status(STW_OK)
}

enum Descriptor {
    /// A C string that lives for the life of the process (plugins are never unloaded).
    static func forever(_ text: String) -> UnsafePointer<CChar> {
        UnsafePointer(strdup(text)!)
    }

    static func header<T>(_: T.Type) -> stw_struct_header {
        stw_struct_header(
            struct_size: UInt32(MemoryLayout<T>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
            abi_minor: UInt16(STW_ABI_VERSION_MINOR))
    }

    // nonisolated(unsafe): built once on first use and never written again; the host only
    // reads it. The pointers are the ABI's [static] descriptor memory.
    nonisolated(unsafe) static let plugin: UnsafePointer<stw_plugin> = {
        let adapter = UnsafeMutablePointer<stw_adapter>.allocate(capacity: 1)
        adapter.initialize(to: stw_adapter(
            header: header(stw_adapter.self), id: forever(ChatAdapter.id), version: forever(ChatAdapter.version),
            description: forever("Any OpenAI-compatible chat-completions endpoint, in JSON output mode"),
            flags: STW_STEP_THREAD_SAFE, task_mask: TaskKind.mask, invoke: { request, response in ChatAdapter.invoke(request, response) }))
        let adapters = UnsafeMutablePointer<UnsafePointer<stw_adapter>?>.allocate(capacity: 1)
        adapters.initialize(to: UnsafePointer(adapter))
        let plugin = UnsafeMutablePointer<stw_plugin>.allocate(capacity: 1)
        plugin.initialize(to: stw_plugin(
            header: header(stw_plugin.self), name: forever("openai"), version: forever("1.0.0"),
            description: forever("Model adapter for OpenAI-compatible HTTP endpoints"),
            init: nil, step_count: 0, steps: nil, adapter_count: 1, adapters: UnsafePointer(adapters), get_extension: nil))
        return UnsafePointer(plugin)
    }()
}
