/// A failure of the store itself (not a conflict): a corrupt row, an unreadable file.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    /// Creates an error.
    public init(_ description: String) {
        self.description = description
    }
}
