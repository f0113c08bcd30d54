import Logging
import StewardABI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host function table every plugin receives. It lives for the whole process.
enum HostTable {
    /// The logger plugins write through.
    static let logger = Logger(label: "steward.plugin")

    /// The table itself, allocated once and never freed (the ABI promises plugins may keep it).
    // nonisolated(unsafe): the pointee is written once during this initialiser and only
    // read afterwards, by any thread; Swift cannot see that a C pointer is immutable.
    nonisolated(unsafe) static let pointer: UnsafePointer<stw_host> = {
        let table = UnsafeMutablePointer<stw_host>.allocate(capacity: 1)
        var host = stw_host()
        host.header = stw_struct_header(
            struct_size: UInt32(MemoryLayout<stw_host>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
            abi_minor: UInt16(STW_ABI_VERSION_MINOR))
        host.context = nil
        host.host_name = UnsafePointer(strdup("steward"))
        host.host_version = UnsafePointer(strdup(StewardVersion.current))
        host.log = { _, level, message, length in
            guard let message else { return }
            let text = String(decoding: UnsafeRawBufferPointer(start: message, count: length), as: UTF8.self)
            let swiftLevel: Logger.Level
            switch level {
            case Int32(STW_LOG_DEBUG): swiftLevel = .debug
            case Int32(STW_LOG_INFO): swiftLevel = .info
            case Int32(STW_LOG_WARNING): swiftLevel = .warning
            default: swiftLevel = .error
            }
            HostTable.logger.log(level: swiftLevel, "\(text)")
        }
        // Bounded by the running call's output limit (see `OutputLimit`).
        host.alloc = { _, size in OutputLimit.allocate(size) }
        host.free = { _, block in OutputLimit.release(block) }
        host.get_extension = { _, _ in nil }
        table.initialize(to: host)
        return UnsafePointer(table)
    }()
}

/// The engine's version string, reported to plugins and by `steward --version`.
public enum StewardVersion {
    /// The current version.
    public static let current = "0.1.0"
}
