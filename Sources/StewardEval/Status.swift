import Foundation
import StewardEngine
import StewardJSON

/// What `steward eval status` and `GET /v1/evals/status` show: per scheduled (or evaluated)
/// template and customer, the cadence and next due time, the last run and its verdict, and the
/// open release blocks.
public enum EvalStatusReport {
    /// Builds the status at `now`.
    public static func build(session: EvalSession, now: Int64) async throws -> JSONValue {
        let store = session.assembly.store
        let scheduler = EvalScheduler(session: session)
        let wanted = scheduler.wanted()
        let schedules = Dictionary(try await store.evalSchedules().map { ("\($0.template)/\($0.customer ?? "")", $0) }, uniquingKeysWith: { a, _ in a })
        let runs = try await store.evalRuns(template: nil, customer: nil, limit: 500)
        let blocks = try await store.releaseBlocks(template: nil, includeCleared: false)
        var entries: [JSONValue] = []
        var keys: [String] = wanted.map { "\($0.template)/\($0.customer ?? "")" }
        for run in runs {
            let key = "\(run.template)/\(run.customer ?? "")"
            if !keys.contains(key) { keys.append(key) }
        }
        for key in keys {
            let want = wanted.first { "\($0.template)/\($0.customer ?? "")" == key }
            let lastRun = runs.first { "\($0.template)/\($0.customer ?? "")" == key }
            let template = want?.template ?? lastRun?.template ?? ""
            let customer = want?.customer ?? lastRun?.customer
            var entry: [String: JSONValue] = [
                "template": .string(template), "customer": customer.map { .string($0) } ?? .null,
                "cadence": want.map { .string($0.cadence.description) } ?? .null,
            ]
            if let schedule = schedules[key] {
                entry["next_due"] = .string(isoDate(schedule.nextDue))
                entry["overdue"] = .bool(schedule.nextDue <= now)
                entry["last_due"] = schedule.lastDue.map { .string(isoDate($0)) } ?? .null
            }
            if let want { entry["dataset"] = want.dataset.map { .string(session.relativeName($0)) } ?? .null }
            if let problem = want?.problem { entry["problem"] = .string(problem) }
            if let lastRun {
                entry["last_run"] = [
                    "run": .integer(lastRun.id), "passed": .bool(lastRun.passed), "at": .string(isoDate(lastRun.createdAt)),
                    "version": .string(lastRun.templateVersion), "trigger": .string(lastRun.trigger), "dataset": .string(lastRun.dataset),
                ]
            }
            let open = blocks.filter { $0.template == template && $0.customer == customer }
            entry["blocked"] = .bool(!open.isEmpty)
            entry["blocks"] = .array(open.map(blockJSON))
            entries.append(.object(entry))
        }
        return ["templates": .array(entries), "release_blocks": .array(blocks.map(blockJSON))]
    }

    /// A release block as JSON.
    public static func blockJSON(_ block: ReleaseBlock) -> JSONValue {
        [
            "id": .integer(block.id), "template": .string(block.template), "version": .string(block.version),
            "template_hash": .string(block.templateHash), "customer": block.customer.map { .string($0) } ?? .null, "run": .integer(block.run),
            "reason": .string(block.reason), "blocked_at": .string(isoDate(block.blockedAt)),
        ]
    }

    /// The status as lines for a terminal.
    public static func text(_ status: JSONValue) -> String {
        var lines: [String] = []
        for entry in status["templates"]?.arrayValue ?? [] {
            let who = entry["customer"]?.stringValue.map { " for \($0)" } ?? ""
            var line = "\(entry["template"]?.stringValue ?? "?")\(who): cadence \(entry["cadence"]?.stringValue ?? "none")"
            if let next = entry["next_due"]?.stringValue { line += ", next due \(next)" }
            if let last = entry["last_run"] {
                line += "; last run \(last["run"]?.integerValue ?? 0) \(last["passed"]?.boolValue == true ? "passed" : "FAILED") at \(last["at"]?.stringValue ?? "?")"
            }
            if entry["blocked"]?.boolValue == true { line += "; RELEASE BLOCKED" }
            lines.append(line)
            if let problem = entry["problem"]?.stringValue { lines.append("  problem: \(problem)") }
            for block in entry["blocks"]?.arrayValue ?? [] {
                lines.append("  block \(block["id"]?.integerValue ?? 0): \(block["version"]?.stringValue ?? "?") by run \(block["run"]?.integerValue ?? 0): \(block["reason"]?.stringValue ?? "")")
            }
        }
        return lines.isEmpty ? "no template has an eval schedule or a run" : lines.joined(separator: "\n")
    }

    /// ISO 8601 in UTC, as the HTML report writes times.
    static func isoDate(_ milliseconds: Int64) -> String { ReportMarkup.iso8601(milliseconds) }
}
