#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The deadline and cancel flag of the plugin call the current thread is about to make (ABI
/// 1.2 `deadline_ns` and `cancel_flag`), set by whoever runs the call (the engine's call pool)
/// around it and read when the call struct is filled, so the layers between need not carry
/// them.
///
/// Thread rules: a context belongs to the thread that set it, for the duration of `with`.
public enum PluginCallContext {
    struct Context {
        var deadlineNanoseconds: UInt64
        var cancelFlag: UnsafePointer<UInt32>?
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` with this thread's plugin calls carrying `deadlineNanoseconds`
    /// (CLOCK_MONOTONIC; 0 for none) and `cancelFlag` (nil for none; it must stay valid
    /// until `body` returns).
    public static func with<T, E: Error>(
        deadlineNanoseconds: UInt64, cancelFlag: UnsafePointer<UInt32>?, _ body: () throws(E) -> T
    ) throws(E) -> T {
        var context = Context(deadlineNanoseconds: deadlineNanoseconds, cancelFlag: cancelFlag)
        let previous = pthread_getspecific(key)
        return try withUnsafeMutablePointer(to: &context) { (pointer) throws(E) -> T in
            pthread_setspecific(key, pointer)
            defer { pthread_setspecific(key, previous) }
            return try body()
        }
    }

    /// The context of the call this thread is making (zero and nil outside `with`).
    static var current: Context {
        guard let raw = pthread_getspecific(key) else { return Context(deadlineNanoseconds: 0, cancelFlag: nil) }
        return raw.assumingMemoryBound(to: Context.self).pointee
    }
}
