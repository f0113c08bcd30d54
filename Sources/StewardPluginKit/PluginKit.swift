// StewardPluginKit: the SDK for Swift plugins. A plugin declares its steps and adapters as a
// `Plugin` value and writes one exported function; this module builds the ABI's C
// descriptors, decodes each call, runs the closure and hands the answer to the host.
//
// Each plugin library links its own static copy of this module and is loaded RTLD_LOCAL, so
// the copies never see each other. The engine never links it (see Docs/writing-a-plugin.md).

// The entry's signature is made of the ABI's C types (stw_host, stw_plugin, stw_status); a
// plugin that imports this module gets them without a second import.
@_exported import StewardABI
import Synchronization

/// The entry point's implementation: call it from the plugin's one exported function.
///
/// ```swift
/// @_cdecl("stw_plugin_entry")
/// public func stw_plugin_entry(
///     _ host: UnsafePointer<stw_host>?, _ out: UnsafeMutablePointer<UnsafePointer<stw_plugin>?>?
/// ) -> stw_status {
///     PluginKit.entry(host, out, plugin: myPlugin)
/// }
/// ```
public enum PluginKit {
    /// The most steps one plugin may declare. A C step function receives no pointer to its
    /// `stw_step`, so each step gets one of a fixed set of C trampolines.
    public static let maximumSteps = Trampolines.steps.count
    /// The most model adapters one plugin may declare (one trampoline each, as for steps).
    public static let maximumAdapters = Trampolines.adapters.count

    /// Answers the host's `stw_plugin_entry` call: refuses a host of another ABI major with
    /// `STW_ERR_INCOMPATIBLE`, otherwise sets `*out` to the plugin's descriptor and returns `STW_OK`.
    ///
    /// `plugin` is evaluated once per process, on the first call; later calls (the host loads a
    /// library once, but a test may call the entry again) return the same descriptor. The
    /// descriptor, its step and adapter structs and their strings are allocated once and never
    /// freed, as the ABI's `[static]` requires. A plugin with more than `maximumSteps` steps or
    /// `maximumAdapters` adapters is refused with `STW_ERR_INTERNAL` and an error logged
    /// through the host. May be called from any thread.
    public static func entry(
        _ host: UnsafePointer<stw_host>?, _ out: UnsafeMutablePointer<UnsafePointer<stw_plugin>?>?,
        plugin: @autoclosure () -> Plugin
    ) -> stw_status {
        guard let host, let out, host.pointee.header.abi_major == UInt16(STW_ABI_VERSION_MAJOR) else {
            return stw_status(STW_ERR_INCOMPATIBLE)
        }
        guard let registration = Registration.current.load() ?? Registration.publish(plugin(), host: host) else {
            return stw_status(STW_ERR_INTERNAL)
        }
        out.pointee = registration.descriptor.pointer
        return stw_status(STW_OK)
    }
}

/// The C descriptor memory: `[static]` data the host reads from any thread.
// @unchecked Sendable: written once while the registration is built, before it is published,
// and never written again; only read afterwards.
struct DescriptorPointer: @unchecked Sendable {
    let pointer: UnsafePointer<stw_plugin>
}

/// The plugin as declared and as the host sees it, published once per process (per copy of
/// this module, that is per plugin library).
final class Registration: Sendable {
    let plugin: Plugin
    let descriptor: DescriptorPointer

    /// Read by every trampoline without a lock.
    static let current = AtomicLazyReference<Registration>()
    /// Serialises the one build, so racing entry calls allocate the descriptor once.
    private static let building = Mutex<Void>(())

    private init(plugin: Plugin) {
        self.plugin = plugin
        self.descriptor = DescriptorPointer(pointer: Descriptor.build(plugin))
    }

    /// Builds and publishes the registration unless another thread did; nil (after logging
    /// why through `host`) when the plugin declares more callables than there are trampolines.
    static func publish(_ plugin: @autoclosure () -> Plugin, host: UnsafePointer<stw_host>) -> Registration? {
        building.withLock { _ -> Registration? in
            if let existing = current.load() { return existing }
            let declared = plugin()
            guard declared.steps.count <= Trampolines.steps.count, declared.adapters.count <= Trampolines.adapters.count else {
                PluginLog(host: HostReference(pointer: host)).error(
                    "plugin \(declared.name): StewardPluginKit serves at most \(Trampolines.steps.count) steps and \(Trampolines.adapters.count) adapters per plugin; this one declares \(declared.steps.count) and \(declared.adapters.count)")
                return nil
            }
            return current.storeIfNil(Registration(plugin: declared))
        }
    }
}

/// Builds the C structs the host reads, once.
enum Descriptor {
    static func build(_ plugin: Plugin) -> UnsafePointer<stw_plugin> {
        let steps = plugin.steps.enumerated().map { slot, step in
            make(stw_step(
                header: header(stw_step.self), name: forever(step.name), version: forever(step.version),
                description: step.description.map(forever), flags: step.flags.rawValue, invoke: Trampolines.steps[slot]))
        }
        let adapters = plugin.adapters.enumerated().map { slot, adapter in
            make(stw_adapter(
                header: header(stw_adapter.self), id: forever(adapter.id), version: forever(adapter.version),
                description: adapter.description.map(forever), flags: (adapter.threadSafe ? STW_STEP_THREAD_SAFE : 0) | (adapter.nonBlocking ? STW_STEP_NONBLOCKING : 0),
                task_mask: adapter.tasks.reduce(0) { $0 | $1.bit }, invoke: Trampolines.adapters[slot]))
        }
        return make(stw_plugin(
            header: header(stw_plugin.self), name: forever(plugin.name), version: forever(plugin.version),
            description: plugin.description.map(forever), init: nil, step_count: steps.count, steps: table(steps),
            adapter_count: adapters.count, adapters: table(adapters), get_extension: nil,
            deinit: plugin.onShutdown == nil ? nil : { _ in Registration.current.load()?.plugin.onShutdown?() },
            get_extension_with_state: nil))
    }

    /// The header a struct of type `T` carries: its size and the ABI this SDK was built against.
    static func header<T>(_: T.Type) -> stw_struct_header {
        stw_struct_header(
            struct_size: UInt32(MemoryLayout<T>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
            abi_minor: UInt16(STW_ABI_VERSION_MINOR))
    }

    /// A C string that lives for the process (plugins are never unloaded).
    static func forever(_ text: String) -> UnsafePointer<CChar> {
        let bytes = text.utf8CString
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        bytes.withUnsafeBufferPointer { copy.initialize(from: $0.baseAddress!, count: $0.count) }
        return UnsafePointer(copy)
    }

    /// `value` in memory that is never freed.
    static func make<T>(_ value: T) -> UnsafePointer<T> {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: 1)
        pointer.initialize(to: value)
        return UnsafePointer(pointer)
    }

    /// An array of pointers that is never freed; nil when empty (the ABI allows NULL for 0 entries).
    static func table<T>(_ items: [UnsafePointer<T>]) -> UnsafePointer<UnsafePointer<T>?>? {
        guard !items.isEmpty else { return nil }
        let pointer = UnsafeMutablePointer<UnsafePointer<T>?>.allocate(capacity: items.count)
        pointer.initialize(from: items.map { Optional($0) }, count: items.count)
        return UnsafePointer(pointer)
    }
}
