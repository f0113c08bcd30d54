import StewardJSON
import StewardPlugins
import Testing

/// The host honours STW_STEP_THREAD_SAFE: `concurrency.c` counts, with C11 atomics, how
/// many callers are inside each of its steps at once.
@Suite("Thread-safety flags are honoured")
struct ThreadSafetyTests {
    static let callers = 32

    static func registry() async throws -> PluginRegistry {
        try PluginRegistry(loading: [try await FixtureBuilder.plugin("concurrency.c")])
    }

    /// Calls `step` from `callers` tasks at once; returns the plugin's counters before and after.
    static func hammer(_ step: String) async throws -> (before: JSONValue, after: JSONValue) {
        let registry = try await registry()
        let before = try registry.call("concurrency.stats", input: [:], config: [:], idempotencyKey: "stats", attempt: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    _ = try registry.call(step, input: [:], config: [:], idempotencyKey: "concurrency/\(caller)/1", attempt: 1)
                }
            }
            try await group.waitForAll()
        }
        return (before, try registry.call("concurrency.stats", input: [:], config: [:], idempotencyKey: "stats", attempt: 1))
    }

    static func calls(_ step: String, _ before: JSONValue, _ after: JSONValue) -> Int {
        Int((after["\(step)_calls"]?.integerValue ?? 0) - (before["\(step)_calls"]?.integerValue ?? 0))
    }

    @Test func stepNotFlaggedThreadSafeIsNeverEnteredConcurrently() async throws {
        let registry = try await Self.registry()
        #expect(registry.step("concurrency.serial")?.isThreadSafe == false)
        let (before, after) = try await Self.hammer("concurrency.serial")
        #expect(Self.calls("serial", before, after) == Self.callers)
        #expect(after["serial_max"] == 1, "\(after)")
    }

    @Test func threadSafeStepMayBeEnteredConcurrently() async throws {
        let registry = try await Self.registry()
        #expect(registry.step("concurrency.parallel")?.isThreadSafe == true)
        let (before, after) = try await Self.hammer("concurrency.parallel")
        #expect(Self.calls("parallel", before, after) == Self.callers)
        #expect((after["parallel_max"]?.integerValue ?? 0) >= 2, "\(after)")
    }
}
