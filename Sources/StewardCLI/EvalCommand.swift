import ArgumentParser
import Foundation
import StewardBootstrap
import StewardEngine
import StewardEval
import StewardJSON
import StewardTemplates

#if canImport(Glibc)
import Glibc
#endif

/// `steward eval`: golden-dataset evaluation runs, comparisons, reports, schedules and
/// calibrated review thresholds.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate templates on golden datasets and gate on the results.",
        discussion: """
            Exit codes of `eval run`: 0 every gate passed and no case failed, 1 a gate or a case failed, 2 bad input (unknown template, \
            malformed dataset, bad --bind or --baseline). See Docs/evaluation.md.
            """,
        subcommands: [
            EvalRun.self, EvalList.self, EvalShow.self, EvalCompare.self, EvalReport.self, EvalCalibrate.self, EvalStatus.self,
            EvalTick.self, EvalUnblock.self,
        ])
}

/// Opens the engine for an eval command; a broken assembly is bad input (exit 2).
func evalSession(_ storeOptions: StoreOptions, _ plugins: PluginOptions, template: String? = nil) async throws -> EvalSession {
    do {
        let extra = template.flatMap(TemplateArgument.extraTemplate)
        return EvalSession(assembly: try await EngineContext(store: storeOptions, plugins: plugins, extraTemplate: extra).assembly)
    } catch let failed as ValidationFailed {
        throw ValidationFailed(exitCode: failed.exitCode == 0 ? 0 : EvalExit.badInput)
    }
}

/// The template name a command's TEMPLATE argument means: a name, or a template file's name.
func templateName(_ argument: String, in session: EvalSession) -> String {
    TemplateArgument.filePlan(argument, in: session.assembly.plans)?.name ?? argument
}

/// Prints an input error and exits 2.
func badInput(_ message: String) -> ValidationFailed {
    printError("error: " + message)
    return ValidationFailed(exitCode: EvalExit.badInput)
}

/// `steward eval run TEMPLATE --dataset FILE`.
struct EvalRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a template over a golden dataset in a sandbox and gate on its rubric.",
        discussion: """
            Every case runs through the real template with the real plugins and adapters; steps not flagged pure are \
            not called (recorded as skipped) and checkpoints are recorded as \"would ask a person\" and approved. \
            The run is stored immutably. Exit 0 when every gate passes and no case failed, 1 otherwise, 2 for bad input.
            """)

    @Argument(help: "The template's name (or its file).") var template: String
    @Option(help: "The golden dataset, JSON Lines of {\"id\", \"input\", \"expected\"}.") var dataset: String
    @Option(help: "The customer whose config, bindings and tighter gates apply.") var customer: String?
    @Option(name: .customLong("bind"), help: "Bind a model role for this run: ROLE=ADAPTER@VERSION (repeatable).") var bindings: [String] = []
    @Option(help: "Compare with this run for max_drop gates: a run id or 'latest' (same template, customer and dataset).") var baseline: String?
    @Option(help: "Cases in flight at once (default: twice the plugin threads, at least 8).") var concurrency: Int?
    @Flag(name: .customLong("json"), help: "Print the run as JSON.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        var bound: [String: String] = [:]
        for binding in bindings {
            let parts = binding.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw badInput("--bind \(binding): expected ROLE=ADAPTER@VERSION") }
            bound[parts[0]] = parts[1]
        }
        var choice = BaselineChoice.none
        if let baseline {
            guard let parsed = BaselineChoice(baseline) else { throw badInput("--baseline \(baseline): expected a run id or 'latest'") }
            choice = parsed
        }
        if let concurrency, concurrency < 1 { throw badInput("--concurrency must be at least 1") }
        guard FileManager.default.fileExists(atPath: dataset) else { throw badInput("\(dataset): no such dataset file") }
        let session = try await evalSession(storeOptions, plugins, template: template)
        let request = EvalRequest(
            template: templateName(template, in: session), datasetPath: dataset, customer: customer, bindings: bound, baseline: choice,
            trigger: "cli", concurrency: concurrency)
        let progress = Progress(label: "eval", unit: "cases")
        let report: EvalRunReport
        do {
            guard let stored = try await session.run(request, progress: { done, total in progress.update(done, total) }) else {
                throw CLIError("the run was not stored")
            }
            report = stored
        } catch let error as EvalInputError {
            progress.finish()
            throw badInput(error.description)
        }
        progress.finish()
        if json {
            print(report.jsonValue.prettyJSONString)
        } else {
            print(TextReport.summary(report))
        }
        if !report.passed { throw ValidationFailed(exitCode: EvalExit.gateFailed) }
    }
}

/// `steward eval list`.
struct EvalList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List stored eval runs, newest first.")
    @Option(help: "Only runs of this template.") var template: String?
    @Option(help: "How many.") var limit = 50
    @Flag(name: .customLong("json"), help: "Print JSON.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let runs = try await storeOptions.openStore().evalRuns(template: template, customer: nil, limit: limit)
        if json {
            print(JSONValue.object(["runs": .array(runs.map { $0.printableSummary })]).prettyJSONString)
            return
        }
        for run in runs {
            let metrics = (run.summary["metrics"]?.arrayValue ?? []).map { m in
                "\(m["name"]?.stringValue ?? "?")=\(m["value"]?.doubleValue.map { String(format: "%.4f", $0) } ?? "-")"
            }
            print("\(run.id)\t\(run.passed ? "PASS" : "FAIL")\t\(run.template)@\(run.templateVersion)\t\(run.customer ?? "-")\t\(run.dataset)\t\(run.trigger)\t\(metrics.joined(separator: " "))")
        }
    }
}

/// `steward eval show RUN`.
struct EvalShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one stored run (JSON with --json).")
    @Argument(help: "The run id.") var run: Int64
    @Flag(name: .customLong("json"), help: "Print the whole run as JSON, cases included.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let report = try await loadRun(run, storeOptions)
        print(json ? report.jsonValue.prettyJSONString : TextReport.summary(report))
    }
}

/// A stored run, or exit 2.
func loadRun(_ id: Int64, _ storeOptions: StoreOptions) async throws -> EvalRunReport {
    let store = try await storeOptions.openStore()
    guard let record = try await store.evalRun(id: id), let body = record.body else { throw badInput("no eval run \(id)") }
    var report = try EvalRunReport(json: body)
    report.run = record.id
    return report
}

/// `steward eval compare A B`.
struct EvalCompare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Compare two runs: per-metric deltas with significance, and the cases that flipped.")
    @Argument(help: "The first (older, baseline) run.") var runA: Int64
    @Argument(help: "The second run.") var runB: Int64
    @Option(help: "How many flipped cases to print.") var flips = 20
    @Flag(name: .customLong("json"), help: "Print JSON.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let a = try await loadRun(runA, storeOptions)
        let b = try await loadRun(runB, storeOptions)
        // The rubric per-case outcomes are recomputed with: the second run's, rebuilt from its metrics.
        let comparison = RunComparison(a, b, rubric: EvalRubric(reconstructedFrom: b))
        if json {
            print(comparison.jsonValue.prettyJSONString)
            return
        }
        if !comparison.sameDataset { print("note: the runs evaluated different datasets; cases are paired by id (\(comparison.pairedCases) shared)") }
        print("run \(runA) -> run \(runB): \(comparison.pairedCases) paired cases")
        for metric in comparison.metrics {
            let a = metric.a.map { String(format: "%.4f", $0) } ?? "-"
            let b = metric.b.map { String(format: "%.4f", $0) } ?? "-"
            let delta = metric.delta.map { String(format: "%+.4f", $0) } ?? "-"
            let interval = metric.deltaLow.map { low in "[\(String(format: "%+.4f", low)), \(String(format: "%+.4f", metric.deltaHigh ?? low))]" } ?? ""
            let p = metric.pValue.map { String(format: " p=%.4g", $0) } ?? ""
            let verdict = metric.significant ? (metric.improved == true ? "better (significant)" : "worse (significant)") : "not significant"
            print("  \(metric.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(a) -> \(b)  \(delta) \(interval)\(p)  \(verdict)")
        }
        let regressed = comparison.flips.filter { $0.change == "regressed" }.count
        print("flipped: \(regressed) regressed, \(comparison.flips.count - regressed) fixed")
        for flip in comparison.flips.prefix(flips) {
            print("  \(flip.change) \(flip.id): expected \(flip.expected.jsonString); was \(flip.a.jsonString); now \(flip.b.jsonString)")
        }
    }
}

extension EvalRubric {
    /// A rubric rebuilt from a stored run's metric results (kinds, paths, labels, gates),
    /// enough to recompute per-case outcomes. Tolerances and confidence paths are not stored
    /// per metric result, so those metrics compare by value.
    init(reconstructedFrom run: EvalRunReport) {
        let location = SourceLocation(file: "run \(run.run)", line: 1, column: 1)
        self.init(
            metrics: run.metrics.compactMap { m in
                guard m.kind != .numericTolerance, m.kind != .calibrationError, m.kind != .judge else { return nil }
                return EvalMetric(
                    name: m.name, kind: m.kind, path: m.path, label: m.label,
                    threshold: EvalThreshold(minimum: m.threshold.min, maximum: m.threshold.max, maxDrop: m.threshold.maxDrop), location: location)
            }, cadence: nil, dataset: nil, location: location)
    }
}

/// `steward eval report RUN [--html FILE]`.
struct EvalReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Report one run as text, or as a self-contained HTML page with charts (--html).")
    @Argument(help: "The run id.") var run: Int64
    @Option(help: "Write a self-contained HTML report here.") var html: String?
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let report = try await loadRun(run, storeOptions)
        print(TextReport.summary(report))
        guard let html else { return }
        let store = try await storeOptions.openStore()
        let history = try await store.evalRuns(template: report.template, customer: report.customer ?? "", limit: 50)
            .filter { $0.id <= report.run }.reversed()
        let session = try await evalSession(storeOptions, plugins)
        let rubric = session.assembly.plans.plan(template: report.template, version: report.version)?.template.eval
        try HTMLReport.render(report, history: Array(history), rubric: rubric).write(toFile: html, atomically: true, encoding: .utf8)
        print("wrote \(html)")
    }
}

/// `steward eval calibrate TEMPLATE --run RUN --target-accuracy 0.98`.
struct EvalCalibrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Find the confidence threshold that keeps auto-handled accuracy at a target with the fewest cases sent to people.",
        discussion: """
            Reads the run's labelled cases at the rubric's calibration_error metric (its path and confidence path), prints \
            the trade-off table and writes the chosen value as a customer overlay change for review; it never applies it.
            """)
    @Argument(help: "The template's name.") var template: String
    @Option(help: "The eval run to calibrate on.") var run: Int64
    @Option(name: .customLong("target-accuracy"), help: "The accuracy to keep among work handled without a person, in (0, 1].") var targetAccuracy: Double
    @Option(help: "The customer the overlay change is for (default: the run's customer).") var customer: String?
    @Option(name: .customLong("config-key"), help: "The config key the checkpoint compares confidence with.") var configKey = "review_threshold"
    @Flag(help: "Require the Wilson 95% lower bound, not the point estimate, to reach the target.") var conservative = false
    @Option(help: "Where to write the proposed overlay change (default: .steward/proposals/).") var out: String?
    @Flag(name: .customLong("json"), help: "Print JSON.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        guard targetAccuracy > 0, targetAccuracy <= 1 else { throw badInput("--target-accuracy must be in (0, 1]") }
        let report = try await loadRun(run, storeOptions)
        let session = try await evalSession(storeOptions, plugins)
        let name = templateName(template, in: session)
        guard report.template == name else { throw badInput("run \(run) evaluated '\(report.template)', not '\(name)'") }
        guard let plan = session.assembly.plans.plan(template: name, version: nil), let rubric = plan.template.eval else {
            throw badInput("template '\(name)' is not loaded or has no 'eval' block")
        }
        guard plan.template.config[configKey]?.doubleValue != nil else {
            throw badInput("template '\(name)' has no numeric config key '\(configKey)'; pass --config-key")
        }
        let calibration: ThresholdCalibration
        do {
            calibration = try ThresholdCalibration(run: report, rubric: rubric, target: targetAccuracy, conservative: conservative)
        } catch {
            throw badInput(error.description)
        }
        guard let customerName = customer ?? report.customer else {
            throw badInput("say which customer the threshold is for: --customer NAME (an overlay in workflows/customers/)")
        }
        let proposal = calibration.overlayProposal(template: name, customer: customerName, key: configKey, run: run)
        var written: String?
        if let proposal {
            let path = out ?? session.assembly.workspace.dataDirectory.appendingPathComponent("proposals")
                .appendingPathComponent("\(customerName)-\(name)-\(configKey).yaml").path
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try proposal.write(toFile: path, atomically: true, encoding: .utf8)
            written = path
        }
        if json {
            var value = calibration.jsonValue
            if case .object(var members) = value {
                members["proposal"] = written.map { .string($0) } ?? .null
                value = .object(members)
            }
            print(value.prettyJSONString)
        } else {
            print("threshold  to people  auto cases  auto accuracy  (95% low)")
            for row in calibration.table {
                let marker = row == calibration.chosen ? "  <- chosen" : ""
                let accuracy = row.autoAccuracy.map { String(format: "%.4f", $0) } ?? "  -   "
                let low = row.autoAccuracyLow.map { String(format: "%.4f", $0) } ?? "-"
                print(String(format: "%9.4f  %8.1f%%  %10d  ", row.threshold, row.humanShare * 100, row.autoCases) + "\(accuracy)         \(low)\(marker)")
            }
            if let chosen = calibration.chosen, let written {
                print("chosen: \(configKey) = \(chosen.threshold) (\(String(format: "%.1f", chosen.humanShare * 100))% to people); proposed overlay change written to \(written) — review it, then merge it into workflows/customers/\(customerName).yaml")
            } else {
                print("no threshold keeps accuracy at \(targetAccuracy) among auto-handled work on this run; nothing proposed")
            }
        }
        if calibration.chosen == nil { throw ValidationFailed(exitCode: EvalExit.gateFailed) }
    }
}

/// `steward eval status`.
struct EvalStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show each template's eval schedule, its last run and its release blocks.")
    @Flag(name: .customLong("json"), help: "Print JSON.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let session = try await evalSession(storeOptions, plugins)
        let status = try await EvalStatusReport.build(session: session, now: SystemEngineClock().nowMilliseconds())
        print(json ? status.prettyJSONString : EvalStatusReport.text(status))
    }
}

/// `steward eval tick`: runs due scheduled evals once (what `steward serve` does on its clock).
struct EvalTick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tick", abstract: "Run the scheduled evals that are due now, once each (steward serve does this on its own).")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let session = try await evalSession(storeOptions, plugins)
        let tick = try await EvalScheduler(session: session).tick(now: SystemEngineClock().nowMilliseconds())
        for run in tick.runs { print("run \(run.run): \(run.template)\(run.customer.map { " for \($0)" } ?? "") \(run.passed ? "passed" : "FAILED its gates")") }
        for problem in tick.problems { printError("warning: " + problem) }
        if tick.runs.isEmpty && tick.problems.isEmpty { print("nothing due") }
    }
}

/// `steward eval unblock BLOCK`.
struct EvalUnblock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unblock", abstract: "Clear a release block an eval gate raised (audited).")
    @Argument(help: "The block id (see `steward eval status`).") var block: Int64
    @Option(help: "Who clears it, for the audit trail.") var by: String
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let store = try await storeOptions.openStore()
        guard try await store.clearReleaseBlock(id: block, by: by, at: SystemEngineClock().nowMilliseconds()) else {
            throw badInput("no open release block \(block)")
        }
        print("release block \(block) cleared by \(by)")
    }
}

/// Plain-text renderings of runs for the terminal.
enum TextReport {
    static func summary(_ report: EvalRunReport) -> String {
        var lines: [String] = []
        let customer = report.customer.map { " for \($0)" } ?? ""
        lines.append("eval run \(report.run): \(report.template)@\(report.version)\(customer) on \(report.dataset) — \(report.passed ? "PASSED" : "FAILED")")
        lines.append("  dataset sha256 \(report.datasetHash.prefix(16))  template \(report.templateHash.prefix(16))  config \(report.configHash.prefix(16))")
        lines.append("  bindings: \(report.bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
        let seconds = Double(report.finishedAt - report.startedAt) / 1000
        lines.append(String(format: "  %d cases in %.2f s (%.0f cases/s, %d in flight); ", report.cases.count, seconds, report.casesPerSecond, report.concurrency)
            + "completed \(report.counts["completed"] ?? 0), rejected \(report.counts["rejected"] ?? 0), failed \(report.counts["failed"] ?? 0), reviewed \(report.counts["reviewed"] ?? 0)")
        if let baseline = report.baseline { lines.append("  baseline: run \(baseline)") }
        if let failed = report.counts["failed"], failed > 0 {
            lines.append("  \(failed) cases FAILED (a step error on golden input), so the run does not pass; first: \(report.cases.first { $0.status == "failed" }?.error ?? "?")")
        }
        lines.append("  metric                  value    95% CI             n      gate                                     result")
        for metric in report.metrics {
            let value = metric.value.map { String(format: "%.4f", $0) } ?? "  -   "
            let interval = metric.ciLow.map { low in String(format: "[%.4f, %.4f]", low, metric.ciHigh ?? low) } ?? "       -        "
            var gate: [String] = []
            if let min = metric.threshold.min { gate.append("min \(min)") }
            if let max = metric.threshold.max { gate.append("max \(max)") }
            if let drop = metric.threshold.maxDrop { gate.append("max_drop \(drop)") }
            if let base = metric.threshold.baseline { gate.append(String(format: "base %.4f", base)) }
            let result = !metric.counted ? "not counted" : (metric.passed ? "pass" : "FAIL")
            lines.append("  \(metric.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(value)  \(interval)  \(String(metric.n).padding(toLength: 6, withPad: " ", startingAt: 0)) \(gate.joined(separator: ", ").padding(toLength: 40, withPad: " ", startingAt: 0)) \(result)")
            if let note = metric.note { lines.append("      \(note)") }
        }
        return lines.joined(separator: "\n")
    }
}
