import Foundation
import GRDB
import StewardBootstrap
import StewardEngine
import StewardEval
import StewardJSON
@_spi(Benchmarks) import StewardStoreSQLite
import StewardTesting
import Testing

/// Eval runs on an assembled engine: stored immutably, scheduled on durable due times that
/// fire once each, also across a restart, blocking the release when a gate fails.
@Suite struct ScheduleTests {
    /// A temp workspace with a plugin-free template (one checkpoint) and a 4-case dataset on
    /// which accuracy is 0.75 (below the gate's 0.9).
    struct Workspace {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("steward-eval-\(UUID().uuidString)")
        var workflows: String { root.appendingPathComponent("workflows").path }
        var database: String { root.appendingPathComponent("steward.db").path }
        var dataset: String { root.appendingPathComponent("evals/test-template/golden.jsonl").path }

        init() throws {
            try FileManager.default.createDirectory(atPath: workflows, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: (dataset as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let template = TestPlans.templateText("""
                plugins: []
                eval:
                  cadence: "0 * * * *"
                  dataset: evals/test-template/golden.jsonl
                  metrics:
                    - {name: accuracy, kind: accuracy, path: input.label, min: 0.9, max_drop: 0.1}
                    - {name: reviews, kind: review_rate}
                start: check
                states:
                  check:
                    kind: checkpoint
                    credential: agent
                    when: input.score < 0.5
                    decisions: {approve: done}
                  done: {kind: end}
                """)
            try template.write(toFile: workflows + "/test-template.yaml", atomically: true, encoding: .utf8)
            let lines = [
                #"{"id": "1", "input": {"label": "a", "score": 0.9}, "expected": {"input": {"label": "a"}}}"#,
                #"{"id": "2", "input": {"label": "b", "score": 0.2}, "expected": {"input": {"label": "b"}}}"#,
                #"{"id": "3", "input": {"label": "c", "score": 0.8}, "expected": {"input": {"label": "c"}}}"#,
                #"{"id": "4", "input": {"label": "a", "score": 0.9}, "expected": {"input": {"label": "d"}}}"#,
            ]
            try (lines.joined(separator: "\n") + "\n").write(toFile: dataset, atomically: true, encoding: .utf8)
        }

        func assemble(_ clock: ManualEngineClock) async throws -> EngineAssembly {
            try await EngineAssembly.assemble(EngineOptions(
                workspace: StewardBootstrap.Workspace(root: root), workflows: workflows, database: database, pluginDirectories: [],
                buildPlugins: false, clock: clock))
        }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    /// 2026-12-02 10:07:30 UTC.
    static let start: Int64 = 1_796_206_050_000

    @Test func aRunIsStoredWithWhatReproducesItAndCannotBeChanged() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let clock = ManualEngineClock(milliseconds: Self.start)
        let session = EvalSession(assembly: try await workspace.assemble(clock))
        let report = try #require(try await session.run(EvalRequest(template: "test-template", datasetPath: workspace.dataset)))
        #expect(report.run > 0)
        #expect(report.passed == false)
        #expect(report.metrics[0].value == 0.75 && report.metrics[0].n == 4)
        #expect(report.metrics[1].value == 0.25)
        #expect(report.cases.map(\.reviewed) == [false, true, false, false])
        #expect(report.dataset == "evals/test-template/golden.jsonl")
        #expect(report.datasetHash.count == 64 && report.templateHash.count == 64 && !report.configHash.isEmpty)
        let stored = try #require(try await session.load(report.run))
        #expect(stored.cases.count == 4 && stored.metrics == report.metrics)
        // No instance, task or timer was written: the sandbox leaves nothing behind.
        #expect(try await session.assembly.store.instances().isEmpty)
        #expect(try await session.assembly.store.openTasks().isEmpty)
        // Immutable: the store refuses to change or delete a run.
        let store = try #require(session.assembly.store as? SQLiteStore)
        await #expect(throws: (any Error).self) {
            try await store.databasePool.write { db in try db.execute(sql: "UPDATE eval_runs SET passed = 1") }
        }
        await #expect(throws: (any Error).self) {
            try await store.databasePool.write { db in try db.execute(sql: "DELETE FROM eval_runs") }
        }
        // An on-demand run neither blocks the release nor tells anyone.
        #expect(try await store.releaseBlocks().isEmpty)
        // Bad input is refused before anything runs.
        await #expect(throws: EvalInputError.self) {
            _ = try await session.run(EvalRequest(template: "test-template", datasetPath: workspace.dataset, bindings: ["classifier": "x@1.0.0"]))
        }
        await #expect(throws: EvalInputError.self) {
            _ = try await session.run(EvalRequest(template: "no-such-template", datasetPath: workspace.dataset))
        }
        await #expect(throws: EvalInputError.self) {
            _ = try await session.run(EvalRequest(template: "test-template", datasetPath: workspace.dataset, baseline: .run(999)))
        }
    }

    @Test func aDueTimeRunsOnceAlsoAfterARestartAndAFailedGateBlocksTheRelease() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let clock = ManualEngineClock(milliseconds: Self.start)
        var session = EvalSession(assembly: try await workspace.assemble(clock))
        var scheduler = EvalScheduler(session: session)
        // Nothing is due yet; the first due time is the next full hour (11:00 UTC).
        #expect(try await scheduler.tick(now: Self.start).runs.isEmpty)
        let schedules = try await session.assembly.store.evalSchedules()
        #expect(schedules.count == 1 && schedules[0].nextDue == 1_796_209_200_000 && schedules[0].cadence == "0 * * * *")

        // 11:01: the 11:00 due time runs once.
        let late: Int64 = 1_796_209_260_000
        clock.set(late)
        let first = try await scheduler.tick(now: late)
        #expect(first.runs.count == 1 && first.problems.isEmpty, "\(first.problems)")
        #expect(first.runs[0].trigger == "schedule" && first.runs[0].passed == false)
        let blocks = try await session.assembly.store.releaseBlocks(template: "test-template")
        #expect(blocks.count == 1 && blocks[0].version == "1.0.0" && blocks[0].reason.contains("accuracy"))
        let told = try await session.assembly.store.notifications()
        #expect(told.contains { $0.recipient == "test-lead" && $0.message.contains("Release blocked") })
        #expect(try await scheduler.tick(now: late).runs.isEmpty, "the same due time does not run twice")

        // A restart: a new engine over the same database, at the same moment. Still once.
        session = EvalSession(assembly: try await workspace.assemble(clock))
        scheduler = EvalScheduler(session: session)
        #expect(try await scheduler.tick(now: late).runs.isEmpty)
        #expect(try await session.assembly.store.evalSchedules()[0].nextDue == 1_796_212_800_000)
        // Another process answering the 11:00 due time again stores nothing.
        let duplicate = try await session.run(
            EvalRequest(template: "test-template", datasetPath: workspace.dataset, trigger: "schedule"),
            due: EvalDue(template: "test-template", customer: nil, dueAt: 1_796_209_200_000, nextDue: 1_796_212_800_000))
        #expect(duplicate == nil)

        // 12:00 runs next, against the 11:00 run as its baseline.
        let noon: Int64 = 1_796_212_830_000
        let second = try await scheduler.tick(now: noon)
        #expect(second.runs.count == 1)
        #expect(second.runs[0].baseline == first.runs[0].run)
        #expect(second.runs[0].metrics[0].threshold.baseline == 0.75)
        let runs = try await session.assembly.store.evalRuns(template: "test-template")
        #expect(runs.filter { $0.trigger == "schedule" }.count == 2)

        // Clearing a block is audited.
        let store = session.assembly.store
        let block = try #require(try await store.releaseBlocks(template: "test-template").last)
        #expect(try await store.clearReleaseBlock(id: block.id, by: "olu", at: noon))
        #expect(try await store.clearReleaseBlock(id: block.id, by: "olu", at: noon) == false)
        #expect(try await store.auditEntries().contains { $0.kind == "release_unblocked" && $0.actor == "olu" })
        #expect(try await store.verifyJournal().problems.isEmpty)
    }
}
