import StewardEngine
import StewardJSON

extension StoreConformance {
    static func evalRecord(_ template: String, customer: String? = nil, dataset: String = "d-hash", passed: Bool = true, at: Int64) -> EvalRunRecord {
        EvalRunRecord(
            template: template, templateVersion: "1.0.0", templateHash: "t-hash", customer: customer, dataset: "evals/\(template)/golden.jsonl",
            datasetHash: dataset, passed: passed, createdAt: at, trigger: "cli", summary: ["passed": .bool(passed)],
            body: ["passed": .bool(passed), "cases": [["id": "1"]]])
    }

    /// Runs are stored and listed without cases; a due time yields one run; a block and its
    /// notification land with the run; clearing a block is audited; all of it verifies.
    static func evalRuns(_ store: any EngineStore) async throws {
        let first = try await store.commitEvalRun(EvalRunCommit(run: evalRecord("t", at: 10), actor: "eval:cli"))
        let id = try required(first, "an on-demand run is stored")
        let stored = try required(try await store.evalRun(id: id), "the run is found by id")
        try expect(stored.body?["cases"]?.arrayValue?.count == 1 && stored.template == "t" && stored.customer == nil, "the run keeps its body: \(stored)")
        _ = try await store.commitEvalRun(EvalRunCommit(run: evalRecord("t", customer: "acme", at: 11), actor: "eval:cli"))
        _ = try await store.commitEvalRun(EvalRunCommit(run: evalRecord("other", at: 12), actor: "eval:cli"))
        let listed = try await store.evalRuns(template: "t", customer: nil, limit: 10)
        try expect(listed.map(\.createdAt) == [11, 10] && listed.allSatisfy { $0.body == nil }, "lists are newest first, without cases: \(listed)")
        try expect(try await store.evalRuns(template: "t", customer: "", limit: 10).map(\.createdAt) == [10], "'' filters runs without a customer")
        try expect(try await store.evalRuns(template: "t", customer: "acme", limit: 10).map(\.createdAt) == [11], "a customer filters its runs")

        try await store.setEvalSchedule(EvalSchedule(template: "t", customer: nil, cadence: "daily", nextDue: 100))
        try await store.setEvalSchedule(EvalSchedule(template: "t", customer: nil, cadence: "daily", nextDue: 999))
        try expect(try await store.evalSchedules().map(\.nextDue) == [100], "the same cadence keeps its due time")
        let due = EvalDue(template: "t", customer: nil, dueAt: 100, nextDue: 200)
        let block = ReleaseBlock(template: "t", version: "1.0.0", templateHash: "t-hash", customer: nil, reason: "accuracy below min", blockedAt: 101)
        let scheduled = try await store.commitEvalRun(EvalRunCommit(
            run: evalRecord("t", passed: false, at: 101), due: due, block: block,
            notifications: [NotificationRecord(recipient: "lead", message: "release blocked", at: 101, instance: nil)], actor: "eval:schedule"))
        try expect(scheduled != nil, "the first run for a due time is stored")
        let again = try await store.commitEvalRun(EvalRunCommit(run: evalRecord("t", passed: false, at: 102), due: due, block: block, actor: "eval:schedule"))
        try expect(again == nil, "a due time yields one run")
        let schedule = try await store.evalSchedules()
        try expect(schedule.count == 1 && schedule[0].nextDue == 200 && schedule[0].lastDue == 100 && schedule[0].lastRun == scheduled, "the schedule moved on: \(schedule)")
        let blocks = try await store.releaseBlocks(template: "t", includeCleared: false)
        try expect(blocks.count == 1 && blocks[0].run == scheduled && blocks[0].reason == "accuracy below min", "the block is stored with its run: \(blocks)")
        try expect(try await store.notifications(limit: 10).contains { $0.recipient == "lead" }, "the notification is recorded")
        try expect(try await store.clearReleaseBlock(id: blocks[0].id, by: "olu", at: 103), "an open block clears")
        try expect(!(try await store.clearReleaseBlock(id: blocks[0].id, by: "olu", at: 104)), "a cleared block does not clear twice")
        try expect(try await store.releaseBlocks(template: "t", includeCleared: false).isEmpty, "no open block")
        try expect(try await store.releaseBlocks(template: "t", includeCleared: true).first?.clearedBy == "olu", "the cleared block says who")
        try await store.removeEvalSchedule(template: "t", customer: nil)
        try expect(try await store.evalSchedules().isEmpty, "a schedule is removed")
        let kinds = try await store.auditEntries(limit: 20).map(\.kind)
        try expect(kinds.filter { $0 == "eval_run" }.count == 4 && kinds.contains("release_unblocked"), "runs and clearing are journalled: \(kinds)")
        let verification = try await store.verifyJournal()
        try expect(verification.problems.isEmpty, "the journal verifies: \(verification.problems)")
    }

    /// A migration and its customers are stored and moved with journal entries; a name is used once.
    static func migrations(_ store: any EngineStore) async throws {
        let record = MigrationRecord(name: "m", template: "t", plan: "migration: m", status: "running", startedAt: 5, startedBy: "olu")
        let rows = [
            MigrationProgress(migration: "m", customer: "acme", stage: 0, state: "running", share: 0, stageStartedAt: 5),
            MigrationProgress(migration: "m", customer: "harbour", stage: 0, state: "waiting", share: 0, stageStartedAt: 5),
        ]
        try await store.insertMigration(record, progress: rows, actor: "olu", at: 5)
        var refused = false
        do { try await store.insertMigration(record, progress: rows, actor: "olu", at: 6) } catch { refused = true }
        try expect(refused, "a migration name is used once")
        try expect(try await store.migrations() == [record], "the migration is listed")
        try expect(try await store.migrationProgress("m").map(\.customer) == ["acme", "harbour"], "customers keep plan order")
        var next = rows[0]
        next.stage = 1
        next.share = 0.2
        next.evidence = ["gate": "passed"]
        try await store.updateMigrationProgress(
            next, action: "stage_entered", actor: "olu", evidence: ["gate": "passed"], at: 7,
            notifications: [NotificationRecord(recipient: "support-lead", message: "moved", at: 7, instance: nil)])
        try expect(try await store.notifications(limit: 5).contains { $0.recipient == "support-lead" && $0.message == "moved" }, "the notification lands with the change")
        try expect(try await store.migrationProgress("m").first == next, "progress is updated")
        try await store.setMigrationStatus("m", status: "paused", actor: "olu", at: 8)
        try expect(try await store.migrations().first?.status == "paused", "status is set")
        let kinds = try await store.auditEntries(limit: 10).map(\.kind)
        try expect(kinds == ["migration_paused", "migration_stage_entered", "migration_started"], "journalled, newest first: \(kinds)")
        let seen = ShadowObservation(migration: "m", customer: "acme", instance: "i1", state: "classify", agreed: true, error: nil, latencyMicroseconds: 900, at: 10)
        let failed = ShadowObservation(migration: "m", customer: "acme", instance: "i2", state: "classify", agreed: false, error: "transient: busy", latencyMicroseconds: 50, at: 20)
        try await store.recordShadowObservation(seen)
        try await store.recordShadowObservation(failed)
        try await store.recordShadowObservation(ShadowObservation(migration: "m", customer: "harbour", instance: "i3", state: "classify", agreed: true, error: nil, latencyMicroseconds: 1, at: 30))
        try expect(try await store.shadowObservations(migration: "m", customer: "acme", since: 0) == [seen, failed], "a customer's observations, oldest first")
        try expect(try await store.shadowObservations(migration: "m", customer: "acme", since: 15) == [failed], "since filters by time")
        let verification = try await store.verifyJournal()
        try expect(verification.problems.isEmpty, "the journal verifies: \(verification.problems)")
    }

    static func required<T>(_ value: T?, _ what: String) throws -> T {
        guard let value else { throw ConformanceFailure(description: "expected: \(what)") }
        return value
    }
}
