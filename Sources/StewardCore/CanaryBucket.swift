/// Deterministic canary bucketing: an instance's place in [0, 1) for a migration, from the
/// SHA-256 of the migration's name and the instance id. An instance is on the candidate when
/// its place is below the stage's share, so growing the share (5% to 20%) keeps every instance
/// that was in and adds others: nothing flips back.
public enum CanaryBucket {
    /// The instance's place in [0, 1) for `migration`.
    public static func place(instance: String, migration: String) -> Double {
        AuditSampling.fraction(of: "steward-canary/1\u{0}\(migration)\u{0}\(instance)")
    }

    /// Whether the instance runs on the candidate at `share`.
    public static func isCandidate(instance: String, migration: String, share: Double) -> Bool {
        share >= 1 || (share > 0 && place(instance: instance, migration: migration) < share)
    }
}
