import Foundation

/// Keeps the API key out of every message the plugin writes: failures name the environment
/// variable that holds it, and text the endpoint sent back goes through `redact` first.
enum Secrets {
    /// `text` with every occurrence of `secret` replaced (a server may echo the key it refused).
    static func redact(_ text: String, _ secret: String?) -> String {
        guard let secret, !secret.isEmpty else { return text }
        return text.replacingOccurrences(of: secret, with: "[redacted]")
    }
}
