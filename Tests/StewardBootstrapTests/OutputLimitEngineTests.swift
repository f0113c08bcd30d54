import StewardCore
import StewardEngine
import Testing

/// A state's `max_output_bytes` (else the template's) reaches the plugin host through the
/// engine's invocation, and a larger output fails the attempt as `invalid_output`.
@Suite struct OutputLimitEngineTests {
    @Test func aStateLimitBelowTheOutputFailsTheAttempt() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        // slow.quick answers {"ok":true}: 11 bytes.
        try workspace.write(
            """
            plugins: [slow]
            max_output_bytes: 64
            states:
              tight: {kind: step, step: slow.quick, input: input, output: a, max_output_bytes: 10, next: roomy}
              roomy: {kind: step, step: slow.quick, input: input, output: b, next: done}
              done: {kind: end}
            """, name: "bounded")
        let assembly = try await workspace.assemble()
        let plan = try #require(assembly.plans.plan(template: "bounded", version: nil))
        #expect(plan.state("tight")?.maxOutputBytes == 10, "the state's limit wins over the template's")
        #expect(plan.state("roomy")?.maxOutputBytes == 64, "the template's limit is the default")

        let final = try await assembly.engine.submit(template: "bounded", input: [:], id: "big")
        #expect(final.status == .failed)
        #expect(final.failure?.kind == .invalidOutput)
        #expect(final.failure?.message.contains("output of 11 bytes exceeds the limit of 10 bytes") == true, "\(String(describing: final.failure))")
    }
}
