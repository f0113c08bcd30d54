// The customer-support steps, written in Swift against the C ABI.
//
// Only `stw_plugin_entry` is public; everything else stays internal so that the plugin's
// symbols cannot clash with the host's. The module has a unique name (StewardSupportPlugin)
// because same-named Swift modules confuse the runtime's type lookup.
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

/// A C string that lives for the life of the process (plugins are never unloaded).
func staticString(_ text: String) -> UnsafePointer<CChar> {
    UnsafePointer(strdup(text)!)
}

func header<T>(_: T.Type) -> stw_struct_header {
    stw_struct_header(
        struct_size: UInt32(MemoryLayout<T>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
        abi_minor: UInt16(STW_ABI_VERSION_MINOR))
}

enum Descriptor {
    typealias Handler = @convention(c) (UnsafePointer<stw_step_call>?, UnsafeMutablePointer<stw_step_result>?) -> stw_status

    static func step(_ name: String, _ description: String, flags: UInt32, _ handler: Handler) -> UnsafePointer<stw_step> {
        let pointer = UnsafeMutablePointer<stw_step>.allocate(capacity: 1)
        pointer.initialize(to: stw_step(
            header: header(stw_step.self), name: staticString(name), version: staticString("1.0.0"),
            description: staticString(description), flags: flags, invoke: handler))
        return UnsafePointer(pointer)
    }

    // nonisolated(unsafe): built once on first use and never written again; the host only
    // reads it. The pointers are the ABI's [static] descriptor memory.
    nonisolated(unsafe) static let plugin: UnsafePointer<stw_plugin> = {
        let pure = STW_STEP_THREAD_SAFE | STW_STEP_PURE
        let steps: [UnsafePointer<stw_step>?] = [
            step("normalize", "Clean a raw ticket into one text field plus metadata", flags: pure) { call, result in
                run(call, result, Steps.normalize)
            },
            step("route", "Map a category to a queue and priority using the routing table in the input", flags: pure) { call, result in
                run(call, result, Steps.route)
            },
            step("draft_reply", "Draft a customer reply from the category's reply template", flags: pure) { call, result in
                run(call, result, Steps.draftReply)
            },
            step("send_reply", "Record the reply as sent (deduplicated by idempotency key)", flags: STW_STEP_THREAD_SAFE) { call, result in
                run(call, result, Steps.sendReply)
            },
        ]
        let array = UnsafeMutablePointer<UnsafePointer<stw_step>?>.allocate(capacity: steps.count)
        array.initialize(from: steps, count: steps.count)
        let plugin = UnsafeMutablePointer<stw_plugin>.allocate(capacity: 1)
        plugin.initialize(to: stw_plugin(
            header: header(stw_plugin.self), name: staticString("support"), version: staticString("1.0.0"),
            description: staticString("Customer-support steps: normalise, route, draft and send replies"),
            `init`: nil, step_count: steps.count, steps: UnsafePointer(array), adapter_count: 0, adapters: nil,
            get_extension: nil))
        return UnsafePointer(plugin)
    }()
}

/// Decodes the call, runs `body`, and encodes its answer or error into the result.
func run(
    _ call: UnsafePointer<stw_step_call>?, _ result: UnsafeMutablePointer<stw_step_result>?,
    _ body: (StepContext) throws(StepError) -> [String: Any]
) -> stw_status {
    guard let call, let result else { return stw_status(STW_ERR_INTERNAL) }
    let host = call.pointee.host!
    do {
        let context = try StepContext(call.pointee)
        let output = try body(context)
        let bytes = Array(JSON.encode(output).utf8)
        return bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                stw_step_output(host, result, chars.baseAddress, chars.count)
            }
        }
    } catch {
        return stw_step_error(host, result, error.status, error.message)
    }
}
