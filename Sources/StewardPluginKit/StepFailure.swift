import StewardABI

/// Why a step or model call failed: a kind the host maps to its retry policy, and a message
/// for people. The SDK turns it into the ABI status and a host-allocated `error_message`.
///
/// A step closure throws only this type (typed throws), so nothing else can reach the C
/// boundary. Do not trap on bad input (`try!`, `!` on plugin input, out-of-range indexing):
/// a trap kills the host process; throw `.invalidInput` instead.
public struct StepFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure. A struct with static members rather than an enum, so a later
    /// ABI status can be added without breaking a plugin's `switch`.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Code: Sendable, Hashable {
            case invalidInput, transient, permanent, `internal`
        }

        private let code: Code

        /// The input or configuration is wrong; the same call cannot succeed
        /// (`STW_ERR_INVALID_INPUT`, not retried).
        public static let invalidInput = Kind(code: .invalidInput)
        /// A passing failure: timeout, rate limit, lock (`STW_ERR_TRANSIENT`; the engine retries
        /// with backoff, per the template's retry policy).
        public static let transient = Kind(code: .transient)
        /// Failed for good for this input, e.g. a record does not exist (`STW_ERR_PERMANENT`).
        public static let permanent = Kind(code: .permanent)
        /// A bug or broken invariant inside the plugin (`STW_ERR_INTERNAL`, treated as permanent).
        public static let `internal` = Kind(code: .internal)

        /// The ABI status the host receives.
        var status: stw_status {
            switch code {
            case .invalidInput: return stw_status(STW_ERR_INVALID_INPUT)
            case .transient: return stw_status(STW_ERR_TRANSIENT)
            case .permanent: return stw_status(STW_ERR_PERMANENT)
            case .internal: return stw_status(STW_ERR_INTERNAL)
            }
        }

        /// "invalid_input", "transient", "permanent" or "internal", as the host names them.
        public var description: String {
            switch code {
            case .invalidInput: return "invalid_input"
            case .transient: return "transient"
            case .permanent: return "permanent"
            case .internal: return "internal"
            }
        }
    }

    /// The class of failure.
    public let kind: Kind
    /// The message the host puts in its `StepCallError` (UTF-8; never a secret).
    public let message: String

    /// A failure of `kind` with a message for people.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The input or configuration is wrong; the same call cannot succeed.
    public static func invalidInput(_ message: String) -> StepFailure { StepFailure(.invalidInput, message) }
    /// Worth trying again later; the engine's retry policy decides when.
    public static func transient(_ message: String) -> StepFailure { StepFailure(.transient, message) }
    /// Failed for good for this input.
    public static func permanent(_ message: String) -> StepFailure { StepFailure(.permanent, message) }
    /// A broken invariant inside the plugin.
    public static func `internal`(_ message: String) -> StepFailure { StepFailure(.internal, message) }

    /// "transient: upstream timed out".
    public var description: String { "\(kind): \(message)" }
}
