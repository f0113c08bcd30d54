import StewardABI

/// Why a call failed: the ABI status the host receives and a message for people.
///
/// Messages never carry the API key: they name the environment variable that holds it, and
/// text the endpoint sent back is passed through `Secrets.redact` first.
struct AdapterFailure: Error {
    let status: stw_status
    let message: String

    /// The input document is not what the call needs; the same call cannot succeed.
    static func invalidInput(_ message: String) -> AdapterFailure { AdapterFailure(status: stw_status(STW_ERR_INVALID_INPUT), message: message) }
    /// Failed for good: wrong configuration, refused request, or an answer that is not usable.
    static func permanent(_ message: String) -> AdapterFailure { AdapterFailure(status: stw_status(STW_ERR_PERMANENT), message: message) }
    /// Worth trying again later (the engine's retry policy decides when).
    static func transient(_ message: String) -> AdapterFailure { AdapterFailure(status: stw_status(STW_ERR_TRANSIENT), message: message) }
    /// A broken invariant inside the plugin.
    static func `internal`(_ message: String) -> AdapterFailure { AdapterFailure(status: stw_status(STW_ERR_INTERNAL), message: message) }
}

/// Keeps the API key out of every message the plugin writes.
enum Secrets {
    /// `text` with every occurrence of `secret` replaced (a server may echo the key it refused).
    static func redact(_ text: String, _ secret: String?) -> String {
        guard let secret, !secret.isEmpty else { return text }
        return text.replacingOccurrences(of: secret, with: "[redacted]")
    }
}
