import StewardJSON
import StewardPlugins
import Testing

/// The host's output size limit (issue 17, item 4): checked before any byte is read.
@Suite("Plugin outputs are bounded before the host reads them")
struct OutputLimitTests {
    func registry() async throws -> PluginRegistry {
        try PluginRegistry(loading: [try await FixtureBuilder.plugin("output_limits.c")])
    }

    func failure(_ step: String, limit: Int = OutputLimit.defaultBytes, in given: PluginRegistry? = nil) async throws -> StepCallError {
        let registry: PluginRegistry
        if let given { registry = given } else { registry = try await self.registry() }
        let error = #expect(throws: StepCallError.self) {
            _ = try registry.call("limits.\(step)", input: [:], config: [:], idempotencyKey: "i/s/1", attempt: 1, maxOutputBytes: limit)
        }
        return try #require(error)
    }

    @Test("a 200 MB output is refused at the allocation, naming the size and the limit")
    func hugeOutputRefusedAtAllocation() async throws {
        let registry = try await registry()  // compiling the fixture is not part of the call
        let clock = ContinuousClock()
        let started = clock.now
        let error = try await failure("huge", in: registry)
        #expect(error.kind == .invalidOutput)
        #expect(error.message.contains("200000000 bytes"), "\(error.message)")
        #expect(error.message.contains("limit of \(OutputLimit.defaultBytes) bytes"), "\(error.message)")
        #expect(clock.now - started < .seconds(5), "refused without writing 200 MB")
    }

    @Test("a claimed 64 MiB output in an 11-byte buffer is refused, not read")
    func hugeClaimRefused() async throws {
        let error = try await failure("lying_huge")
        #expect(error.kind == .invalidOutput)
        #expect(error.message.contains("\(64 << 20) bytes exceeds the limit"), "\(error.message)")
    }

    @Test("a claimed length under the limit but past the buffer is refused, not read")
    func claimPastBufferRefused() async throws {
        let error = try await failure("lying_small")
        #expect(error.kind == .invalidOutput)
        #expect(error.message.contains("output_length 4096 is larger than its buffer"), "\(error.message)")
    }

    @Test("an output under the limit passes; the same output over a per-call limit fails")
    func normalOutputUnderLimit() async throws {
        let registry = try await registry()
        let output = try registry.call("limits.normal", input: [:], config: [:], idempotencyKey: "i/s/1", attempt: 1, maxOutputBytes: 64)
        #expect(output == ["score": 0.25])
        let error = try await failure("normal", limit: 8)
        #expect(error.kind == .invalidOutput)
        #expect(error.message.contains("limit of 8 bytes"), "\(error.message)")
    }
}
