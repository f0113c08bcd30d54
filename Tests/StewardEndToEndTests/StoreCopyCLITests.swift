import Foundation
import StewardJSON
import StewardTesting
import Testing

/// `--store` and `steward store copy` as an operator uses them: a workspace's SQLite store copied
/// into an empty PostgreSQL database (a real server the test starts), verified on arrival, then
/// used by the same commands through `--store postgres://…`.
extension StewardCLITests {
    @Test("an SQLite store is copied into PostgreSQL, verifies there, and the commands work on the copy")
    func storeCopyToPostgres() async throws {
        try await Self.requirePlugins()
        let server = try await PostgresServer.start()
        let target = try await server.makeDatabase(prefix: "copy")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-copy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let database = scratch.appendingPathComponent("s.db").path
        let sqlite = ["--store", "sqlite:" + database]
        let postgres = ["--store", target]

        // A store with finished and waiting instances, a reviewer, a decision and audit entries.
        for (ticket, id) in [(1, "copy-1"), (2, "copy-2"), (2, "copy-3")] {
            let run = try await Self.stewardAsync(
                ["run", "workflows/support-ticket-triage.yaml", "--input", "workflows/examples/ticket-\(ticket).json", "--id", id, "--quiet"] + sqlite)
            #expect(run.status == 0, "\(run)")
        }
        let added = try await Self.stewardAsync(["reviewers", "add", "Ana", "--credential", "support-agent"] + sqlite)
        let token = try #require(added.stdout.split(separator: "\n").first { $0.hasPrefix("token: ") }.map { String($0.dropFirst("token: ".count)) }, "\(added)")
        let decided = try await Self.stewardAsync(["review", "approve", "1", "--token", token] + sqlite)
        #expect(decided.status == 0, "\(decided)")

        let copied = try await Self.stewardAsync(["store", "copy", "--from", "sqlite:" + database, "--to", target])
        #expect(copied.status == 0, "\(copied)")
        #expect(copied.stdout.contains("journal  ") && copied.stdout.contains("verified: "), "\(copied)")
        #expect(!copied.stdout.contains("postgres://") || !copied.stderr.contains("password"), "\(copied)")

        // The same listing and a passing audit on the copy.
        let before = try await Self.stewardAsync(["instances", "list", "--json"] + sqlite)
        let after = try await Self.stewardAsync(["instances", "list", "--json"] + postgres)
        #expect(after.status == 0 && after.stdout == before.stdout, "\(before)\n\(after)")
        let verified = try await Self.stewardAsync(["audit", "verify"] + postgres)
        #expect(verified.status == 0, "\(verified)")
        // The reviewer's token works on the copy, and new work continues its ids.
        let waiting = try await Self.stewardAsync(["review", "list", "--token", token, "--json"] + postgres)
        let open = try JSONValue.parse(waiting.stdout)["tasks"]?.arrayValue ?? []
        #expect(open.count == 1 && open.first?["instance"] == "copy-3", "\(waiting)")
        let fourth = try await Self.stewardAsync(
            ["run", "workflows/support-ticket-triage.yaml", "--input", "workflows/examples/ticket-2.json", "--id", "copy-4", "--quiet"] + postgres)
        #expect(fourth.status == 0, "\(fourth)")
        let tasks = try JSONValue.parse(try await Self.stewardAsync(["review", "list", "--token", token, "--json"] + postgres).stdout)["tasks"]?.arrayValue ?? []
        #expect(tasks.compactMap { $0["id"]?.integerValue }.sorted() == [2, 3], "new task ids follow the copied ones: \(tasks)")
        #expect(try await Self.stewardAsync(["audit", "verify"] + postgres).status == 0)

        // A second copy into the now non-empty target is refused and changes nothing.
        let again = try await Self.stewardAsync(["store", "copy", "--from", "sqlite:" + database, "--to", target])
        #expect(again.status == 1 && again.stderr.contains("not empty"), "\(again)")
        let unchanged = try await Self.stewardAsync(["instances", "list", "--json"] + postgres)
        #expect((try JSONValue.parse(unchanged.stdout)["instances"]?.arrayValue?.count) == 4, "\(unchanged)")
    }

    @Test("a PostgreSQL store that cannot be reached is one line and exit code 3, without the password")
    func unreachableStore() async throws {
        let (socket, port) = try #require(Loopback.claim(listening: false))
        close(socket)
        let run = try await Self.stewardAsync(["instances", "list", "--store", "postgres://steward:s3cret@127.0.0.1:\(port)/nowhere"])
        #expect(run.status == 3, "\(run)")
        #expect(run.stderrLines.count == 1 && run.stderr.contains("cannot reach the PostgreSQL store at 127.0.0.1:\(port)/nowhere"), "\(run)")
        #expect(!run.stderr.contains("s3cret") && !run.stdout.contains("s3cret"), "\(run)")
        let unknown = try await Self.stewardAsync(["instances", "list", "--store", "mysql://db/x"])
        #expect(unknown.status == 3 && unknown.stderr.contains("unknown store 'mysql://…'"), "\(unknown)")
    }
}
