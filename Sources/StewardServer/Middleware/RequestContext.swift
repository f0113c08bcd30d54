import Hummingbird

/// The context every route and middleware of the server gets: Hummingbird's core storage and
/// the address of the client the request came from (for the sign-in rate limit).
public struct StewardRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The connection's peer IP address (`127.0.0.1`, `::1`), or `unknown` when the channel
    /// has none. This is the TCP peer: behind a reverse proxy it is the proxy's address
    /// (forwarding headers are not trusted).
    public let clientAddress: String

    /// Builds the context for one request on `source.channel`.
    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
