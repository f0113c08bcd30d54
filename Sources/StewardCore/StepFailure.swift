/// How one step call failed, as the runtime records it: a kind (which decides whether the
/// attempt is retried) and a message for people. Plugin hosts, ffi calls and model adapters
/// all map their own errors onto it.
public struct StepFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The failure class; only `transient` is retried.
    public var kind: FailureKind
    /// What went wrong, for people (never a secret: it is stored in the journal).
    public var message: String

    /// Creates a failure.
    public init(_ kind: FailureKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// "kind: message".
    public var description: String { "\(kind): \(message)" }
}
