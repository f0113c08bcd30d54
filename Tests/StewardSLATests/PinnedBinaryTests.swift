import Foundation
import StewardBootstrap
import StewardCore
import StewardDigest
import StewardEngine
import StewardJSON
import StewardTesting
import Testing

/// Every binary that ran an instance is identifiable afterwards: each step's journal entry names
/// the SHA-256 of the plugin library that served it, and an operator's pin in `plugins.yaml`
/// refuses a different binary under the same version, naming both hashes.
@Suite struct PinnedBinaryTests {
    @Test func theJournalNamesTheBinaryAndAPinRefusesAnother() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-pins-\(UUID().uuidString)")
        let workflows = directory.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FanOutTests.template.replacingOccurrences(of: "FAILURE", with: "collect")
            .write(to: workflows.appendingPathComponent("clause-check.yaml"), atomically: true, encoding: .utf8)
        let (plugins, libraries) = try SLAEngineTests.plugins.get()
        let keywords = plugins.appendingPathComponent("libsteward-keywords.so")
        let actual = SHA256.hex(try Data(contentsOf: keywords))
        func assemble(pin: String?) async throws -> EngineAssembly {
            let pins = workflows.appendingPathComponent("plugins.yaml")
            if let pin { try "pins:\n  keywords@1.0.0: \(pin)\n".write(to: pins, atomically: true, encoding: .utf8) }
            return try await EngineAssembly.assemble(EngineOptions(
                workspace: Workspace(root: directory), workflows: workflows.path, database: directory.appendingPathComponent("s.db").path,
                pluginDirectories: [plugins.path], libraryDirectories: [libraries.path], buildPlugins: false, sleeper: RecordingSleeper()))
        }
        let wrong = String(repeating: "ab", count: 32)
        do {
            _ = try await assemble(pin: wrong)
            Issue.record("a binary other than the pinned one loaded")
        } catch let error as BootstrapError {
            #expect(error.description.contains(actual) && error.description.contains(wrong) && error.description.contains("keywords@1.0.0"), "\(error)")
        }
        do {
            _ = try await assemble(pin: "not-a-hash")
            Issue.record("a malformed pin was accepted")
        } catch let error as BootstrapError {
            #expect(error.description.contains("plugins.yaml:2:") && error.description.contains("64 hex digits"), "\(error)")
        }
        let assembly = try await assemble(pin: actual)
        let state = try await assembly.engine.submit(
            template: "clause-check", input: ["clauses": ["payment is due monthly"], "contract": "C-1"], id: "pinned-1")
        #expect(state.status == .completed, "\(state)")
        let steps = try await assembly.store.history(of: "pinned-1.check.1.0").filter { $0.kind == "step_succeeded" }
        #expect(steps.count == 1 && steps.allSatisfy { $0.payload["binary"]?.stringValue == actual }, "\(steps.map(\.payload))")
        #expect(try await assembly.auditor.verify().problems.isEmpty, "the recorded hash is part of the chained journal")
    }

    @Test func anFFIStepNamesTheCLibraryThatServedIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-ffi-hash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (plugins, libraries) = try SLAEngineTests.plugins.get()
        let assembly = try await EngineAssembly.assemble(EngineOptions(
            workspace: Workspace(root: SLAEngineTests.root), workflows: SLAEngineTests.root.appendingPathComponent("workflows").path,
            database: directory.appendingPathComponent("s.db").path, pluginDirectories: [plugins.path], libraryDirectories: [libraries.path],
            buildPlugins: false, sleeper: RecordingSleeper()))
        let input = try JSONValue.parse(String(contentsOf: SLAEngineTests.root.appendingPathComponent("workflows/examples/account-1.json"), encoding: .utf8))
        _ = try await assembly.engine.submit(template: "account-health-review", customer: "acme-bank", input: input, id: "health-1")
        let churn = SHA256.hex(try Data(contentsOf: libraries.appendingPathComponent("libchurn.so")))
        let calls = try await assembly.store.history(of: "health-1").filter { $0.kind == "step_succeeded" && $0.payload["state"] == "score" }
        #expect(calls.count == 1 && calls.first?.payload["binary"]?.stringValue == churn, "\(calls.map(\.payload))")
    }
}
