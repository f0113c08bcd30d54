import StewardCore
import StewardEngine
import StewardJSON
@_spi(Benchmarks) @testable import StewardStorePostgres
import Testing

/// Two engines (two stores with their own engine ids) on one database: leases fence, lapse,
/// renew and wake; the journal stays one chain.
@Suite struct LeaseTests {
    @Test func aLiveLeaseRefusesAnotherEnginesCommitAndChangesNothing() async throws {
        let url = try await Fixture.database()
        let a = try await Fixture.open(url, engine: "engine-a", lease: Fixture.long)
        let b = try await Fixture.open(url, engine: "engine-b", lease: Fixture.long)
        try await Fixture.using(a, b) {
            try await a.commit(Fixture.started("x"))
            let conflict = try await Fixture.conflict { try await b.commit(Fixture.step("x", sequence: 2)) }
            #expect(conflict?.message.contains("engine-a") == true, "the conflict names the holder: \(String(describing: conflict))")
            let stored = try await a.instanceWithTail(id: "x")
            #expect(stored.map { $0.0.sequence + $0.1.count } == 1, "the refused commit wrote nothing")
            #expect(try await a.history(of: "x").map(\.kind) == ["started"])
            #expect(try await b.takeOverLapsedInstances(limit: 10).isEmpty, "a live lease is not taken over")
            // The holder goes on; leaving the instance waiting releases the lease, and then anyone commits.
            try await a.commit(Fixture.step("x", sequence: 2, status: .waiting))
            try await b.commit(Fixture.step("x", sequence: 3, status: .completed))
            #expect(try await b.instance(id: "x")?.status == .completed)
            #expect(try await a.verifyJournal().problems.isEmpty)
        }
    }

    @Test func aLapsedLeaseIsTakenOverAndTheEngineThatLetItLapseIsFenced() async throws {
        let url = try await Fixture.database()
        let a = try await Fixture.open(url, engine: "engine-a", lease: 300)
        let b = try await Fixture.open(url, engine: "engine-b", lease: Fixture.long)
        try await Fixture.using(a, b) {
            try await a.commit(Fixture.started("x"))
            try await a.commit(Fixture.started("y", status: .waiting))
            let taken = try await Fixture.eventually {
                let ids = try await b.takeOverLapsedInstances(limit: 10)
                return ids.isEmpty ? nil : ids
            }
            #expect(taken == ["x"], "the running instance is taken over once its lease lapsed; a waiting one holds no lease")
            let conflict = try await Fixture.conflict { try await a.commit(Fixture.step("x", sequence: 2)) }
            #expect(conflict?.message.contains("engine-b") == true, "the presumed-dead engine is fenced: \(String(describing: conflict))")
            try await b.commit(Fixture.step("x", sequence: 2))
            #expect(try await b.takeOverLapsedInstances(limit: 10).isEmpty, "nothing is left to take over")
            #expect(try await a.history(of: "x").map(\.sequence) == [1, 2])
        }
    }

    @Test func takingOverKeepsTheOldestFirstAndTheLimit() async throws {
        let url = try await Fixture.database()
        let a = try await Fixture.open(url, engine: "engine-a", lease: 1)
        let b = try await Fixture.open(url, engine: "engine-b", lease: Fixture.long)
        try await Fixture.using(a, b) {
            for id in ["r3", "r1", "r2"] { try await a.commit(Fixture.started(id)) }
            // Leases of 1 ms: all three have lapsed a moment later.
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await b.takeOverLapsedInstances(limit: 2) == ["r3", "r1"], "oldest first, at most the limit")
            #expect(try await b.takeOverLapsedInstances(limit: 2) == ["r2"])
        }
    }

    /// Time is moved through the database (the lease's end set into the past: what a pause of the
    /// heartbeat longer than the lease does), not waited for: the test cannot flake on a loaded machine.
    @Test func renewingKeepsALeaseAliveAndStopsOnceAnotherEngineTookItOver() async throws {
        let url = try await Fixture.database()
        let a = try await Fixture.open(url, engine: "engine-a", lease: Fixture.long)
        let b = try await Fixture.open(url, engine: "engine-b", lease: Fixture.long)
        try await Fixture.using(a, b) {
            try await a.commit(Fixture.started("x"))
            try await a.commit(Fixture.started("w", status: .waiting))
            let lapse = { try await a.run("UPDATE instances SET lease_until = \(unescaped: databaseNow) - 1 WHERE id = 'x'") }
            let until: () async throws -> Int64? = { try await a.rows("SELECT lease_until FROM instances WHERE id = 'x'").first?["lease_until"] }
            try await lapse()
            let lapsed = try await until()
            #expect(try await a.renewLeases() == 1, "one running instance is leased to a (the waiting one holds no lease)")
            #expect((try await until() ?? 0) > (lapsed ?? .max), "renewal moved the lease's end on")
            #expect(try await b.takeOverLapsedInstances(limit: 10).isEmpty, "a renewed lease is alive again")
            #expect(try await b.renewLeases() == 0, "b holds no lease")
            try await lapse()
            #expect(try await b.takeOverLapsedInstances(limit: 10) == ["x"])
            #expect(try await a.renewLeases() == 0, "a lease another engine took over is not renewed")
            let conflict = try await Fixture.conflict { try await a.commit(Fixture.step("x", sequence: 2)) }
            #expect(conflict?.message.contains("engine-b") == true)
        }
    }

    @Test func releasingWakesTheOtherEngineWhichTakesOverAtOnce() async throws {
        let url = try await Fixture.database()
        let a = try await Fixture.open(url, engine: "engine-a", lease: Fixture.long)
        let b = try await Fixture.open(url, engine: "engine-b", lease: Fixture.long)
        try await Fixture.using(a, b) {
            var wakeUps = b.wakeUps().makeAsyncIterator()
            try await a.commit(Fixture.started("x"))
            try await a.releaseLeases()
            #expect(try await Self.next(&wakeUps), "b is woken")
            #expect(try await b.takeOverLapsedInstances(limit: 10) == ["x"], "a released lease is taken over without waiting for it to lapse")
            // A commit setting a timer due soon wakes the others too.
            var waiting = Fixture.step("x", sequence: 2, status: .waiting)
            waiting.timers = [ScheduledTimer(kind: "wait", at: waiting.at, payload: [:], state: "work")]
            let c = try await Fixture.open(url, engine: "engine-c")
            try await Fixture.using(c) {
                try await b.commit(waiting)
                var woken = c.wakeUps().makeAsyncIterator()
                // c listened before b committed (open returns once LISTEN is confirmed), so the wake-up is kept for it.
                #expect(try await Self.next(&woken), "a timer due now wakes the other engines")
            }
        }
    }

    /// Whether `iterator` yields within a generous time.
    static func next(_ iterator: inout AsyncStream<Void>.Iterator) async throws -> Bool {
        let box = IteratorBox(iterator)
        let woken = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await box.next() }
            group.addTask {
                try? await Task.sleep(for: .seconds(60))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        iterator = box.iterator
        return woken
    }

    @Test func twoEnginesAppendingAtOnceKeepOneVerifyingChain() async throws {
        let url = try await Fixture.database()
        let a = try await Fixture.open(url, engine: "engine-a")
        let b = try await Fixture.open(url, engine: "engine-b")
        try await Fixture.using(a, b) {
            // Each engine: 50 instances of three commits and 50 audit entries (200 rows), all at once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (name, store) in [("a", a), ("b", b)] {
                    for index in 0..<50 {
                        group.addTask {
                            let id = "\(name)-\(index)"
                            try await store.commit(Fixture.started(id))
                            try await store.appendAudit(kind: "note", actor: name, payload: ["n": .integer(Int64(index))], at: 2_000, instance: id)
                            try await store.commit(Fixture.step(id, sequence: 2))
                            try await store.commit(Fixture.step(id, sequence: 3, status: .completed))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let verification = try await b.verifyJournal()
            #expect(verification.problems.isEmpty, "\(verification.problems)")
            #expect(verification.rowsChecked == 400)
            let head = try await a.journalHead()
            #expect(head.lastID == 400 && head.rows == 400, "ids 1...400 with no gap: \(head)")
            for id in ["a-0", "a-49", "b-0", "b-49"] {
                let history = try await a.history(of: id)
                #expect(history.compactMap(\.sequence) == [1, 2, 3] && history.count == 4, "\(id): \(history.map(\.kind))")
            }
        }
    }
}

/// Moves a stream's iterator into a task and back (an `inout` cannot cross into a child task).
private final class IteratorBox: @unchecked Sendable {
    // @unchecked: one task at a time uses `iterator` — the child task while `next` runs, the
    // caller only after the task group holding that child has finished.
    var iterator: AsyncStream<Void>.Iterator

    init(_ iterator: AsyncStream<Void>.Iterator) { self.iterator = iterator }

    func next() async -> Bool { await iterator.next() != nil }
}

/// The writer: commits arriving together share transactions, each in its own savepoint.
@Suite struct GroupCommitTests {
    @Test func aConflictingCommitInABatchRollsBackAloneAndTheRestLand() async throws {
        let store = try await Fixture.open(Fixture.database())
        try await Fixture.using(store) {
            for index in 0..<16 { try await store.commit(Fixture.started("g\(index)")) }
            let before = store.committedTransactions
            // Two commits of the same next sequence per instance, all at once: one of each pair lands.
            let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<32 {
                    group.addTask {
                        try await Fixture.conflict { try await store.commit(Fixture.step("g\(index / 2)", sequence: 2)) } == nil ? 0 : 1
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(conflicts == 16)
            #expect(store.committedTransactions - before < 32, "32 commits at once share transactions")
            for index in 0..<16 {
                #expect(try await store.history(of: "g\(index)").map(\.sequence) == [1, 2])
            }
            let verification = try await store.verifyJournal()
            #expect(verification.problems.isEmpty && verification.rowsChecked == 32, "\(verification)")
        }
    }

    @Test func aClosedStoreRefusesWritesAndEndsItsWakeUps() async throws {
        let store = try await Fixture.open(Fixture.database())
        let wakeUps = store.wakeUps()
        await store.close()
        var ended = true
        for await _ in wakeUps { ended = false }
        #expect(ended, "the stream finished with no wake-up")
        await #expect {
            try await store.commit(Fixture.started("late"))
        } throws: { error in
            (error as? PostgresStoreError)?.kind == .closed
        }
        await store.close()
    }
}
