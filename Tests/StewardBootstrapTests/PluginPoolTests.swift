import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import Synchronization
import Testing


/// Blocking plugin calls run on the engine's own bounded thread pool, never on the cooperative
/// pool: with every pool thread asleep in a slow step, other instances keep running and
/// committing; a call past its `timeout_ms` fails its attempt as transient.
@Suite struct PluginPoolTests {
    // Three minutes: beside the whole suite on two cores the sleepers have been seen to need
    // most of a minute to start, which a one-minute limit turned into a failure.
    @Test(.timeLimit(.minutes(3)))
    func otherInstancesKeepCommittingWhileEveryPluginThreadSleeps() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        try workspace.write(TestWorkspace.napBody, name: "napping")
        try workspace.write(TestWorkspace.quickBody, name: "quick")
        let threads = 4
        let assembly = try await workspace.assemble(pluginThreads: threads)
        let engine = assembly.engine

        // N = pool size calls that each block their thread until the test says so (at most 60 s).
        let wake = workspace.root.appendingPathComponent("wake").path
        let sleepers = Task {
            try await withThrowingTaskGroup(of: InstanceState.self) { group in
                for index in 0..<threads {
                    group.addTask { try await engine.submit(template: "napping", input: ["ms": 60_000, "until": .string(wake)], id: "nap-\(index)") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        // Wait until all of them are inside the plugin (each is durably started and running).
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(150)
        while try await assembly.store.countByStatus()[.running] ?? 0 < threads, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        try #require(try await assembly.store.countByStatus()[.running] ?? 0 >= threads, "the sleepers never all started")
        try await Task.sleep(for: .milliseconds(100))

        // Meanwhile instances whose calls need a thread queue behind the sleepers, but the engine,
        // its store and the cooperative pool stay responsive: submitting and committing go on.
        var committed = 0
        for index in 0..<40 {
            let state = try await engine.submit(template: "quick", input: ["n": .integer(Int64(index))], id: "quick-\(index)", drive: false)
            if state.status == .running { committed += 1 }
        }
        let reads = try await assembly.store.countByStatus()
        #expect(committed == 40, "every submission was committed while the plugin threads slept")
        #expect(reads[.running] == threads + 40)
        let napping = try await assembly.store.instances(status: .running, template: "napping", customer: nil, limit: 10)
        #expect(napping.count == threads, "the sleepers are still asleep: the submissions did not wait for them")
        #expect(assembly.pluginPool.threadCount == threads)
        // (How long the submissions took is a benchmark's business: Benchmarks/run.sh.)

        // The queued work runs once the threads are free.
        _ = FileManager.default.createFile(atPath: wake, contents: nil)
        let finished = try await sleepers.value
        #expect(finished.allSatisfy { $0.status == .completed })
        let driven = try await engine.resume()
        #expect(driven == 40)
        #expect(try await assembly.store.countByStatus()[.completed] == threads + 40)
    }

    @Test(.timeLimit(.minutes(1)))
    func aCallPastItsTimeoutFailsTheAttemptAsTransient() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        try workspace.write(
            """
            plugins: [slow]
            timeout_ms: 5000
            retry: {max_attempts: 2, initial_backoff_ms: 1, max_backoff_ms: 1}
            states:
              nap:
                kind: step
                step: slow.nap
                input: {ms: input.ms, until: input.until}
                output: napped
                timeout_ms: 150
                next: done
              done: {kind: end}
            """, name: "impatient")
        let assembly = try await workspace.assemble(pluginThreads: 2)
        let plan = try #require(assembly.plans.plan(template: "impatient", version: nil))
        #expect(plan.state("nap")?.timeoutMilliseconds == 150, "the state's timeout_ms wins over the template's")

        // The nap would answer after 5 s; each attempt gives up at its 150 ms timeout instead.
        // `until` names a file that never appears; the nap writes beside it what it saw.
        let never = workspace.root.appendingPathComponent("never").path
        let final = try await assembly.engine.submit(template: "impatient", input: ["ms": 5_000, "until": .string(never)], id: "late")
        #expect(final.status == .failed)
        #expect(final.failure?.kind == .transient)
        #expect(final.failure?.message.contains("timed out") == true, "\(String(describing: final.failure))")
        let kinds = try await assembly.store.history(of: "late").map(\.kind)
        #expect(kinds == ["started", "step_failed", "step_failed"], "two attempts, each failed by its timeout")

        // ABI 1.2: each abandoned call saw its cancel flag raised and its deadline passed, and
        // stopped napping long before its 5 s were up (the nap counts its own sleep, so this
        // holds however loaded the machine is).
        let marker = never + ".cancelled"
        var lines: [Substring] = []
        let waited = ContinuousClock.now
        while ContinuousClock.now - waited < .seconds(60) {
            lines = ((try? String(contentsOfFile: marker, encoding: .utf8)) ?? "").split(separator: "\n")
            if lines.count == 2 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(lines.count == 2, "both abandoned attempts noticed the flag: \(lines)")
        for line in lines {
            let slept = line.split(separator: " ").dropFirst(2).first.flatMap { Int($0) }
            #expect(line.hasPrefix("cancelled after") && line.hasSuffix("deadline passed") && (slept ?? .max) < 5_000, "\(line)")
        }

        // Abandoned threads are replaced, so the engine still has threads for new work.
        let quick = try await assembly.engine.submit(template: "impatient", input: ["ms": 1], id: "fast")
        #expect(quick.status == .completed)
    }
}

/// Orderly shutdown (ABI 1.2): the plugin host stops taking calls, waits for the running
/// ones, then calls each plugin's `deinit` once.
@Suite struct PluginShutdownTests {
    @Test(.timeLimit(.minutes(1)))
    func stoppingThePluginsCancelsRunningCallsWaitsForThemThenDeinitialisesEachOnce() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        try workspace.write(
            """
            plugins: [slow]
            states:
              nap: {kind: step, step: slow.nap, input: input, output: napped, next: done}
              done: {kind: end}
            """, name: "napping")
        let marker = workspace.plugins.appendingPathComponent("deinit.txt").path
        let assembly = try await workspace.assemble(pluginThreads: 2)
        #expect(assembly.registry.plugins.first?.hasDeinit == true)
        #expect(try await assembly.engine.submit(template: "napping", input: ["ms": 1], id: "n1").status == .completed)

        // A stubborn call (it ignores the cancel flag) still running when the host stops holds deinit back.
        let wake = workspace.root.appendingPathComponent("wake").path
        let stubborn = Task { try? await assembly.engine.submit(template: "napping", input: ["ms": 20_000, "until": .string(wake), "stubborn": true], id: "n2") }
        try await Self.waitUntilRunning(1, assembly)
        let busy = assembly.stopPlugins(grace: 0.2)
        #expect(busy.callStillRunning && busy.deinitialized.isEmpty, "a running call holds deinit back")
        #expect(!FileManager.default.fileExists(atPath: marker))
        _ = FileManager.default.createFile(atPath: wake, contents: nil)
        _ = await stubborn.value

        // Once nothing runs, each plugin's deinit runs, once.
        let stopped = assembly.stopPlugins(grace: 5)
        #expect(!stopped.callStillRunning && stopped.deinitialized == ["slow"], "\(stopped)")
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == "deinit\n")
        #expect(assembly.stopPlugins(grace: 1).deinitialized.isEmpty, "deinit runs once per load")
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == "deinit\n")
    }

    @Test(.timeLimit(.minutes(1)))
    func aCooperativeCallStopsWhenTheHostStops() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        try workspace.write(TestWorkspace.napBody, name: "napping")
        let assembly = try await workspace.assemble(pluginThreads: 2)
        let never = workspace.root.appendingPathComponent("never").path
        let napper = Task { try? await assembly.engine.submit(template: "napping", input: ["ms": 20_000, "until": .string(never)], id: "c1") }
        try await Self.waitUntilRunning(1, assembly)
        let stopped = assembly.stopPlugins(grace: 30)
        #expect(!stopped.callStillRunning, "the nap saw the raised flag and returned")
        let seen = try String(contentsOfFile: never + ".cancelled", encoding: .utf8)
        #expect(seen.hasPrefix("cancelled after") && seen.contains("deadline not passed"), "no deadline, only the shutdown: \(seen)")
        napper.cancel()
    }

    /// Waits until `count` instances are running (inside their plugin call) and a little more.
    static func waitUntilRunning(_ count: Int, _ assembly: EngineAssembly) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await assembly.store.countByStatus()[.running] ?? 0 < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// The pool on its own.
@Suite struct BlockingCallPoolTests {
    static func invocation(_ step: String, timeout: Int? = nil) -> StepInvocation {
        StepInvocation(
            state: "s", callee: .step(step), input: [:], config: [:], attempt: 1, idempotencyKey: "i/s/1", callKey: "i/s/1",
            delayMilliseconds: 0, timeoutMilliseconds: timeout)
    }

    /// Set around the calls below: a call that runs on the asking task's thread sees it, one
    /// handed to a pool thread (a thread of its own, outside the task) does not.
    @TaskLocal static var asker: String?

    /// A callee the invoker may run inline (STW_STEP_NONBLOCKING) runs on the asking thread
    /// when its state sets no timeout; with a timeout, and every other callee, on a pool
    /// thread; after shutdown an inline call is refused like a pooled one.
    @Test func aNonBlockingCallRunsOnTheAskingThreadUnlessItHasATimeout() async throws {
        let pool = BlockingCallPool(size: 2)
        let invoker = PooledStepInvoker(
            pool: pool, call: { _, control throws(StepFailure) in
                ["asker": Self.asker.map(JSONValue.string) ?? .null, "no_cancel_flag": .bool(control.cancelFlag == nil)]
            }, runsInline: { $0 == .step("t.quick") })
        try await Self.$asker.withValue("test") {
            let inline = try await invoker.invoke(Self.invocation("t.quick"))
            #expect(inline["asker"] == "test" && inline["no_cancel_flag"] == true, "\(inline)")
            #expect(try await invoker.invoke(Self.invocation("t.other"))["asker"] == .null)
            #expect(try await invoker.invoke(Self.invocation("t.quick", timeout: 5_000))["asker"] == .null, "a deadline needs the pool")
        }
        pool.shutdown()
        do {
            _ = try await invoker.invoke(Self.invocation("t.quick"))
            Issue.record("an inline call ran after shutdown")
        } catch {
            #expect(error.kind == .transient && error.message.contains("was not called"), "\(error)")
        }
    }

    /// `drain` waits for a call running on its caller's thread too, so plugins are not
    /// deinitialised under it.
    @Test func drainWaitsForACallRunningHere() async throws {
        let pool = BlockingCallPool(size: 1)
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            _ = try? pool.runHere { _ in
                entered.signal()
                release.wait()
            }
            finished.signal()
        }.start()
        entered.wait()
        pool.shutdown()
        #expect(pool.drain(waitingUpTo: 0.2) == false, "the inline call is still running")
        release.signal()
        #expect(pool.drain(waitingUpTo: 30) == true)
        finished.wait()
    }

    @Test func runsOnItsOwnThreadsAndReturnsResults() async throws {
        let pool = BlockingCallPool(size: 2)
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 0..<50 { group.addTask { try await pool.run { value * 2 } } }
            return try await group.reduce(0, +)
        }
        #expect(results == (0..<50).map { $0 * 2 }.reduce(0, +))
        #expect(pool.threadCount <= 2)
    }

    @Test func errorsFromTheBodyReachTheCaller() async {
        struct Boom: Error, Equatable {}
        let pool = BlockingCallPool(size: 1)
        await #expect(throws: Boom.self) { try await pool.run { () throws -> Int in throw Boom() } }
    }

    /// Waits (polling, at most 10 s) until `condition` holds.
    /// Waits until `condition` holds. The bound only keeps a broken pool from hanging the
    /// suite: a loaded CI machine may take long to start a pool thread, and giving up quietly
    /// let the test go on with the blocker still queued (and then fail far from the cause).
    static func eventually(_ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        try #require(condition(), "the pool did not get there within 90 s", sourceLocation: sourceLocation)
    }

    @Test func aQueuedCallThatTimesOutNeverRuns() async throws {
        let pool = BlockingCallPool(size: 1, maximumThreads: 1)
        let running = Atomic<Bool>(false)
        let release = DispatchSemaphore(value: 0)
        let ran = Atomic<Int>(0)
        let blocker = Task { try await pool.run { running.store(true, ordering: .sequentiallyConsistent); release.wait() } }
        try await Self.eventually { running.load(ordering: .sequentiallyConsistent) }
        await #expect(throws: BlockingCallError.timedOut(milliseconds: 50, started: false)) {
            try await pool.run(timeoutMilliseconds: 50) { ran.add(1, ordering: .relaxed) }
        }
        release.signal()
        try await blocker.value
        _ = try await pool.run { 0 }
        #expect(ran.load(ordering: .relaxed) == 0)
    }

    @Test func anAbandonedThreadIsReplacedUpToTheCap() async throws {
        let pool = BlockingCallPool(size: 1, maximumThreads: 2)
        let release = DispatchSemaphore(value: 0)
        await #expect(throws: BlockingCallError.timedOut(milliseconds: 30, started: true)) {
            try await pool.run(timeoutMilliseconds: 30) { release.wait() }
        }
        // The stuck thread (still waiting) is replaced: a new call runs.
        let value = try await pool.run { 7 }
        #expect(value == 7)
        #expect(pool.threadCount == 2)
        release.signal()
    }

    @Test func shutdownFailsQueuedAndLaterCalls() async throws {
        let pool = BlockingCallPool(size: 1, maximumThreads: 1)
        let running = Atomic<Bool>(false)
        let release = DispatchSemaphore(value: 0)
        let blocker = Task { try await pool.run { running.store(true, ordering: .sequentiallyConsistent); release.wait() } }
        try await Self.eventually { running.load(ordering: .sequentiallyConsistent) }
        let queued = Task { try await pool.run { 1 } }
        try await Self.eventually { pool.queuedCount == 1 }
        pool.shutdown()
        await #expect(throws: BlockingCallError.shutDown) { try await queued.value }
        await #expect(throws: BlockingCallError.shutDown) { try await pool.run { 2 } }
        release.signal()
        try await blocker.value
    }
}
