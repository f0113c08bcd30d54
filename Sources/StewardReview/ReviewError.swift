/// Why a review request was refused. Nothing changes when one is thrown.
public struct ReviewError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of refusal, which maps onto an HTTP status.
    public enum Kind: String, Sendable, Equatable {
        /// No or unknown token (401).
        case unauthenticated
        /// The reviewer lacks the credential (403).
        case forbidden
        /// No such task or instance (404).
        case notFound = "not_found"
        /// Already decided, or the instance moved on (409).
        case conflict
        /// Someone else's claim on the task holds (409); the message names them and when it lapses.
        case claimed
        /// The decision is malformed: missing reason, edit not matching the output contract (422).
        case invalid
    }

    /// The class of refusal.
    public let kind: Kind
    /// A readable explanation.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
