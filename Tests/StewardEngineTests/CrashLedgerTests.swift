import Foundation
import StewardCore
import StewardEngine
import Testing

/// The crash ledger's contract: unfinished starts of earlier processes count, finished calls
/// and this process's calls do not.
@Suite("Crash ledger")
struct CrashLedgerTests {
    static func call(attempt: Int = 1, entered: Int = 1) -> StepInvocation {
        StepInvocation(
            state: "s", callee: .step("a.b"), input: nil, config: [:], attempt: attempt, idempotencyKey: "i/s/\(attempt)",
            callKey: "i/s/\(entered)", delayMilliseconds: 0, timeoutMilliseconds: nil)
    }

    func withLedgerPath(_ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("steward-ledger-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    /// What the fault handler appends when the thread running `call` faults.
    static func fault(_ call: StepInvocation, in path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("F\t\(call.callKey)\t\(call.attempt)\n".utf8))
        try handle.close()
    }

    @Test("a call that faulted in K earlier processes is poisoned")
    func countsFaultsOfEarlierProcesses() throws {
        try withLedgerPath { path in
            for expected in 0..<3 {
                // Each block is one process that starts the call and dies of a fault in it.
                let ledger = try CrashLedger(path: path, maxCrashes: 2)
                #expect(ledger.crashes(of: Self.call()) == expected)
                #expect(ledger.isPoisoned(Self.call()) == (expected >= 2))
                ledger.begin(Self.call())
                try Self.fault(Self.call(), in: path)
                #expect(ledger.crashes(of: Self.call()) == expected, "this process's own call is not counted")
            }
            let ledger = try CrashLedger(path: path, maxCrashes: 2)
            #expect(ledger.crashes(of: Self.call(attempt: 2)) == 0, "another attempt starts from zero")
            #expect(ledger.crashes(of: Self.call(entered: 9)) == 0, "another visit of the state starts from zero")
        }
    }

    @Test("a process killed from outside (no fault) poisons nothing")
    func killsAreNotCrashes() throws {
        try withLedgerPath { path in
            for _ in 0..<5 {
                let ledger = try CrashLedger(path: path, maxCrashes: 2)
                #expect(!ledger.isPoisoned(Self.call()))
                ledger.begin(Self.call())  // then SIGKILL: no fault line, no end
            }
        }
    }

    @Test("guarding runs the call and leaves no marker behind")
    func guardingRunsTheBody() throws {
        try withLedgerPath { path in
            let ledger = try CrashLedger(path: path, maxCrashes: 2)
            #expect(try ledger.guarding(Self.call()) { () throws(StepFailure) in 42 } == 42)
            #expect(throws: StepFailure(.permanent, "no")) {
                try ledger.guarding(Self.call()) { () throws(StepFailure) -> Int in throw StepFailure(.permanent, "no") }
            }
        }
    }

    @Test("a finished call clears its marker; the file is compacted at open")
    func finishedCallsClear() throws {
        try withLedgerPath { path in
            do {
                let ledger = try CrashLedger(path: path, maxCrashes: 2)
                ledger.begin(Self.call())
            }
            try Self.fault(Self.call(), in: path)
            do {
                let ledger = try CrashLedger(path: path, maxCrashes: 2)
                #expect(ledger.crashes(of: Self.call()) == 1)
                ledger.begin(Self.call())
                ledger.end(Self.call())
                for attempt in 2...50 {
                    ledger.begin(Self.call(attempt: attempt))
                    ledger.end(Self.call(attempt: attempt))
                }
            }
            let ledger = try CrashLedger(path: path, maxCrashes: 2)
            #expect(ledger.crashes(of: Self.call()) == 0)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.isEmpty, "only unfinished calls survive compaction: \(text)")
        }
    }
}
