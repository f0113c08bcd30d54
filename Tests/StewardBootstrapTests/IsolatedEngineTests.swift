import CoreMetrics
import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardPlugins
import Synchronization
import StewardTesting
import Testing

/// Records what the engine reports: counter totals and timer sample counts by label and dimensions.
final class RecordingMetrics: MetricsFactory, Sendable {
    let values = Mutex<[String: Int64]>([:])

    static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        ([label] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
    }

    final class Handle: CounterHandler, TimerHandler, RecorderHandler, Sendable {
        let key: String
        let owner: RecordingMetrics
        init(_ key: String, _ owner: RecordingMetrics) {
            self.key = key
            self.owner = owner
        }
        func increment(by amount: Int64) { owner.values.withLock { $0[key, default: 0] += amount } }
        func reset() { owner.values.withLock { $0[key] = 0 } }
        func recordNanoseconds(_ duration: Int64) { owner.values.withLock { $0[key, default: 0] += 1 } }
        func record(_ value: Int64) { owner.values.withLock { $0[key, default: 0] += 1 } }
        func record(_ value: Double) { owner.values.withLock { $0[key, default: 0] += 1 } }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { Handle(Self.key(label, dimensions), self) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { Handle(Self.key(label, dimensions), self) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { Handle(Self.key(label, dimensions), self) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    func value(_ label: String, _ dimensions: [(String, String)]) -> Int64 { values.withLock { $0[Self.key(label, dimensions)] ?? 0 } }
}

/// The engine with a plugin in host processes, assembled from a workspace as `steward` does:
/// `isolation: process` in plugins.yaml or a template's plugins list, faults contained.
@Suite(.serialized) struct IsolatedEngineTests {
    /// A workspace with the isolation fault fixture beside the slow one.
    static func workspace(settings: String?) throws -> TestWorkspace {
        let workspace = try TestWorkspace()
        let source = TestWorkspace.packageRoot.appendingPathComponent("Tests/StewardPluginsTests/Fixtures/isolation_faults.c").path
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess.
        let compiled = try ChildProcess.run("cc", [
            "-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden",
            "-I", TestWorkspace.packageRoot.appendingPathComponent("Sources/StewardABI/include").path, source,
            "-o", workspace.plugins.appendingPathComponent("libfaults.so").path,
        ])
        guard compiled.status == 0 else { throw BootstrapError("cc failed building the faults fixture") }
        if let settings { try settings.write(to: workspace.workflows.appendingPathComponent("plugins.yaml"), atomically: true, encoding: .utf8) }
        return workspace
    }

    static let chaosBody = """
        plugins: [faults]
        states:
          risky:
            kind: step
            step: faults.chaos
            input: input
            output: result
            timeout_ms: 2000
            retry: {max_attempts: 4, initial_backoff_ms: 1, max_backoff_ms: 5}
            next: done
          done: {kind: end}
        """

    @Test(.timeLimit(.minutes(2)))
    func crashesAndHangsUnderABatchFailOnlyTheirCallsAndEveryInstanceEnds() async throws {
        let workspace = try Self.workspace(settings: "plugins:\n  faults: {isolation: process, hosts: 1, channels: 8, quarantine_after: 100000}\n")
        defer { workspace.remove() }
        try workspace.write(Self.chaosBody, name: "chaos")
        let metrics = RecordingMetrics()
        let assembly = try await workspace.assemble(pluginThreads: 8, metrics: EngineMetrics(factory: metrics))
        defer { assembly.stopPlugins(grace: 1) }
        let faults = try #require(assembly.registry.plugins.first { $0.name == "faults" })
        #expect(faults.isolated != nil, "plugins.yaml isolates it")
        #expect(assembly.registry.plugins.first { $0.name == "slow" }?.isolated == nil, "the other plugin stays in process")
        let count = 120
        // 5% of calls segfault and 2% hang (each until the 2 s timeout): with four attempts, most
        // instances still complete, even on a loaded machine.
        let input: JSONValue = ["crash_per_mille": 50, "hang_per_mille": 20]
        let states = try await withThrowingTaskGroup(of: InstanceState.self) { group in
            for index in 0..<count {
                group.addTask { try await assembly.engine.submit(template: "chaos", input: input, id: "chaos-\(index)") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let counts = try await assembly.store.countByStatus()
        #expect(states.count == count && counts.values.reduce(0, +) == count, "no instance lost: \(counts)")
        #expect(counts[.running, default: 0] == 0, "every instance ended: \(counts)")
        #expect(counts[.completed, default: 0] >= count / 2, "retries carried most of them through: \(counts)")
        var crashes = 0
        var timeouts = 0
        for index in 0..<count {
            for event in try await assembly.store.history(of: "chaos-\(index)") where event.kind == "step_failed" {
                let text = event.payload.jsonString
                if text.contains("SIGSEGV") { crashes += 1 }
                if text.contains("timed out") || text.contains("ran past its deadline") { timeouts += 1 }
            }
        }
        // (A hung call is often killed by a crash beside it before its deadline: the timeout
        // path has its own test below.)
        #expect(crashes > 0, "the failed attempts are journaled with their cause: \(crashes) crashes, \(timeouts) timeouts")
        let status = try #require(faults.isolated?.status)
        #expect(status.restarts > 0 && status.quarantine == nil)
        #expect(metrics.value(MetricName.pluginHostStarts, [("plugin", "faults")]) == Int64(status.restarts), "restarts are counted")
        #expect(metrics.value(MetricName.pluginHostFailures, [("plugin", "faults"), ("cause", "died")]) > 0)
        #expect(metrics.value(MetricName.pluginCallDuration, [("plugin", "faults"), ("mode", "process")]) > Int64(count), "calls are timed by mode")
        print("isolation chaos: \(count) instances, \(counts[.completed, default: 0]) completed, \(counts[.failed, default: 0]) failed; \(crashes) crashed and \(timeouts) timed-out attempts journaled; \(status.restarts) host restarts")
    }

    @Test(.timeLimit(.minutes(1)))
    func aHungStepTimesOutItsHostIsRetiredAndTheNextCallIsServed() async throws {
        let workspace = try Self.workspace(settings: "plugins:\n  faults: {isolation: process, hosts: 1, channels: 4}\n")
        defer { workspace.remove() }
        try workspace.write("""
            plugins: [faults]
            states:
              stuck: {kind: step, step: faults.hang, input: input, output: never, timeout_ms: 300, retry: {max_attempts: 1}, next: done}
              done: {kind: end}
            """, name: "hung")
        try workspace.write(TestWorkspace.quickBody.replacingOccurrences(of: "slow.quick", with: "faults.noop").replacingOccurrences(of: "[slow]", with: "[faults]"), name: "fine")
        let metrics = RecordingMetrics()
        let assembly = try await workspace.assemble(metrics: EngineMetrics(factory: metrics))
        defer { assembly.stopPlugins(grace: 1) }
        let failed = try await assembly.engine.submit(template: "hung", input: [:], id: "h")
        #expect(failed.status == .failed)
        let journaled = try await assembly.store.history(of: "h").filter { $0.kind == "step_failed" }.map(\.payload.jsonString)
        #expect(journaled.count == 1 && journaled[0].contains("did not return within 300 ms"), "\(journaled)")
        let served = try await assembly.engine.submit(template: "fine", input: [:], id: "f")
        #expect(served.status == .completed, "a fresh host serves the next call")
        // The retired host is killed once its hung call is the only one left on it.
        let deadline = ContinuousClock.now + .seconds(60)
        while metrics.value(MetricName.pluginHostFailures, [("plugin", "faults"), ("cause", "timeout")]) == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(metrics.value(MetricName.pluginHostFailures, [("plugin", "faults"), ("cause", "timeout")]) == 1)
        #expect(assembly.registry.plugins.first { $0.name == "faults" }?.isolated?.status.crashes == 0, "a timeout is not a crash")
    }

    @Test func aTemplateCanAskForIsolationButNotLoosenIt() async throws {
        let workspace = try Self.workspace(settings: nil)
        defer { workspace.remove() }
        try workspace.write("""
            plugins: [{name: slow, isolation: process}]
            states:
              quick: {kind: step, step: slow.quick, input: input, output: answer, next: done}
              done: {kind: end}
            """, name: "isolated-quick")
        let assembly = try await workspace.assemble()
        defer { assembly.stopPlugins(grace: 1) }
        #expect(assembly.registry.plugins.first { $0.name == "slow" }?.isolated != nil, "the template's request isolates it")
        let finished = try await assembly.engine.submit(template: "isolated-quick", input: ["n": 1], id: "q")
        #expect(finished.status == .completed)

        let strict = try Self.workspace(settings: "plugins:\n  faults: {isolation: process}\n")
        defer { strict.remove() }
        try strict.write("""
            plugins: [{name: faults, isolation: in-process}]
            states:
              one: {kind: step, step: faults.noop, input: input, output: answer, next: done}
              done: {kind: end}
            """, name: "loosening")
        await #expect(throws: BootstrapError.self) { _ = try await strict.assemble() }
        do {
            _ = try await strict.assemble()
        } catch {
            #expect("\(error)".contains("a template may tighten a plugin's isolation, never loosen it"), "\(error)")
        }
    }

    @Test func theOperatorSetsTheHostsEnvironmentAndNothingElse() async throws {
        let workspace = try Self.workspace(settings: "plugins:\n  faults:\n    isolation: process\n    environment: {FAULTS_VARIABLE: from-plugins-yaml}\n")
        defer { workspace.remove() }
        try workspace.write("""
            plugins: [faults]
            states:
              look: {kind: step, step: faults.env, input: input, output: seen, next: done}
              done: {kind: end, output: seen}
            """, name: "env-look")
        let assembly = try await workspace.assemble()
        defer { assembly.stopPlugins(grace: 1) }
        let finished = try await assembly.engine.submit(template: "env-look", input: [:], id: "e")
        #expect(finished.status == .completed && finished.output?["value"] == "from-plugins-yaml", "\(String(describing: finished.output))")
        #expect(ProcessInfo.processInfo.environment["FAULTS_VARIABLE"] == nil, "the engine's own environment is untouched")
    }

    @Test func aMistakeInThePluginSettingsIsLocated() async throws {
        let workspace = try Self.workspace(settings: "plugins:\n  faults:\n    isolation: proces\n    memory_limit_mb: 4\n")
        defer { workspace.remove() }
        do {
            _ = try await workspace.assemble()
            Issue.record("assembly should fail")
        } catch {
            let text = "\(error)"
            #expect(text.contains("plugins.yaml:3:16") && text.contains("did you mean 'process'"), "\(text)")
            #expect(text.contains("plugins.yaml:4:22") && text.contains("16...1048576"), "\(text)")
        }
        let typo = try Self.workspace(settings: "plugins:\n  fautls: {isolation: process}\n")
        defer { typo.remove() }
        do {
            _ = try await typo.assemble()
            Issue.record("a near-miss plugin name should fail")
        } catch {
            #expect("\(error)".contains("did you mean 'faults'"), "\(error)")
        }
    }
}
