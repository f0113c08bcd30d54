import ArgumentParser
import StewardBootstrap
import Foundation
import StewardJSON
import StewardPlugins
import StewardCore
import StewardEngine
import StewardTemplates

/// `steward run TEMPLATE --input FILE.json`: runs one instance, durably, to its end or first checkpoint.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one instance of a template, printing each transition and the final output as JSON.",
        discussion: "The instance is stored in the embedded database; a checkpoint leaves it waiting for `steward review`.")

    @Argument(help: "The template: a file, or the name of a template in the workflows directory (its newest version).")
    var template: String

    @Option(name: .long, help: "The instance input, a JSON file.")
    var input: String

    @Option(name: .long, help: "The customer the instance runs for (applies workflows/customers/NAME.yaml).")
    var customer: String?

    @Option(name: .long, help: "Instance id (default: a new UUID).")
    var id: String?

    @Option(name: .long, help: "Client idempotency key: running again with the same key returns the same instance.")
    var key: String?

    @Flag(name: .long, help: "Print only the final JSON document.")
    var quiet = false

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let workspace = Workspace()
        let inputValue = try workspace.readJSON(input)
        let context = try await EngineContext(store: storeOptions, plugins: plugins, extraTemplate: TemplateArgument.extraTemplate(template))
        // The context already loaded and validated the file; no second parse.
        let parsed = try TemplateArgument.plan(template, in: context, workflows: storeOptions.workflows)
        let quiet = self.quiet
        let final = try await context.engine.submit(
            template: parsed.name, version: parsed.version, customer: customer, input: inputValue,
            id: id ?? UUID().uuidString.lowercased(), clientKey: key,
            observe: { record in if !quiet { printTransition(record) } })
        // Shadow calls of a migration record their comparison before the process exits.
        await context.engine.drainShadowCalls()
        let plan = context.plans.plan(template: final.template, version: final.templateVersion)
        print(report(final, plan: plan).prettyJSONString)
        if final.status == .failed { throw ValidationFailed(exitCode: 2) }
    }
}
