import Foundation
import StewardDigest
import Synchronization

/// The SHA-256 of a loaded library's file (a plugin, or a plain C library an `ffi` state calls):
/// what an audit names as the code that served a step, and what an operator pins
/// (`workflows/plugins.yaml`, plugins only). Computed on first use and
/// kept (the library cannot change under a loaded process: it is mapped).
public final class BinaryIdentity: Sendable {
    /// The library's path.
    public let path: String
    private let digest = Mutex<String?>(nil)

    /// The identity of the file at `path` (hashed on first use).
    public init(path: String) { self.path = path }

    /// The file's SHA-256 in lower-case hex ("unreadable" when the file cannot be read now).
    public var sha256: String {
        if let known = digest.withLock({ $0 }) { return known }
        let computed = FileManager.default.contents(atPath: path).map { SHA256.hex($0) } ?? "unreadable"
        digest.withLock { $0 = computed }
        return computed
    }
}
