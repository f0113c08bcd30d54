import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardReview
import StewardTemplates
import StewardTesting
import Testing

/// Instances are pinned to the exact text of their template: a text changed under an unchanged
/// version is refused at load (naming the template, the version and both hashes), the stored
/// text stays in force, and replay, recovery and audit never depend on the file.
@Suite struct TemplatePinningTests {
    static let reviewed = """
        plugins: [slow]
        states:
          quick: {kind: step, step: slow.quick, input: input, output: answer, next: review}
          review:
            kind: checkpoint
            credential: support-agent
            subject: answer
            decisions: {approve: done, reject: refused}
          done: {kind: end}
          refused: {kind: end, status: rejected}
        """

    @Test func anEditWithoutANewVersionIsRefusedAndTheOldTextStillReplays() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let file = try workspace.write(Self.reviewed, name: "pinned")
        let first = try await workspace.assemble()
        let waiting = try await first.engine.submit(template: "pinned", input: ["q": "x"], id: "p-1")
        #expect(waiting.status == .waiting)
        let hash = try #require(waiting.templateHash)
        #expect(try await first.store.template(hash: hash)?.text == (try String(contentsOfFile: file, encoding: .utf8)))

        // Edit the text in place (a new state on the approve path) without bumping the version.
        try TestPlans.templateText(
            Self.reviewed.replacingOccurrences(of: "decisions: {approve: done, reject: refused}", with: "decisions: {approve: extra, reject: refused}")
                + "\n  extra: {kind: step, step: slow.quick, input: input, output: more, next: done}\n",
            name: "pinned"
        ).write(toFile: file, atomically: true, encoding: .utf8)
        let second = try await workspace.assemble()
        let refusal = try #require(second.problems.first?.message)
        #expect(refusal.contains("template 'pinned' version 1.0.0 changed without a new version"), "\(refusal)")
        #expect(refusal.contains(String(hash.prefix(16))), "names the stored hash: \(refusal)")
        let edited = TemplateSnapshot.hash(text: try String(contentsOfFile: file, encoding: .utf8), prompts: [:])
        #expect(refusal.contains(String(edited.prefix(16))), "names the file's hash: \(refusal)")
        #expect(refusal.contains("new 'version'"), "says how to fix it: \(refusal)")

        // The stored text stays in force: the waiting instance decides and finishes under it,
        // and the audit replays every instance.
        let (agent, _) = try await second.store.addReviewer(name: "Ana", credentials: ["support-agent"], at: 0)
        let task = try #require(try await second.store.openTasks().first)
        let done = try await second.desk.decide(task: task.id, by: agent, decision: .approve)
        #expect(done.status == .completed)
        #expect(done.data["more"] == nil, "the old text has no 'extra' state")
        let report = try await second.auditor.verify()
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.instancesReplayed == 1)

        // Asked to run the edited file itself, assembly fails with the same message.
        await #expect(throws: AssemblyFailed.self) {
            _ = try await EngineAssembly.assemble(EngineOptions(
                workspace: Workspace(root: workspace.root), workflows: workspace.workflows.path, database: workspace.database,
                pluginDirectories: [workspace.plugins.path], buildPlugins: false, extraTemplate: file))
        }
    }

    @Test func aNewVersionLoadsBesideTheOldOneAndInFlightInstancesKeepTheirs() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let file = try workspace.write(Self.reviewed, name: "versions")
        let first = try await workspace.assemble()
        let old = try await first.engine.submit(template: "versions", input: [:], id: "v1-instance")
        #expect(old.templateVersion == "1.0.0")

        // The file moves on to 2.0.0; 1.0.0 now exists only in the store, and still runs.
        try workspace.write(
            Self.reviewed.replacingOccurrences(of: "decisions: {approve: done, reject: refused}", with: "decisions: {approve: refused, reject: done}"),
            name: "versions", version: "2.0.0", file: (file as NSString).lastPathComponent)
        let second = try await workspace.assemble()
        #expect(second.problems.isEmpty, "\(second.problems)")
        #expect(Set(second.plans.all.map(\.version)) == ["1.0.0", "2.0.0"], "both versions are loaded")
        #expect(second.plans.plan(template: "versions", version: nil)?.version == "2.0.0", "new work gets the newest")
        let new = try await second.engine.submit(template: "versions", input: [:], id: "v2-instance")
        #expect(new.templateVersion == "2.0.0" && new.templateHash != old.templateHash)

        let (agent, _) = try await second.store.addReviewer(name: "Ana", credentials: ["support-agent"], at: 0)
        for task in try await second.store.openTasks() {
            _ = try await second.desk.decide(task: task.id, by: agent, decision: .approve)
        }
        #expect(try await second.engine.currentState(id: "v1-instance")?.status == .completed, "1.0.0 approves to done")
        #expect(try await second.engine.currentState(id: "v2-instance")?.status == .rejected, "2.0.0 approves to refused")
        #expect(try await second.auditor.verify().problems.isEmpty)
        // Without the file at all, the stored texts still replay.
        try FileManager.default.removeItem(atPath: file)
        let third = try await workspace.assemble()
        #expect(try await third.auditor.verify().problems.isEmpty)
    }

    @Test func theCurrentStateOfARunningInstanceIncludesEventsAfterItsSnapshot() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        try workspace.write(
            """
            plugins: [slow]
            states:
              one: {kind: step, step: slow.quick, input: input, output: first, next: two}
              two: {kind: step, step: slow.nap, input: {ms: input.ms, until: input.until}, output: second, next: done}
              done: {kind: end}
            """, name: "two-steps")
        let assembly = try await workspace.assemble()
        let wake = workspace.root.appendingPathComponent("wake").path
        let running = Task { try await assembly.engine.submit(template: "two-steps", input: ["ms": 60_000, "until": .string(wake)], id: "r") }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        var current: InstanceState?
        while clock.now < deadline {
            current = try await assembly.engine.currentState(id: "r")
            if current?.current == "two" { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let snapshot = try await assembly.store.instance(id: "r")
        #expect(snapshot?.current == "one", "the stored snapshot is from the start")
        #expect(current?.current == "two" && current?.data["first"] == ["ok": true], "current state replays the newer events")
        _ = FileManager.default.createFile(atPath: wake, contents: nil)
        _ = try await running.value
        #expect(try await assembly.engine.currentState(id: "r")?.status == .completed)
    }
}
