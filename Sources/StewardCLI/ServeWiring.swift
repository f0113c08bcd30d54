import Foundation
import StewardEngine
import StewardEval
import StewardJSON
import StewardMigration
import StewardPlugins
import StewardServer
import StewardTemplates

/// What `steward serve` hands the server for evaluation and migrations, in one place so the
/// server tests run the same wiring as the command.
public enum ServeWiring {
    /// The eval routes' hooks over `session`: an API-triggered run reads a dataset inside the
    /// workspace only (the rubric's when none is named).
    public static func evalHooks(_ session: EvalSession) -> EvalHooks {
        EvalHooks(
            trigger: { trigger in
                let root = session.assembly.workspace.root.standardizedFileURL.path
                var named = trigger.dataset
                if named == nil { named = session.assembly.plans.plan(template: trigger.template, version: nil)?.template.eval?.dataset }
                guard let named else { throw EvalHookError("no dataset given and template '\(trigger.template)' names none in eval.dataset") }
                let path = URL(fileURLWithPath: named, relativeTo: URL(fileURLWithPath: root + "/")).standardizedFileURL.path
                guard path.hasPrefix(root + "/") else { throw EvalHookError("dataset '\(named)' is outside the workspace") }
                var baseline = BaselineChoice.none
                if let text = trigger.baseline {
                    guard let parsed = BaselineChoice(text) else { throw EvalHookError("baseline must be a run id or 'latest'") }
                    baseline = parsed
                }
                do {
                    let request = EvalRequest(
                        template: trigger.template, datasetPath: path, customer: trigger.customer, bindings: trigger.bindings, baseline: baseline,
                        trigger: "api")
                    guard let report = try await session.run(request) else { throw EvalHookError("the run was not stored") }
                    return StewardServer.withID(report.summaryJSON, report.run)
                } catch let error as EvalInputError {
                    throw EvalHookError(error.description)
                }
            },
            status: { try await EvalStatusReport.build(session: session, now: SystemEngineClock().nowMilliseconds()) },
            report: { id in
                guard let run = try await session.load(id) else { return nil }
                let history = try await session.assembly.store.evalRuns(template: run.template, customer: run.customer ?? "", limit: 50)
                let rubric = session.assembly.plans.plan(template: run.template, version: run.version)?.template.eval
                return HTMLReport.render(run, history: history, rubric: rubric)
            })
    }

    /// The console's plugin report over the loaded `registry`: each plugin as `steward plugins
    /// list --json` describes it (`describe` and `isolation`, the same code), and for an isolated
    /// plugin also `isolation.this_engine`: this process's own hosts (pids, restarts, crashes,
    /// quarantine), which the status files of other engines do not include.
    public static func pluginReport(_ registry: PluginRegistry, stateDirectory: String) -> @Sendable () -> [JSONValue] {
        {
            registry.plugins.map { plugin -> JSONValue in
                var entry = describe(plugin).objectValue ?? [:]
                var running = isolation(of: plugin, directory: stateDirectory).objectValue ?? [:]
                if let status = plugin.isolated?.status {
                    running["this_engine"] = [
                        "pids": .array(status.pids.map { .integer(Int64($0)) }), "restarts": .integer(Int64(status.restarts)),
                        "crashes": .integer(Int64(status.crashes)), "quarantine": status.quarantine.map(JSONValue.string) ?? .null,
                    ]
                    if running["quarantine"] == .null, let reason = status.quarantine { running["quarantine"] = .string(reason) }
                }
                entry["isolation"] = .object(running)
                return .object(entry)
            }
        }
    }

    /// The migration routes' hooks over `controller`; a plan file must lie inside the workspace.
    public static func migrationHooks(_ controller: MigrationController) -> MigrationHooks {
        @Sendable func refusing(_ body: () async throws -> JSONValue) async throws -> JSONValue {
            do {
                return try await body()
            } catch let error as MigrationError {
                let text = error.description
                let status = text.hasPrefix("no migration") ? 404 : (text.contains("lacks the credential") || text == "unknown token" ? 403 : 422)
                throw MigrationHookRefusal(status: status, text)
            } catch let error as TemplateErrors {
                throw MigrationHookRefusal(status: 422, error.diagnostics.map(\.description).joined(separator: "\n"))
            }
        }
        @Sendable func steps(_ steps: [MigrationController.Step]) -> JSONValue {
            ["steps": .array(steps.map { ["customer": .string($0.customer), "stage": .string($0.stage), "verdict": .string($0.verdict.rawValue), "state": .string($0.state), "evidence": $0.evidence] })]
        }
        return MigrationHooks(
            status: { name in try await refusing { try await controller.status(name) } },
            start: { file, actor in
                try await refusing {
                    let root = controller.assembly.workspace.root.standardizedFileURL.path
                    let path = URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: root + "/")).standardizedFileURL.path
                    guard path.hasPrefix(root + "/") else { throw MigrationError("plan '\(file)' is outside the workspace") }
                    let plan = try MigrationController.load(path)
                    try await controller.start(plan, actor: actor)
                    return try await controller.status(plan.name)
                }
            },
            advance: { name, customer, actor in try await refusing { steps(try await controller.advance(name, customer: customer, actor: actor)) } },
            approve: { name, customer, reviewer in
                try await refusing {
                    try await controller.approve(name, customer: customer, by: reviewer)
                    return try await controller.status(name)
                }
            },
            rollback: { name, customer, moveWaiting, actor in
                try await refusing {
                    let moves = try await controller.rollback(name, customer: customer, moveWaiting: moveWaiting, actor: actor)
                    var status = try await controller.status(name)
                    if moveWaiting, case .object(var members) = status {
                        members["instances"] = .array(moves.map(\.json))
                        status = .object(members)
                    }
                    return status
                }
            },
            move: { name, customer, dryRun, actor in
                try await refusing {
                    let moves = try await controller.move(name, customer: customer, dryRun: dryRun, actor: actor)
                    return ["migration": .string(name), "dry_run": .bool(dryRun), "instances": .array(moves.map(\.json))]
                }
            },
            pause: { name, paused, actor in
                try await refusing {
                    try await controller.setPaused(name, paused, actor: actor)
                    return try await controller.status(name)
                }
            })
    }
}
