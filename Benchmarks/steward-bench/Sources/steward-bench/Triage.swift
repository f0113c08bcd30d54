import Foundation
import GRDB
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardPlugins
import StewardReview
@_spi(Benchmarks) import StewardStoreSQLite
import StewardTemplates
import Synchronization

/// The engine `steward` runs, assembled by `EngineAssembly` from the checkout's `workflows/`
/// (templates, overlays, prompts, SLA calendars, ffi libraries), the shipped plugins and a
/// SQLite store (WAL, synchronous=FULL, group commit) in a fresh file.
struct Setup {
    let assembly: EngineAssembly
    let plan: Plan
    let store: SQLiteStore
    let engine: Engine
    let input: JSONValue
    let commits: CommitCounter
    var registry: PluginRegistry { assembly.registry }

    /// `plugins` holds the plugin libraries, `libraries` the plain C ones for ffi states;
    /// `template` is the template file run (loaded beside the others in its folder).
    init(
        plugins: String, libraries: String? = nil, template: String, input inputPath: String, database: String,
        wrapInvoker: (@Sendable (any StepInvoker) -> any StepInvoker)? = nil, observeCommits: Bool = true, everyPlugin: IsolationSettings? = nil
    ) async throws {
        for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) }
        let templateURL = URL(fileURLWithPath: template)
        let workflows = templateURL.deletingLastPathComponent()
        var options = EngineOptions(
            workspace: Workspace(root: workflows.deletingLastPathComponent()), workflows: workflows.path, database: database,
            pluginDirectories: [plugins], libraryDirectories: libraries.map { [$0] } ?? [], buildPlugins: false, extraTemplate: template)
        options.wrapInvoker = wrapInvoker
        options.everyPlugin = everyPlugin
        assembly = try await EngineAssembly.assemble(options)
        guard let plan = assembly.plans.all.first(where: { $0.template.file == template }) else { throw BenchError("\(template) did not load") }
        self.plan = plan
        guard let sqlite = assembly.store as? SQLiteStore else { throw BenchError("the assembly did not open a SQLite store") }
        store = sqlite
        commits = CommitCounter()
        // The triage benchmarks count commits with a transaction observer, as the harness of
        // earlier versions does (so before/after pairs pay the same harness cost); the
        // engine-overhead benchmark reads the store's own count instead.
        if observeCommits { store.databasePool.add(transactionObserver: commits, extent: .databaseLifetime) }
        engine = assembly.engine
        guard let data = FileManager.default.contents(atPath: inputPath) else { throw BenchError("cannot read \(inputPath)") }
        input = try JSONValue.parse(Array(data))
    }

    static func instanceID(_ index: Int) -> String {
        "bench-" + String(repeating: "0", count: max(0, 8 - String(index).count)) + String(index)
    }

    /// Submits instances 0..<count with `concurrency` in flight; each must stop at review_reply.
    func submitAll(count: Int, concurrency: Int) async throws {
        let engine = self.engine, plan = self.plan, input = self.input
        try await forEachConcurrently(count: count, concurrency: concurrency) { index in
            let state = try await engine.submit(template: plan.name, version: plan.version, input: input, id: Setup.instanceID(index))
            guard state.status == .waiting, state.current == "review_reply" else {
                throw BenchError("instance \(state.id) is \(state.status.rawValue) at \(state.current), expected waiting at review_reply")
            }
        }
    }

    func count(_ sql: String) async throws -> Int {
        try await store.databasePool.read { db in try Int.fetchOne(db, sql: sql) ?? 0 }
    }

    /// A pragma as the writer connection (the one that commits) sees it.
    func pragma(_ name: String) async throws -> String {
        let value = try await store.databasePool.write { db in try String.fetchOne(db, sql: "PRAGMA \(name)") ?? "?" }
        guard name == "synchronous" else { return value }
        return ["0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"][value] ?? value
    }
}

/// Counts committed write transactions, to show how many transitions one fsync carried.
final class CommitCounter: TransactionObserver, Sendable {
    private let count = Atomic<Int>(0)
    var commits: Int { count.load(ordering: .relaxed) }
    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { eventKind.tableName == "journal" }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { count.add(1, ordering: .relaxed) }
    func databaseDidRollback(_ db: Database) {}
}

/// Phase A: submit N tickets that stop at the review_reply checkpoint (all committed).
/// Phase B: approve every review task through the ReviewDesk and run each to completion.
struct TriageBenchmark {
    let n: Int
    let concurrency: Int
    let plugins: String
    let template: String
    let input: String
    let database: String
    let forceFullSync: Bool
    let libraries: String?

    func run() async throws -> JSONValue {
        let setup = try await Setup(plugins: plugins, libraries: libraries, template: template, input: input, database: database)
        if forceFullSync {
            // The store already forces FULL on its writer; the bench checks it did (pragma below).
            try await setup.store.databasePool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        }
        let baselineRSS = processStatusBytes("VmRSS") ?? 0

        // Phase A.
        let journalBefore = try await setup.count("SELECT count(*) FROM journal WHERE seq IS NOT NULL")
        let commitsBefore = setup.commits.commits
        var start = nowNanoseconds()
        try await setup.submitAll(count: n, concurrency: concurrency)
        let secondsA = secondsSince(start)
        let waiting = try await setup.count("SELECT count(*) FROM instances WHERE status = 'waiting'")
        let openTasks = try await setup.count("SELECT count(*) FROM review_tasks WHERE status = 'open'")
        guard waiting == n, openTasks == n else { throw BenchError("after phase A: \(waiting) waiting, \(openTasks) open tasks, expected \(n)") }
        let transitionsA = try await setup.count("SELECT count(*) FROM journal WHERE seq IS NOT NULL") - journalBefore
        let commitsA = setup.commits.commits - commitsBefore
        let peakAfterA = processStatusBytes("VmHWM") ?? 0
        let rssAfterA = processStatusBytes("VmRSS") ?? 0

        // Phase B, through the review desk as a reviewer would.
        let desk = ReviewDesk(engine: setup.engine)
        let (reviewer, _) = try await setup.store.addReviewer(name: "Bench Agent", credentials: ["support-agent"], at: 0)
        let tasks = try await setup.store.openTasks(credentials: ["support-agent"], limit: n).map(\.id)
        guard tasks.count == n else { throw BenchError("expected \(n) open tasks, found \(tasks.count)") }
        let journalMid = try await setup.count("SELECT count(*) FROM journal WHERE seq IS NOT NULL")
        let commitsMid = setup.commits.commits
        start = nowNanoseconds()
        try await forEachConcurrently(count: n, concurrency: concurrency) { index in
            let state = try await desk.decide(task: tasks[index], by: reviewer, decision: .approve)
            guard state.status == .completed else { throw BenchError("instance \(state.id) ended \(state.status.rawValue)") }
        }
        let secondsB = secondsSince(start)
        let completed = try await setup.count("SELECT count(*) FROM instances WHERE status = 'completed'")
        guard completed == n else { throw BenchError("after phase B: \(completed) completed, expected \(n)") }
        let transitionsB = try await setup.count("SELECT count(*) FROM journal WHERE seq IS NOT NULL") - journalMid
        let commitsB = setup.commits.commits - commitsMid

        // Bytes on disk: fold the WAL back into the database first.
        try await setup.store.databasePool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let dbBytes = fileSize(database), walBytes = fileSize(database + "-wal")
        let tableBytes = try await tableSizes(setup)
        // Pages freed inside the file (a waiting snapshot replaced by the final one) are reused
        // by later instances; the file keeps its high-water mark until a VACUUM.
        let freeBytes = try await setup.count("SELECT (SELECT freelist_count FROM pragma_freelist_count) * (SELECT page_size FROM pragma_page_size)")
        let journalMode = try await setup.pragma("journal_mode"), synchronous = try await setup.pragma("synchronous")

        let steps = 5 * n  // normalize, classify, route, draft_reply; then send_reply
        return [
            "n": .int(n), "concurrency": .int(concurrency),
            "sqlite": [
                "journal_mode": .string(journalMode), "synchronous": .string(synchronous),
                "synchronous_forced_by_bench": .bool(forceFullSync),
            ],
            "phase_a": [
                "seconds": .number(secondsA), "instances_per_s": .number(Double(n) / secondsA, places: 1),
                "transitions": .int(transitionsA), "transitions_per_s": .number(Double(transitionsA) / secondsA, places: 1),
                "steps_per_s": .number(Double(4 * n) / secondsA, places: 1),
                "write_transactions": .int(commitsA), "transitions_per_write_transaction": .number(Double(transitionsA) / Double(max(commitsA, 1)), places: 2),
            ],
            "phase_b": [
                "seconds": .number(secondsB), "instances_per_s": .number(Double(n) / secondsB, places: 1),
                "transitions": .int(transitionsB), "transitions_per_s": .number(Double(transitionsB) / secondsB, places: 1),
                "steps_per_s": .number(Double(n) / secondsB, places: 1),
                "write_transactions": .int(commitsB), "transitions_per_write_transaction": .number(Double(transitionsB) / Double(max(commitsB, 1)), places: 2),
            ],
            "overall": [
                "steps": .int(steps), "steps_per_s": .number(Double(steps) / (secondsA + secondsB), places: 1),
                "transitions_per_s": .number(Double(transitionsA + transitionsB) / (secondsA + secondsB), places: 1),
            ],
            "memory": [
                "rss_before_bytes": .int(baselineRSS), "rss_with_n_waiting_bytes": .int(rssAfterA),
                "peak_rss_with_n_waiting_bytes": .int(peakAfterA),
            ],
            "disk": [
                "db_bytes": .int(dbBytes), "wal_bytes_after_checkpoint": .int(walBytes),
                "bytes_per_completed_instance": .number(Double(dbBytes + walBytes) / Double(n), places: 1),
                "free_bytes_in_file": .int(Int64(freeBytes)),
                "live_bytes_per_completed_instance": .number(Double(dbBytes + walBytes - Int64(freeBytes)) / Double(n), places: 1),
                "tables_bytes": .object(tableBytes.mapValues { .int($0) }),
            ],
        ]
    }

    /// Bytes per table and index, from SQLite's dbstat virtual table when it is compiled in.
    func tableSizes(_ setup: Setup) async throws -> [String: Int64] {
        (try? await setup.store.databasePool.read { db -> [String: Int64] in
            var sizes: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name") {
                sizes[row["name"]] = row["bytes"]
            }
            return sizes
        }) ?? [:]
    }
}
