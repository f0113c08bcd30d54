import Foundation
import StewardJSON
import StewardReview
import StewardCore
import StewardEngine
import StewardReview
import StewardStoreSQLite
import StewardTemplates
import StewardTesting
import Testing

/// Kills the real `steward` process with SIGKILL at random points while it runs a batch, then
/// restarts it, many times; afterwards counts instances and transitions against what was
/// submitted. The ledger plugin records every step call, so re-runs are counted too.
@Suite(.serialized)
struct CrashTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static var stewardBinary: URL {
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("steward"),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("steward"),
            packageRoot.appendingPathComponent(".build/debug/steward"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[2]
    }

    struct Run {
        let directory: URL
        /// The templates it loads.
        var workflows: URL = CrashTests.fixtures.appendingPathComponent("workflows")
        var database: URL { directory.appendingPathComponent("crash.db") }
        var ledger: URL { directory.appendingPathComponent("ledger.txt") }
        var plugins: URL { directory.appendingPathComponent("plugins") }
        /// Extra environment for the process (the ledger's pause).
        var environment: [String: String] = [:]

        /// The environment the child runs with.
        func childEnvironment(removing removed: [String] = []) -> [String: String] {
            var environment = ProcessInfo.processInfo.environment
            environment["LEDGER_PATH"] = ledger.path
            environment.merge(self.environment) { _, mine in mine }
            for name in removed { environment.removeValue(forKey: name) }
            return environment
        }

        /// Where the children's standard error goes (appended, every run).
        var log: URL { directory.appendingPathComponent("stderr.log") }

        /// Starts `steward arguments...` (posix_spawn, not Foundation's Process: see ChildProcess).
        func start(_ arguments: [String], removing removed: [String] = []) throws -> ChildProcess.Running {
            try ChildProcess.start(
                CrashTests.stewardBinary.path, arguments + ["--db", database.path, "--workflows", workflows.path, "--plugins", plugins.path],
                directory: directory.path, environment: childEnvironment(removing: removed), stderr: log.path)
        }

        /// Runs to completion and returns the exit status (-1 when a signal ended it).
        func run(_ arguments: [String]) throws -> Int32 {
            try start(arguments).wait().status
        }

        /// Starts the command, waits until its step calls have added `calls` lines to the ledger
        /// (so the kill lands in work, however long the start takes on a loaded machine), waits a
        /// further `milliseconds` (for commits in flight), then SIGKILLs it if it still runs.
        /// Returns whether it was killed; a command that ends first is simply reaped.
        func runAndKill(_ arguments: [String], afterCalls calls: Int, thenMilliseconds milliseconds: Int) throws -> Bool {
            let target = ledgerLines() + calls
            let child = try start(arguments)
            let giveUp = Date().addingTimeInterval(60)
            while ledgerLines() < target, Date() < giveUp {
                if child.poll() != nil { return false }
                usleep(5_000)
            }
            usleep(useconds_t(milliseconds * 1000))
            if child.poll() != nil { return false }
            child.kill()
            return child.wait().signal == SIGKILL
        }

        /// How many step calls the ledger has recorded so far (0 before the first).
        func ledgerLines() -> Int {
            guard let data = FileManager.default.contents(atPath: ledger.path) else { return 0 }
            return data.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        }
    }

    /// Compiles a C fixture plugin (cc, through posix_spawn).
    static func compile(_ source: URL, into library: URL, defines: [String] = []) throws -> Int32 {
        try ChildProcess.run("cc", [
            "-std=c11"] + defines + ["-O2", "-shared", "-fPIC", "-fvisibility=hidden",
            "-I", packageRoot.appendingPathComponent("Sources/StewardABI/include").path, source.path, "-o", library.path,
        ]).status
    }

    static func makeRun() throws -> Run {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-crash-\(UUID().uuidString)")
        let run = Run(directory: directory)
        try FileManager.default.createDirectory(at: run.plugins, withIntermediateDirectories: true)
        let compiled = try compile(
            fixtures.appendingPathComponent("ledger.c"), into: run.plugins.appendingPathComponent("libledger.so"), defines: ["-D_POSIX_C_SOURCE=200809L"])
        #expect(compiled == 0)
        try Data("{\"review\": false}".utf8).write(to: directory.appendingPathComponent("input.json"))
        return run
    }

    @Test func killNineAtRandomPointsLosesAndDuplicatesNothing() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.stewardBinary.path), "build the steward executable first")
        let run = try Self.makeRun()
        defer { try? FileManager.default.removeItem(at: run.directory) }
        let count = 2_000
        let submit = ["submit", "crash-test", "--input", "input.json", "--count", String(count), "--key-prefix", "crash", "--concurrency", "32"]
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        // First a kill a few hundred calls in, then a resume run to its end: it drives what was
        // left running, with plain progress lines in its log.
        if try run.runAndKill(submit, afterCalls: 300, thenMilliseconds: 0) { kills += 1 }
        let left = try await SQLiteStore(path: run.database.path).countByStatus()[.running, default: 0]
        #expect(left > 0, "the kill left instances running")
        #expect(try run.run(["resume"]) == 0)
        let log = (try? String(contentsOf: run.log, encoding: .utf8)) ?? ""
        let progress = log.split(separator: "\n").filter { $0.hasPrefix("resume: ") }
        #expect(progress.last?.hasPrefix("resume: \(left)/\(left) instances (100%), ") == true, "plain progress lines in a log: \(progress)")
        for round in 0..<12 {
            // Alternate between submitting (which also starts new instances) and resuming.
            let arguments = round % 3 == 2 ? ["resume"] : submit
            // 6,000 calls in all: a kill after 20 to 1,200 of them leaves work for the later rounds.
            if try run.runAndKill(arguments, afterCalls: Int.random(in: 20...1_200, using: &generator), thenMilliseconds: Int.random(in: 0...50, using: &generator)) { kills += 1 }
        }
        #expect(kills >= 3, "the kills must land while work is in progress")
        #expect(try run.run(submit) == 0)
        #expect(try run.run(["resume"]) == 0)

        let store = try SQLiteStore(path: run.database.path)
        let counts = try await store.countByStatus()
        #expect(counts[.completed] == count, "every submitted instance completes: \(counts)")
        #expect(counts.values.reduce(0, +) == count, "no instance is lost or duplicated: \(counts)")

        // Every instance has exactly its four events, in order, each applied once.
        var journalKeys: Set<String> = []
        for index in 0..<count {
            let id = "crash-\(index)"
            let history = try await store.history(of: id)
            let kinds = history.map(\.kind)
            #expect(kinds == ["started", "step_succeeded", "step_succeeded", "step_succeeded"], "\(id): \(kinds)")
            #expect(history.compactMap(\.sequence) == Array(1...history.count), "\(id): gap or duplicate in sequence")
            for entry in history where entry.kind == "step_succeeded" {
                if let key = entry.payload["output"]?["key"]?.stringValue { journalKeys.insert(key) }
            }
        }
        #expect(journalKeys.count == count * 3)

        // At-least-once steps: every committed step result came from a call the ledger saw,
        // and re-runs reused the same idempotency key (no key outside the journal's set of
        // state/attempt keys, other than attempts cut short by a kill).
        let ledger = try String(contentsOf: run.ledger, encoding: .utf8).split(separator: "\n").map(String.init)
        let calledKeys = Set(ledger)
        #expect(journalKeys.isSubset(of: calledKeys))
        for key in calledKeys {
            let parts = key.split(separator: "/")
            #expect(parts.count == 3 && parts[0].hasPrefix("crash-") && parts[2] == "1", "unexpected key \(key)")
        }
        let reruns = ledger.count - calledKeys.count
        print("crash test: \(kills) kills, \(count) instances, \(left) left running after the first kill (the resume's last progress line: \(progress.last ?? "none")), \(count * 4) transitions committed, 0 lost, 0 duplicated, \(reruns) step re-runs after kills")

        // The audit trail is intact after all those kills.
        #expect(try run.run(["audit", "verify"]) == 0)
    }

    /// A `map` over 50 items, 5 branches at a time, killed with SIGKILL at random points and
    /// resumed: every branch runs to its end exactly once as its own instance (no branch lost,
    /// none started twice), the parent records each end once and joins them in item order.
    @Test func killNineDuringAMapLosesNoBranchAndRecordsNoneTwice() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.stewardBinary.path), "build the steward executable first")
        var run = try Self.makeRun()
        defer { try? FileManager.default.removeItem(at: run.directory) }
        // 50 items x 3 calls of 30 ms, 5 at a time: 150 calls, about 900 ms of them; each round
        // kills after 10 to 40 more calls, so kills land midway through the fan-out.
        run.environment["LEDGER_PAUSE_MS"] = "30"
        let items = 50
        try Data("{\"items\": [\((0..<items).map(String.init).joined(separator: ","))]}".utf8).write(to: run.directory.appendingPathComponent("map.json"))
        let submit = ["submit", "crash-map", "--input", "map.json", "--count", "1", "--key-prefix", "map"]
        var generator = SystemRandomNumberGenerator()
        var midway = 0
        for round in 0..<10 {
            let killed = try run.runAndKill(round == 0 || round == 5 ? submit : ["resume"], afterCalls: Int.random(in: 10...40, using: &generator), thenMilliseconds: Int.random(in: 0...60, using: &generator))
            guard killed, FileManager.default.fileExists(atPath: run.database.path) else { continue }
            let store = try SQLiteStore(path: run.database.path)
            let counts = try await store.countByStatus()
            #expect(counts[.running, default: 0] <= 5, "max_concurrency holds across kills: \(counts)")
            if let done = counts[.completed], done > 0, done < items, counts[.waiting, default: 0] >= 1 { midway += 1 }
        }
        #expect(midway >= 1, "at least one kill must land while branches are in flight")
        #expect(try run.run(submit) == 0)
        #expect(try run.run(["resume"]) == 0)

        let store = try SQLiteStore(path: run.database.path)
        let counts = try await store.countByStatus()
        #expect(counts[.completed] == items + 1 && counts.values.reduce(0, +) == items + 1, "the parent and its 50 branches, each once: \(counts)")
        let parent = try await store.history(of: "map-0")
        let ends = parent.filter { $0.kind == "branch_finished" }.compactMap { $0.payload["link"]?["index"]?.integerValue }
        #expect(ends.sorted() == (0..<Int64(items)).map { $0 }, "each branch's end recorded once: \(ends.sorted())")
        for index in 0..<items {
            let kinds = try await store.history(of: "map-0.fan.1.\(index)").map(\.kind)
            #expect(kinds == ["started", "step_succeeded", "step_succeeded", "step_succeeded"], "branch \(index): \(kinds)")
        }
        let finished = try #require(try await store.instance(id: "map-0"))
        let results = try #require(finished.output?["results"]?.arrayValue)
        #expect(results.count == items && results.enumerated().allSatisfy { $0.element["item"]?.integerValue == Int64($0.offset) }, "\(results)")
        print("crash test (map): \(midway) kills landed midway through the fan-out; \(items) branches, each run and recorded once")
        #expect(try run.run(["audit", "verify"]) == 0)
    }
}
