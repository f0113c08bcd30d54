import Foundation
import StewardEngine
import StewardTemplates

/// Runs scheduled evals: keeps one durable schedule per template with a cadence (and per
/// customer whose overlay changes the template's rubric), and when a due time has passed runs
/// the eval once for it. The store makes a due time yield at most one run, across restarts
/// and processes (`EvalStore.commitEvalRun`); a run interrupted by a stop is run again on the
/// next start. Due times missed while nothing was running are not run one by one: the overdue
/// one runs and the schedule moves to the next due time after now.
public struct EvalScheduler: Sendable {
    /// The session that runs and stores evals.
    public let session: EvalSession

    /// Creates a scheduler.
    public init(session: EvalSession) { self.session = session }

    /// A schedule the templates ask for.
    public struct Wanted: Sendable, Hashable {
        /// The template.
        public var template: String
        /// The customer (nil: the template's own).
        public var customer: String?
        /// The cadence.
        public var cadence: EvalCadence
        /// The dataset file it runs (nil: none could be found; the schedule is reported, not run).
        public var dataset: String?
        /// Why there is no dataset.
        public var problem: String?
    }

    /// The schedules the loaded templates and overlays ask for.
    public func wanted() -> [Wanted] {
        let assembly = session.assembly
        var result: [Wanted] = []
        let newest = Dictionary(assembly.plans.all.map { ($0.name, $0) }, uniquingKeysWith: { a, b in a.version.compare(b.version, options: .numeric) == .orderedDescending ? a : b })
        for (name, plan) in newest.sorted(by: { $0.key < $1.key }) {
            guard let rubric = plan.template.eval else { continue }
            if let cadence = rubric.cadence {
                result.append(resolve(template: name, customer: nil, cadence: cadence, dataset: rubric.dataset))
            }
            for (customer, overlay) in assembly.overlays.sorted(by: { $0.key < $1.key }) {
                guard let change = overlay.templates[name]?.eval else { continue }
                let effective = rubric.applying(change)
                guard let cadence = effective.cadence else { continue }
                result.append(resolve(template: name, customer: customer, cadence: cadence, dataset: effective.dataset))
            }
        }
        return result
    }

    func resolve(template: String, customer: String?, cadence: EvalCadence, dataset: String?) -> Wanted {
        let root = session.assembly.workspace.root
        if let dataset {
            let path = dataset.hasPrefix("/") ? dataset : root.appendingPathComponent(dataset).path
            let exists = FileManager.default.fileExists(atPath: path)
            return Wanted(template: template, customer: customer, cadence: cadence, dataset: exists ? path : nil, problem: exists ? nil : "dataset \(dataset) does not exist")
        }
        let directory = root.appendingPathComponent("evals").appendingPathComponent(template)
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
        guard files.count == 1 else {
            let problem = files.isEmpty
                ? "no dataset: set eval.dataset or put one .jsonl file in evals/\(template)/"
                : "eval.dataset is not set and evals/\(template)/ holds \(files.count) datasets; name one"
            return Wanted(template: template, customer: customer, cadence: cadence, dataset: nil, problem: problem)
        }
        return Wanted(template: template, customer: customer, cadence: cadence, dataset: directory.appendingPathComponent(files[0]).path)
    }

    /// Brings the stored schedules in line with the templates: creates missing ones (first due
    /// at the cadence's next time after `now`), updates changed cadences, removes schedules no
    /// template asks for any more.
    public func sync(now: Int64) async throws { try await sync(now: now, wanted: wanted()) }

    /// `sync(now:)` with the schedules already resolved.
    func sync(now: Int64, wanted: [Wanted]) async throws {
        let store = session.assembly.store
        for item in wanted {
            guard let next = item.cadence.schedule.next(after: now) else { continue }
            try await store.setEvalSchedule(EvalSchedule(template: item.template, customer: item.customer, cadence: item.cadence.description, nextDue: next))
        }
        let keys = Set(wanted.map { "\($0.template)/\($0.customer ?? "")" })
        for schedule in try await store.evalSchedules() where !keys.contains("\(schedule.template)/\(schedule.customer ?? "")") {
            try await store.removeEvalSchedule(template: schedule.template, customer: schedule.customer)
        }
    }

    /// What one tick did.
    public struct Tick: Sendable {
        /// Runs stored for due times.
        public var runs: [EvalRunReport] = []
        /// Due schedules that could not run, with why.
        public var problems: [String] = []
    }

    /// Syncs the schedules, then runs every eval whose due time is at or before `now`, one at
    /// a time, each against the newest earlier run on the same dataset as its baseline.
    public func tick(now: Int64) async throws -> Tick {
        // Resolved once per tick: the datasets are looked up on disk.
        let resolved = wanted()
        try await sync(now: now, wanted: resolved)
        var tick = Tick()
        let wanted = Dictionary(resolved.map { ("\($0.template)/\($0.customer ?? "")", $0) }, uniquingKeysWith: { a, _ in a })
        for schedule in try await session.assembly.store.evalSchedules() where schedule.nextDue <= now {
            guard let item = wanted["\(schedule.template)/\(schedule.customer ?? "")"] else { continue }
            guard let dataset = item.dataset else {
                tick.problems.append("\(schedule.template)\(schedule.customer.map { " for \($0)" } ?? ""): \(item.problem ?? "no dataset")")
                continue
            }
            let next = item.cadence.schedule.next(after: now) ?? Int64.max
            let request = EvalRequest(template: schedule.template, datasetPath: dataset, customer: schedule.customer, baseline: .latest, trigger: "schedule")
            do {
                if let run = try await session.run(request, due: EvalDue(template: schedule.template, customer: schedule.customer, dueAt: schedule.nextDue, nextDue: next)) {
                    tick.runs.append(run)
                }
            } catch let error as EvalInputError {
                tick.problems.append("\(schedule.template): \(error.description)")
            }
        }
        return tick
    }
}

/// The eval scheduler's ticks, one at a time on a task of their own.
public typealias EvalTicker = SerialTicker<EvalScheduler.Tick>

extension SerialTicker where Value == EvalScheduler.Tick {
    /// A ticker over `scheduler`; `report` hears each finished tick.
    public init(scheduler: EvalScheduler, clock: @escaping @Sendable () -> Int64, report: @escaping @Sendable (Result<EvalScheduler.Tick, any Error>) -> Void) {
        self.init(clock: clock, work: { now in try await scheduler.tick(now: now) }, report: report)
    }
}
