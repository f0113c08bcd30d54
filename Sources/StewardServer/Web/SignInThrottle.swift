import Synchronization

/// A sign-in that failed (an unknown token) or was refused by the rate limit, as the audit
/// journal will record it. Never carries the token, only its first characters.
public struct FailedSignIn: Sendable, Hashable {
    /// The client's IP address (`StewardRequestContext.clientAddress`).
    public var clientAddress: String
    /// The first `SignInThrottle.loggedPrefixLength` characters of the token sent.
    public var tokenPrefix: String
    /// Failed attempts counted against the client address, this one included.
    public var failures: Int
    /// True when the attempt was refused with 429 before the token was looked at.
    public var throttled: Bool
    /// When, in ms since 1970 (the engine clock).
    public var at: Int64
}

/// How many failed sign-ins are free, and how the wait grows after them
/// (`StewardServer.signInRateLimit`).
public struct SignInRateLimit: Sendable, Hashable {
    /// Failures allowed before any wait.
    public var freeFailures: Int
    /// The wait after the first failure beyond the free ones; it doubles with each further one.
    public var baseDelayMilliseconds: Int64
    /// The longest wait.
    public var maxDelayMilliseconds: Int64
    /// A key with no failure for this long starts again from zero.
    public var forgetAfterMilliseconds: Int64
    /// Keys kept at most (the oldest are dropped first), bounding memory under a flood.
    public var maxKeys: Int
    /// How long the answer to a wrong token is held back, free failures included.
    public var failureAnswerDelay: Duration

    /// Creates a limit; the defaults are five free failures, then 1 s doubling to 15 min,
    /// forgotten after an hour, 10,000 keys, answers held back 250 ms.
    public init(
        freeFailures: Int = 5, baseDelayMilliseconds: Int64 = 1_000, maxDelayMilliseconds: Int64 = 15 * 60_000,
        forgetAfterMilliseconds: Int64 = 60 * 60_000, maxKeys: Int = 10_000, failureAnswerDelay: Duration = .milliseconds(250)
    ) {
        self.freeFailures = freeFailures
        self.baseDelayMilliseconds = baseDelayMilliseconds
        self.maxDelayMilliseconds = maxDelayMilliseconds
        self.forgetAfterMilliseconds = forgetAfterMilliseconds
        self.maxKeys = maxKeys
        self.failureAnswerDelay = failureAnswerDelay
    }
}

/// The sign-in rate limit: a few free failures per client address and per token prefix, then
/// an exponentially growing wait before the next attempt (answered with 429 and
/// `Retry-After`). An attempt counts as a failure when it starts and is refunded when the
/// token turns out to be good, so a burst of concurrent guesses cannot slip past the count.
///
/// Per address, a guesser is slowed whatever tokens it tries; per token prefix, guesses at one
/// token from many addresses are. A correct token from another address is unaffected (unless
/// it shares the guessed prefix). Thread-safe; state is in memory, so a restart forgets it.
final class SignInThrottle: Sendable {
    /// Characters of a token that form its throttle key (`stw_` and 8 hex digits).
    static let prefixLength = 12
    /// Characters of a failed token written to the log and the audit hook.
    static let loggedPrefixLength = 8

    struct Entry {
        var failures: Int
        var lastFailure: Int64
    }

    private let limit: Mutex<SignInRateLimit>
    private let entries = Mutex<[String: Entry]>([:])

    init(policy: SignInRateLimit = SignInRateLimit()) {
        limit = Mutex(policy)
    }

    /// The limit in force; a change applies from the next attempt.
    var policy: SignInRateLimit {
        get { limit.withLock { $0 } }
        set { limit.withLock { $0 = newValue } }
    }

    /// The throttle keys of an attempt.
    static func keys(address: String, token: String) -> [String] {
        ["address " + address, "prefix " + String(token.prefix(prefixLength))]
    }

    /// The wait a key with `failures` failures imposes after its last one (0 while they are free).
    func delay(after failures: Int) -> Int64 {
        delay(after: failures, policy)
    }

    private func delay(after failures: Int, _ policy: SignInRateLimit) -> Int64 {
        guard failures >= policy.freeFailures else { return 0 }
        let doublings = min(failures - policy.freeFailures, 30)
        return min(policy.baseDelayMilliseconds << Int64(doublings), policy.maxDelayMilliseconds)
    }

    /// Starts an attempt: nil when it may go ahead (and it is then counted as a failure until
    /// `succeeded` refunds it), else the milliseconds to wait. Also returns the failures now
    /// counted against the address.
    func begin(address: String, token: String, now: Int64) -> (retryAfter: Int64?, failures: Int) {
        let keys = Self.keys(address: address, token: token)
        let policy = self.policy
        return entries.withLock { entries in
            var wait: Int64 = 0
            for key in keys {
                guard let entry = entries[key] else { continue }
                if now - entry.lastFailure > policy.forgetAfterMilliseconds {
                    entries[key] = nil
                    continue
                }
                wait = max(wait, entry.lastFailure + delay(after: entry.failures, policy) - now)
            }
            let addressFailures = entries[keys[0]]?.failures ?? 0
            if wait > 0 { return (wait, addressFailures) }
            if entries.count + keys.count > policy.maxKeys {
                // Under a flood of addresses, forget the keys whose last failure is oldest.
                let oldest = entries.sorted { $0.value.lastFailure < $1.value.lastFailure }.prefix(entries.count / 2 + keys.count)
                for (key, _) in oldest { entries[key] = nil }
            }
            for key in keys {
                entries[key, default: Entry(failures: 0, lastFailure: now)].failures += 1
                entries[key]?.lastFailure = now
            }
            return (nil, addressFailures + 1)
        }
    }

    /// The attempt begun with `token` was good: refund it, and forget the token prefix's failures.
    func succeeded(address: String, token: String) {
        let keys = Self.keys(address: address, token: token)
        entries.withLock { entries in
            if let failures = entries[keys[0]]?.failures { entries[keys[0]]?.failures = max(0, failures - 1) }
            entries[keys[1]] = nil
        }
    }
}
