import Foundation
import GRDB
import StewardJSON
import StewardTesting
import Testing

/// A drive that fails after `POST /v1/instances` answered 201 — here the database is locked
/// by another process's writer longer than the store waits — is visible on the instance
/// (`background_error` with the error, attempts and next try) and is retried without a
/// restart; once the database is free the instance completes and the error is gone.
@Suite struct BackgroundFailureTests {
    /// The slow fixture plugin (`slow.nap` sleeps `input.ms`), built into a fresh folder.
    static func slowPlugin() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("steward-slow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let compiled = try ChildProcess.run("cc", [
            "-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden",
            "-I", Package.root.appendingPathComponent("Sources/StewardABI/include").path,
            Package.root.appendingPathComponent("Tests/StewardBootstrapTests/Fixtures/slow.c").path,
            "-o", folder.appendingPathComponent("libslow.so").path,
        ])
        try #require(compiled.status == 0, "cc failed building the slow fixture plugin")
        return folder
    }

    /// Holds SQLite's write lock on `path` from another connection (as another process's long
    /// transaction would) until `release` is signalled, on a thread of its own.
    final class WriteLock: Sendable {
        let taken = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let ended = DispatchSemaphore(value: 0)

        init(path: String) throws {
            let queue = try DatabaseQueue(path: path)
            Thread { [taken, release, ended] in
                try? queue.inDatabase { db in
                    try db.execute(sql: "BEGIN EXCLUSIVE")
                    taken.signal()
                    release.wait()
                    try db.execute(sql: "ROLLBACK")
                }
                ended.signal()
            }.start()
            taken.wait()
        }

        func free() {
            release.signal()
            ended.wait()
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aFailedBackgroundDriveIsVisibleAndRetried() async throws {
        let plugin = try Self.slowPlugin()
        defer { try? FileManager.default.removeItem(at: plugin) }
        let template = TestPlans.templateText(
            """
            plugins: [slow]
            start: nap
            states:
              nap: {kind: step, step: slow.nap, input: {ms: input.ms}, output: napped, next: done}
              done: {kind: end, output: napped}
            """, name: "napper")
        let harness = try await ServerHarness.start(extraTemplates: ["napper.yaml": template], extraPlugins: [plugin])

        // The step naps 1.5 s; meanwhile another writer takes the database's write lock, so the
        // step's result cannot be committed (the store waits 10 s for the lock, then fails).
        let submitted = try await harness.send("POST", "/v1/instances", token: harness.operatorToken, json: ["template": "napper", "input": ["ms": 1500]])
        #expect(submitted.status == 201, "\(submitted.text)")
        let id = try #require(submitted.json["id"]?.stringValue)
        let lock = try WriteLock(path: harness.directory.appendingPathComponent("steward.db").path)

        var shown = JSONValue.null
        let deadline = ContinuousClock.now + .seconds(60)
        while shown["background_error"] == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            shown = try await harness.send("GET", "/v1/instances/\(id)", token: harness.operatorToken).json
        }
        let error = try #require(shown["background_error"], "no background_error while the database was locked: \(shown)")
        #expect(shown["status"] == "running", "the instance is not failed for the database's sake: \(shown)")
        #expect(error["message"]?.stringValue?.contains("locked") == true, "\(error)")
        #expect((error["attempts"]?.integerValue ?? 0) >= 1 && error["retry_at"]?.stringValue?.hasSuffix("Z") == true, "\(error)")

        lock.free()
        #expect(try await harness.waitFor(id) { $0 != "running" } == "completed", "retried without a restart once the database was free")
        let after = try await harness.send("GET", "/v1/instances/\(id)", token: harness.operatorToken).json
        #expect(after["background_error"] == nil && after["output"] != nil, "\(after)")
        try await harness.stop()
    }
}
