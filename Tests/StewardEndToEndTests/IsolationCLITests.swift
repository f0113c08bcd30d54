import Foundation
import StewardJSON
import StewardTesting
import Testing

/// An isolated plugin through the real executable, in a workspace of its own: a step that keeps
/// segfaulting fails its instance (the engine lives and says why), the plugin ends quarantined,
/// `steward plugins list` shows it, and `steward plugins unquarantine` clears it.
@Suite("isolated plugins through the CLI", .serialized)
struct IsolationCLITests {
    @Test(.timeLimit(.minutes(3)))
    func aCrashingPluginIsContainedQuarantinedListedAndCleared() async throws {
        let source = StewardCLITests.packageRoot.appendingPathComponent("Tests/StewardPluginsTests/Fixtures/isolation_faults.c")
        let library = try await PluginToolkitTests.compile(source, name: "faults")
        let root = library.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: root) }
        let workflows = root.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        try "plugins:\n  faults: {isolation: process, quarantine_after: 2, quarantine_window_s: 600}\n"
            .write(to: workflows.appendingPathComponent("plugins.yaml"), atomically: true, encoding: .utf8)
        try TestPlans.templateText("""
            plugins: [faults]
            states:
              boom:
                kind: step
                step: faults.crash
                input: input
                output: result
                retry: {max_attempts: 3, initial_backoff_ms: 1, max_backoff_ms: 2}
                next: done
              done: {kind: end}
            """, name: "crashy").write(to: workflows.appendingPathComponent("crashy.yaml"), atomically: true, encoding: .utf8)
        try "{}".write(to: root.appendingPathComponent("input.json"), atomically: true, encoding: .utf8)

        let run = try await StewardCLITests.stewardAsync(["run", "crashy", "--input", "input.json", "--id", "c-1", "--plugins", library.path, "--quiet"], in: root)
        #expect(run.status != 0 && run.status < 128, "the instance failed; the engine did not crash: \(run)")
        let report = try JSONValue.parse(run.stdout)
        #expect(report["status"] == "failed", "\(run)")
        let text = run.stdout + run.stderr
        #expect(text.contains("SIGSEGV") && text.contains("quarantined"), "the first two attempts crashed, the third found the plugin quarantined: \(run)")

        let listed = try await StewardCLITests.stewardAsync(["plugins", "list", "--plugins", library.path, "--json"], in: root)
        #expect(listed.status == 0, "\(listed)")
        let plugin = try JSONValue.parse(listed.stdout)["plugins"]?.arrayValue?.first
        #expect(plugin?["isolation"]?["mode"] == "process", "\(listed)")
        #expect(plugin?["isolation"]?["quarantine"]?.stringValue?.contains("2 host failures") == true, "\(listed)")
        let table = try await StewardCLITests.stewardAsync(["plugins", "list", "--plugins", library.path], in: root)
        #expect(table.stdout.contains("faults 1.0.0") && table.stdout.contains("QUARANTINED"), "\(table)")

        let cleared = try await StewardCLITests.stewardAsync(["plugins", "unquarantine", "faults"], in: root)
        #expect(cleared.status == 0 && cleared.stdout.contains("no longer quarantined"), "\(cleared)")
        let again = try await StewardCLITests.stewardAsync(["plugins", "unquarantine", "faults"], in: root)
        #expect(again.status != 0 && again.stderr.contains("plugin 'faults' is not quarantined (no plugin is)"), "\(again)")
        let relisted = try await StewardCLITests.stewardAsync(["plugins", "list", "--plugins", library.path, "--json"], in: root)
        #expect(try JSONValue.parse(relisted.stdout)["plugins"]?.arrayValue?.first?["isolation"]?["quarantine"] == .null, "\(relisted)")
    }
}
