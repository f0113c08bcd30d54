import ArgumentParser
import Foundation
import StewardJSON
import StewardPlugins
import StewardRuntime
import StewardTemplates

/// `steward run TEMPLATE --input FILE.json`: runs one instance to its end or first checkpoint.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one instance of a template, printing each transition and the final output as JSON.")

    @Argument(help: "The template file.")
    var template: String

    @Option(name: .long, help: "The instance input, a JSON file.")
    var input: String

    @Option(name: .long, help: "Instance id (default: a new UUID).")
    var id: String?

    @Flag(name: .long, help: "Print only the final JSON document.")
    var quiet = false

    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let workspace = Workspace()
        let inputValue = try workspace.readJSON(input)
        let registry = try workspace.loadPlugins(explicit: plugins.directories, build: !plugins.noBuild)
        let plan: Plan
        do {
            plan = try Plan(validating: try workspace.parseTemplate(template), catalog: StepCatalog(steps: registry.stepNames))
        } catch let errors as TemplateErrors {
            for diagnostic in errors.diagnostics { printError(diagnostic.description) }
            throw ValidationFailed(exitCode: 1)
        }
        let executor = Executor(plan: plan, invoker: registry)
        let instanceID = id ?? UUID().uuidString.lowercased()
        let quiet = self.quiet
        let final = try await executor.start(id: instanceID, input: inputValue) { record in
            guard !quiet else { return }
            for move in record.moves {
                print("transition \(move.from ?? "(start)") -> \(move.to): \(move.reason)")
            }
        }
        var report: [String: JSONValue] = [
            "instance": .string(final.id), "template": .string(final.template), "version": .string(final.templateVersion),
            "status": .string(final.status.rawValue), "state": .string(final.current),
        ]
        if let output = final.output { report["output"] = output }
        if let failure = final.failure {
            report["error"] = ["state": .string(failure.state), "kind": .string(failure.kind), "message": .string(failure.message)]
        }
        if final.status == .waiting, case .checkpoint(let checkpoint) = plan.state(final.current)?.kind {
            report["waiting_for"] = [
                "checkpoint": .string(final.current), "credential": .string(checkpoint.credential),
                "subject": final.data.value(at: checkpoint.subject.split(separator: ".")) ?? .null,
            ]
        }
        print(JSONValue.object(report).prettyJSONString)
        if final.status == .failed { throw ValidationFailed(exitCode: 2) }
    }
}
