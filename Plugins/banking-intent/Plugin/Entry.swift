// The banking plugin: the banking77 intent classifier as two model adapters
// (banking-intent@1.0.0, naive Bayes; banking-intent@2.0.0, logistic regression) and a step,
// banking.classify, for templates that call it before model states exist.
//
// Only `stw_plugin_entry` is public; the module name (StewardBankingIntentPlugin) and its model
// module (BankingIntentModel) are unique, so they cannot clash with the host's Swift modules.
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
    static func staticString(_ text: String) -> UnsafePointer<CChar> {
        UnsafePointer(strdup(text)!)
    }

    static func header<T>(_: T.Type) -> stw_struct_header {
        stw_struct_header(
            struct_size: UInt32(MemoryLayout<T>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
            abi_minor: UInt16(STW_ABI_VERSION_MINOR))
    }

    static func adapter(version: String, description: String, _ invoke: stw_adapter_fn) -> UnsafePointer<stw_adapter> {
        let pointer = UnsafeMutablePointer<stw_adapter>.allocate(capacity: 1)
        pointer.initialize(to: stw_adapter(
            header: header(stw_adapter.self), id: staticString(Classifier.adapterID), version: staticString(version),
            description: staticString(description),
            // Thread-safe for real: models are immutable once loaded and the cache is behind a Mutex.
            flags: STW_STEP_THREAD_SAFE, task_mask: 1 << UInt32(STW_TASK_CLASSIFY), invoke: invoke))
        return UnsafePointer(pointer)
    }

    // nonisolated(unsafe): built once on first use and never written again; the host only
    // reads it. The pointers are the ABI's [static] descriptor memory.
    nonisolated(unsafe) static let plugin: UnsafePointer<stw_plugin> = {
        let step = UnsafeMutablePointer<stw_step>.allocate(capacity: 1)
        step.initialize(to: stw_step(
            header: header(stw_step.self), name: staticString("classify"), version: staticString("1.0.0"),
            description: staticString("Classify a banking customer message into one of 77 intents with calibrated confidence"),
            flags: STW_STEP_THREAD_SAFE | STW_STEP_PURE, invoke: { call, result in Classifier.step(call, result) }))
        let steps = UnsafeMutablePointer<UnsafePointer<stw_step>?>.allocate(capacity: 1)
        steps.initialize(to: UnsafePointer(step))
        let adapters: [UnsafePointer<stw_adapter>?] = [
            adapter(version: "1.0.0", description: "banking77 intents: multinomial naive Bayes over TF-IDF word 1-2 grams, temperature-calibrated") {
                request, response in Classifier.adapter(request, response, version: "1.0.0")
            },
            adapter(version: "2.0.0", description: "banking77 intents: softmax logistic regression over TF-IDF word 1-2 grams, temperature-calibrated") {
                request, response in Classifier.adapter(request, response, version: "2.0.0")
            },
        ]
        let adapterArray = UnsafeMutablePointer<UnsafePointer<stw_adapter>?>.allocate(capacity: adapters.count)
        adapterArray.initialize(from: adapters, count: adapters.count)
        let plugin = UnsafeMutablePointer<stw_plugin>.allocate(capacity: 1)
        plugin.initialize(to: stw_plugin(
            header: header(stw_plugin.self), name: staticString("banking"), version: staticString("1.0.0"),
            description: staticString("Banking customer-support intent classifier (banking77), as model adapters and a step"),
            init: nil, step_count: 1, steps: UnsafePointer(steps), adapter_count: adapters.count,
            adapters: UnsafePointer(adapterArray), get_extension: nil))
        return UnsafePointer(plugin)
    }()
}
