import Foundation
import StewardJSON
import Synchronization
import Testing

@testable import StewardPlugins

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` on a thread of its own (plugin calls block; the cooperative pool must not).
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Runs `body(0..<count)` on `count` threads at once and waits for all of them (blocks: call
/// it from a thread of its own).
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread {
            body(index)
            group.leave()
        }.start()
    }
    group.wait()
}

/// How a parameterised test loads its plugin: into the test process, or into a host process
/// (`isolation: process`): the plugin suite runs in both, and must see the same behaviour.
enum LoadMode: String, CaseIterable, Sendable, CustomStringConvertible {
    case inProcess = "in-process"
    case process

    var description: String { rawValue }

    /// Loads `path` this way.
    func load(_ path: String) throws -> LoadedPlugin {
        switch self {
        case .inProcess: return try PluginLoader.load(path: path)
        case .process: return try PluginLoader.load(path: path, isolation: .process, environment: try isolationEnvironment())
        }
    }

    /// A registry of the plugins at `paths`, loaded this way.
    func registry(_ paths: [String]) throws -> PluginRegistry {
        var registry = PluginRegistry()
        for path in paths { try registry.register(load(path)) }
        return registry
    }
}

/// The host executable beside the test bundle, and a fresh state directory.
func isolationEnvironment() throws -> IsolationEnvironment {
    let host = try #require(IsolationEnvironment.locateHost(), "steward-plugin-host is built with the tests (swift build --build-tests)")
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-isolation-\(UUID().uuidString)").path
    return IsolationEnvironment(hostExecutable: host, stateDirectory: directory)
}

@Suite("Plugins in a host process: faults become call failures, never the engine's")
struct IsolationTests {
    static func faults(_ settings: IsolationSettings = .process) async throws -> (LoadedPlugin, IsolatedPlugin) {
        let path = try await FixtureBuilder.plugin("isolation_faults.c")
        let plugin = try PluginLoader.load(path: path, isolation: settings, environment: try isolationEnvironment())
        return (plugin, try #require(plugin.isolated))
    }

    static func call(_ plugin: LoadedPlugin, _ step: String, _ input: JSONValue = [:], key: String = "i/s/1", deadlineMilliseconds: UInt64? = nil) throws(StepCallError) -> JSONValue {
        guard let found = plugin.steps.first(where: { $0.fullName == "faults.\(step)" }) else {
            throw StepCallError(step: step, kind: .unknownStep, message: "no such fixture step")
        }
        let deadline = deadlineMilliseconds.map { MonotonicNanoseconds.now() + $0 * 1_000_000 } ?? 0
        let bytes = input.jsonBytes
        return try bytes.withUnsafeBytes { inputBuffer in
            Result { () throws(StepCallError) -> JSONValue in
                try PluginCallContext.with(deadlineNanoseconds: deadline, cancelFlag: nil) { () throws(StepCallError) -> JSONValue in
                    try found.callJSON(input: inputBuffer, config: UnsafeRawBufferPointer(start: nil, count: 0), idempotencyKey: key, attempt: 1)
                }
            }
        }.get()
    }

    /// The call's error (nil when it succeeded).
    static func failure(_ body: () throws -> JSONValue) -> StepCallError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? StepCallError ?? StepCallError(step: "?", kind: .internal, message: "not a StepCallError: \(error)")
        }
    }

    @Test func theStepRunsInAnotherProcessAndAnswersTheSame() async throws {
        let (plugin, host) = try await Self.faults()
        defer { host.stop() }
        #expect(plugin.name == "faults" && plugin.steps.count == 11 && plugin.steps.allSatisfy(\.isIsolated))
        let echoed = try await onThread { try Self.call(plugin, "echo", ["text": "héllo", "n": 3]) }
        #expect(echoed == ["text": "héllo", "n": 3])
        let pid = try await onThread { try Self.call(plugin, "pid") }["pid"]?.integerValue
        #expect(pid != nil && pid != Int64(getpid()), "the step ran in the host, not here")
        #expect(host.status.pids == [Int32(pid ?? 0)], "hosts start when calls need them")
        // `serial` is not thread-safe, so by default the plugin gets two hosts of one channel each.
        #expect(host.channelsPerHost == 1 && host.hostCount == 2)
    }

    @Test func aSegfaultFailsTheCallAndTheNextCallGetsAFreshHost() async throws {
        let (plugin, host) = try await Self.faults()
        defer { host.stop() }
        let before = try await onThread { try Self.call(plugin, "pid") }["pid"]?.integerValue
        let error = try #require(try await onThread { Self.failure { try Self.call(plugin, "crash", key: "inst-7/classify/1") } })
        #expect(error.kind == .transient, "a crash is transient by default: the state's retry policy applies")
        #expect(error.message.contains("SIGSEGV") && error.message.contains("faults.crash") && error.message.contains("inst-7/classify/1"), "\(error.message)")
        #expect(error.message.contains("plugin faults (pid \(before ?? 0))"), "\(error.message)")
        let after = try await onThread { try Self.call(plugin, "pid") }["pid"]?.integerValue
        #expect(after != nil && after != before, "restarted")
        #expect(host.status.restarts == 1 && host.status.crashes == 1)
    }

    /// (The step never returns by itself: that the call returns at all is the point; the time
    /// limit catches a call that waits forever.)
    @Test(.timeLimit(.minutes(2)))
    func aCallPastItsDeadlineKillsTheHostAndFailsAsATimeout() async throws {
        let (plugin, host) = try await Self.faults()
        defer { host.stop() }
        let error = try #require(try await onThread { Self.failure { try Self.call(plugin, "hang", deadlineMilliseconds: 300) } })
        #expect(error.kind == .transient && error.message.contains("timed out"), "\(error.message)")
        #expect(try await onThread { try Self.call(plugin, "echo", ["ok": true]) } == ["ok": true])
        #expect(host.status.crashes == 0, "a timeout restarts the host but is not counted towards quarantine")
    }

    @Test func garbageIsRefusedAsInProcessAndTheHostLives() async throws {
        let (plugin, host) = try await Self.faults()
        defer { host.stop() }
        let pid = host.status.pids
        let error = try #require(try await onThread { Self.failure { try Self.call(plugin, "garbage") } })
        #expect(error.kind == .invalidOutput && error.message == "output is not valid UTF-8")
        #expect(host.status.pids == pid && host.status.restarts == 0)
    }

    @Test func theCPULimitStopsASpinningCall() async throws {
        let (plugin, host) = try await Self.faults(IsolationSettings(mode: .process, cpuLimitMilliseconds: 200))
        defer { host.stop() }
        let error = try #require(try await onThread { Self.failure { try Self.call(plugin, "spin", key: "spinner/s/1") } })
        #expect(error.message.contains("ms of CPU time") && error.message.contains("limit of 200 ms") && error.message.contains("spinner/s/1"), "\(error.message)")
        #expect(try await onThread { try Self.call(plugin, "noop") } == [:])
    }

    @Test func theMemoryLimitStopsAHog() async throws {
        let (plugin, host) = try await Self.faults(IsolationSettings(mode: .process, memoryLimitBytes: 256 << 20))
        defer { host.stop() }
        let error = try #require(try await onThread { Self.failure { try Self.call(plugin, "hog") } })
        #expect(error.message.contains("memory limit is 256 MiB"), "\(error.message)")
        #expect(try await onThread { try Self.call(plugin, "noop") } == [:])
    }

    @Test func repeatedCrashesQuarantineThePluginUntilAnOperatorClearsIt() async throws {
        let environment = try isolationEnvironment()
        let path = try await FixtureBuilder.plugin("isolation_faults.c")
        let plugin = try PluginLoader.load(path: path, isolation: IsolationSettings(mode: .process, quarantineAfter: 3), environment: environment)
        let host = try #require(plugin.isolated)
        defer { host.stop() }
        for round in 0..<3 {
            let error = try await onThread { Self.failure { try Self.call(plugin, "crash", key: "c/\(round)/1") } }
            #expect(error?.message.contains("SIGSEGV") == true)
        }
        let refused = try #require(try await onThread { Self.failure { try Self.call(plugin, "echo") } })
        #expect(refused.kind == .permanent && refused.message.contains("quarantined") && refused.message.contains("steward plugins unquarantine faults"), "\(refused.message)")
        let directory = try #require(environment.stateDirectory)
        #expect(IsolatedPlugin.readQuarantine(directory: directory, plugin: "faults") != nil, "kept where steward plugins unquarantine finds it")
        let status = try Data(contentsOf: URL(fileURLWithPath: directory + "/faults.host.\(getpid()).json"))
        #expect(try JSONValue.parse(Array(status))["quarantine"]?.stringValue?.contains("3 host failures") == true)
        // The operator clears it from another process: the engine sees the file gone within a second.
        #expect(IsolatedPlugin.clearQuarantine(directory: directory, plugin: "faults"))
        try await Task.sleep(for: .milliseconds(1_100))
        #expect(try await onThread { try Self.call(plugin, "echo", ["back": true]) } == ["back": true])
    }

    @Test func manyCallsInFlightOnOneHost() async throws {
        let (plugin, host) = try await Self.faults(IsolationSettings(mode: .process, hosts: 1, channels: 8))
        defer { host.stop() }
        let results = try await onThread { () -> [Bool] in
            let outcome = Mutex<[Bool]>([])
            concurrently(8) { worker in
                for index in 0..<100 {
                    let input: JSONValue = ["worker": .integer(Int64(worker)), "index": .integer(Int64(index))]
                    let ok = (try? Self.call(plugin, "echo", input, key: "w\(worker)/\(index)/1")) == input
                    outcome.withLock { $0.append(ok) }
                }
            }
            return outcome.withLock { $0 }
        }
        #expect(results.count == 800 && results.allSatisfy { $0 })
        #expect(host.status.pids.count == 1 && host.channelsPerHost == 8)
    }

    @Test func aStepThatIsNotThreadSafeGetsAPoolOfHostsEachEnteredOnce() async throws {
        let (plugin, host) = try await Self.faults(IsolationSettings(mode: .process, hosts: 2, channels: 1))
        defer { host.stop() }
        let answers = try await onThread { () -> [JSONValue] in
            let outcome = Mutex<[JSONValue]>([])
            concurrently(6) { worker in
                for index in 0..<20 {
                    if let answer = try? Self.call(plugin, "serial", key: "s\(worker)/\(index)/1") { outcome.withLock { $0.append(answer) } }
                }
            }
            return outcome.withLock { $0 }
        }
        #expect(answers.count == 120)
        #expect(answers.allSatisfy { $0["most"]?.integerValue == 1 }, "never entered concurrently within a host")
        #expect(Set(answers.compactMap { $0["pid"]?.integerValue }).count == 2, "both hosts served")
    }

    @Test func aCrashFailsEveryCallInFlightOnThatHostAndNoOther() async throws {
        let (plugin, host) = try await Self.faults(IsolationSettings(mode: .process, hosts: 1, channels: 8))
        defer { host.stop() }
        let outcome = try await onThread { () -> (ok: Int, failed: [StepCallError]) in
            let results = Mutex<(ok: Int, failed: [StepCallError])>((0, []))
            concurrently(5) { worker in
                if worker == 0 {
                    // Crash once the four hung calls are in flight beside it, however loaded the machine.
                    let deadline = Date().addingTimeInterval(60)
                    while host.callsInFlight < 4, Date() < deadline { usleep(5_000) }
                    let error = Self.failure { try Self.call(plugin, "crash") }
                    results.withLock { if let error { $0.failed.append(error) } }
                    return
                }
                let error = Self.failure { try Self.call(plugin, "hang", key: "h\(worker)/s/1", deadlineMilliseconds: 120_000) }
                results.withLock { if let error { $0.failed.append(error) } else { $0.ok += 1 } }
            }
            return results.withLock { $0 }
        }
        #expect(outcome.failed.count == 5, "the crash and the four calls in flight beside it")
        #expect(outcome.failed.allSatisfy { $0.message.contains("SIGSEGV") }, "\(outcome.failed.map(\.message))")
        #expect(try await onThread { try Self.call(plugin, "noop") } == [:])
    }

    @Test func stopRunsTheDeinitInTheHostAndLaterCallsFailCleanly() async throws {
        let (plugin, host) = try await Self.faults()
        let pids = host.status.pids
        #expect(host.stop(), "the host exited by itself once its channels closed")
        #expect(pids.allSatisfy { kill($0, 0) != 0 }, "no host is left behind")
        let error = try #require(try await onThread { Self.failure { try Self.call(plugin, "echo") } })
        #expect(error.message.contains("shutting down"))
    }
}

