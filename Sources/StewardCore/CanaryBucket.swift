import StewardDigest

/// Deterministic canary bucketing: an instance's place in [0, 1) for a migration, from the
/// SHA-256 of the migration's name and the instance id. An instance is on the candidate when
/// its place is below the stage's share, so growing the share (5% to 20%) keeps every instance
/// that was in and adds others: nothing flips back.
public enum CanaryBucket {
    /// The instance's place in [0, 1) for `migration`.
    public static func place(instance: String, migration: String) -> Double {
        let digest = SHA256.hash(Array("steward-canary/1\u{0}\(migration)\u{0}\(instance)".utf8))
        let bits = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(bits >> 11) / Double(UInt64(1) << 53)
    }

    /// Whether the instance runs on the candidate at `share`.
    public static func isCandidate(instance: String, migration: String, share: Double) -> Bool {
        share >= 1 || (share > 0 && place(instance: instance, migration: migration) < share)
    }
}
