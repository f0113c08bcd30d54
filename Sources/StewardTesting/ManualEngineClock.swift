import StewardEngine
import Synchronization

/// An engine clock that tests set and advance by hand.
public final class ManualEngineClock: EngineClock {
    private let milliseconds: Mutex<Int64>

    /// Starts at `milliseconds` since 1970.
    public init(milliseconds: Int64) {
        self.milliseconds = Mutex(milliseconds)
    }

    /// Now.
    public func nowMilliseconds() -> Int64 { milliseconds.withLock { $0 } }

    /// Moves the clock to `milliseconds`.
    public func set(_ value: Int64) { milliseconds.withLock { $0 = value } }

    /// Moves the clock forward.
    public func advance(milliseconds delta: Int64) { milliseconds.withLock { $0 += delta } }
}
