import Foundation
import StewardCore
import StewardEngine
import StewardJSON
import StewardStoreSQLite
import StewardTesting
import Testing

/// The poison-pill guard against the real `steward` executable (issue 17, item 3): a step or
/// ffi call that aborts the process crashes it at most K times (default 2); the next start
/// fails the instance as `crashed`, notifies the operator, and runs everything else.
@Suite(.serialized)
struct PoisonPillTests {
    static let fixtures = CrashTests.fixtures

    /// A crash-test run over the poison templates.
    struct Workspace {
        let run: CrashTests.Run
        var directory: URL { run.directory }
        var database: URL { run.database }
        var plugins: URL { run.plugins }

        /// Runs `steward` to its end; returns its status and whether a signal ended it.
        func steward(_ arguments: [String]) throws -> (status: Int32, crashed: Bool) {
            let ending = try run.start(arguments, removing: ["STEWARD_MAX_CRASHES"]).wait()  // the default, K = 2
            return (ending.signal == nil ? ending.status : ending.signal ?? 0, ending.signal != nil)
        }

        func input(_ name: String, _ json: String) throws {
            try Data(json.utf8).write(to: directory.appendingPathComponent(name))
        }
    }

    static func makeWorkspace() throws -> Workspace {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-poison-\(UUID().uuidString)")
        let workspace = Workspace(run: CrashTests.Run(directory: directory, workflows: fixtures.appendingPathComponent("poison-workflows")))
        try FileManager.default.createDirectory(at: workspace.plugins, withIntermediateDirectories: true)
        let compiled = try CrashTests.compile(
            fixtures.appendingPathComponent("poison.c"), into: workspace.plugins.appendingPathComponent("libpoison.so"), defines: ["-D_GNU_SOURCE"])
        #expect(compiled == 0)
        try workspace.input("good-step.json", #"{"crash": false}"#)
        try workspace.input("bad-step.json", #"{"crash": true}"#)
        try workspace.input("good-ffi.json", #"{"crash": 0}"#)
        try workspace.input("bad-ffi.json", #"{"crash": 1}"#)
        return workspace
    }

    @Test func aCallThatCrashesTheEngineIsFailedAfterKCrashes() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: CrashTests.stewardBinary.path), "build the steward executable first")
        let workspace = try Self.makeWorkspace()
        defer { try? FileManager.default.removeItem(at: workspace.directory) }
        func submit(_ template: String, _ input: String, _ prefix: String, count: Int = 1) throws -> (status: Int32, crashed: Bool) {
            try workspace.steward(["submit", template, "--input", input, "--count", String(count), "--key-prefix", prefix])
        }

        #expect(try submit("poison-step", "good-step.json", "early", count: 2).status == 0)
        // Each poison call crashes the process that runs it (crash 1 of each).
        #expect(try submit("poison-step", "bad-step.json", "bad-step").crashed)
        #expect(try submit("poison-ffi", "bad-ffi.json", "bad-ffi").crashed)
        // Healthy instances still run while the poisoned ones wait.
        #expect(try submit("poison-step", "good-step.json", "late", count: 2).status == 0)
        #expect(try submit("poison-ffi", "good-ffi.json", "late-ffi").status == 0)

        // Restart again and again: each poison call crashes at most K = 2 times in all.
        var crashes = 2
        var finished = false
        for _ in 0..<6 {
            let (status, crashed) = try workspace.steward(["resume", "--concurrency", "1"])
            if crashed {
                crashes += 1
                continue
            }
            #expect(status == 0)
            finished = true
            break
        }
        #expect(finished, "resume stops crashing")
        #expect(crashes <= 4, "each of the two poison calls crashes the engine at most twice (\(crashes) crashes)")

        let store = try SQLiteStore(path: workspace.database.path)
        for id in ["bad-step-0", "bad-ffi-0"] {
            let history = try await store.history(of: id)
            #expect(history.map(\.kind) == ["started", "step_failed"], "\(id): never run to an end, failed once")
            let failure = try #require(history.last?.payload)
            #expect(failure["kind"]?.stringValue == FailureKind.crashed.rawValue, "\(id): \(failure)")
            #expect(failure["message"]?.stringValue?.contains("the step crashed the engine 2 times") == true, "\(id): \(failure)")
            #expect(try await store.instance(id: id)?.status == .failed)
        }
        let counts = try await store.countByStatus()
        #expect(counts[.completed] == 5, "\(counts)")
        #expect(counts[.failed] == 2, "\(counts)")
        let notifications = try await store.notifications(limit: 10)
        #expect(notifications.filter { $0.recipient == "operators" && $0.message.contains("crashed the engine 2 times") }.count == 2, "\(notifications)")
        // Nothing left to crash on: another start is clean.
        #expect(try workspace.steward(["resume"]) == (0, false))
    }
}
