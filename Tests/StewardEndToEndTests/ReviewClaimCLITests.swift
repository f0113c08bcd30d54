import Foundation
import StewardJSON
import Testing

/// `steward review claim` / `release` from a terminal: a claimed task cannot be decided by a
/// second agent until the claimer releases it; only the claimer releases it.
@Suite("review claims from the CLI", .serialized)
struct ReviewClaimCLITests {
    @Test(.timeLimit(.minutes(3)))
    func aClaimedTaskWaitsForItsClaimer() async throws {
        try await StewardCLITests.requirePlugins()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-claims-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let db = ["--db", scratch.appendingPathComponent("s.db").path]
        let stolen = try await StewardCLITests.stewardAsync(["run", "support-ticket-triage", "--input", "workflows/examples/ticket-2.json"] + db)
        try #require(stolen.status == 0, "\(stolen)")
        func token(_ name: String) async throws -> String {
            let added = try await StewardCLITests.stewardAsync(["reviewers", "add", name, "--credential", "support-agent"] + db)
            return try #require(added.stdout.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("stw_") }.map(String.init), "\(added)")
        }
        let ana = try await token("Ana Agent"), bo = try await token("Bo Agent")

        let claimed = try await StewardCLITests.stewardAsync(["review", "claim", "1", "--minutes", "30", "--token", ana] + db)
        #expect(claimed.status == 0 && claimed.stdout.hasPrefix("task 1 claimed until ") && claimed.stdout.contains("Z"), "\(claimed)")
        let blocked = try await StewardCLITests.stewardAsync(["review", "approve", "1", "--token", bo] + db)
        #expect(blocked.status != 0 && blocked.stderr.contains("claimed") && blocked.stderr.contains("Ana Agent"), "\(blocked)")
        let notTheirs = try await StewardCLITests.stewardAsync(["review", "release", "1", "--token", bo] + db)
        #expect(notTheirs.status != 0 && notTheirs.stderr.contains("only the reviewer who claimed it may release it"), "\(notTheirs)")
        let released = try await StewardCLITests.stewardAsync(["review", "release", "1", "--token", ana] + db)
        #expect(released.status == 0 && released.stdout == "task 1 released\n", "\(released)")
        let approved = try await StewardCLITests.stewardAsync(["review", "approve", "1", "--token", bo] + db)
        #expect(approved.status == 0 && (try? JSONValue.parse(approved.stdout))?["status"] == "completed", "\(approved)")
    }
}
