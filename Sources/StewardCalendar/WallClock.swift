import Foundation
import Synchronization

/// A source of the current instant. The SLA code takes a clock instead of calling `Date()`, so
/// tests drive time with a `ManualClock` and never sleep.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The system's wall clock.
public struct SystemClock: WallClock {
    /// Creates the system clock.
    public init() {}

    /// `Date()`.
    public func now() -> Date { Date() }
}

/// A clock that only moves when told to; safe to share between tasks.
public final class ManualClock: WallClock {
    private let current: Mutex<Date>

    /// Creates a clock showing `start`.
    public init(_ start: Date) {
        current = Mutex(start)
    }

    /// The instant the clock shows.
    public func now() -> Date {
        current.withLock { $0 }
    }

    /// Moves the clock forward (or back, when negative) by `interval` of real time.
    public func advance(by interval: Duration) {
        let (seconds, attoseconds) = interval.components
        current.withLock { $0 = $0.addingTimeInterval(Double(seconds) + Double(attoseconds) * 1e-18) }
    }

    /// Sets the clock to `date`.
    public func set(to date: Date) {
        current.withLock { $0 = date }
    }
}
