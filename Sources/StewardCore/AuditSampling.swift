import StewardDigest
import StewardJSON
import StewardTemplates

/// Which instances passing a checkpoint unreviewed are audited: a draw in `[0, 1)` computed
/// from the instance, not from a random source, so the decision is the same on every replay,
/// in every process, and can be recomputed by anyone holding the instance id.
public enum AuditSampling {
    /// The draw that decides sampling: SHA-256 of `"<customer or empty>/<instance id>/<checkpoint>"`
    /// (UTF-8), its first 53 bits read big-endian as a fraction of 2^53. Uniform for distinct
    /// ids; an instance is sampled when the draw is below the rate (so rate 0 picks none and
    /// rate 1 picks all).
    public static func draw(customer: String?, instance: String, checkpoint: String) -> Double {
        fraction(of: "\(customer ?? "")/\(instance)/\(checkpoint)")
    }

    /// The second, independent draw that decides whether a sampled instance needs two
    /// reviews: as `draw`, over the same text followed by `/double_review`.
    public static func doubleReviewDraw(customer: String?, instance: String, checkpoint: String) -> Double {
        fraction(of: "\(customer ?? "")/\(instance)/\(checkpoint)/double_review")
    }

    /// The audit request for `state` passing `checkpoint` (named `name`) unreviewed, or nil
    /// when its rule (with the customer's `override`) does not pick it.
    static func request(
        for state: InstanceState, at name: String, checkpoint: CheckpointState, override: SampleOverride?
    ) -> AuditRequest? {
        guard let rule = checkpoint.sample?.applying(override),
            draw(customer: state.customer, instance: state.id, checkpoint: name) < rule.rate
        else { return nil }
        let double = doubleReviewDraw(customer: state.customer, instance: state.id, checkpoint: name) < rule.doubleReview
        return AuditRequest(
            state: name, visit: state.enteredAt, credential: rule.credential ?? checkpoint.credential,
            items: rule.items.map { AuditedValue(path: $0, value: state.data.value(at: $0.split(separator: ".")) ?? .null) },
            neededReviews: double ? 2 : 1, rate: rule.rate, bindings: state.bindings, input: state.data["input"] ?? .null)
    }

    /// A deterministic draw in [0, 1) from `text`: the first 53 bits of its SHA-256 (audit
    /// sampling and canary buckets both draw this way).
    static func fraction(of text: String) -> Double {
        let digest = SHA256.hash(Array(text.utf8))
        let bits = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(bits >> 11) / Double(UInt64(1) << 53)
    }
}
