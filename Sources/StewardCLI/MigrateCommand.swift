import ArgumentParser
import Foundation
import StewardBootstrap
import StewardEngine
import StewardJSON
import StewardMigration
import StewardTemplates

/// `steward migrate`: staged, eval-gated, reversible model-binding migrations per customer.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move customers to a new model binding in stages, gated on evals and live results, with instant rollback.",
        discussion: "See Docs/migrations.md. Every change is in the hash-chained journal.",
        subcommands: [
            MigrateValidate.self, MigrateStart.self, MigrateStatus.self, MigrateAdvance.self, MigrateApprove.self, MigratePause.self,
            MigrateResume.self, MigrateRollback.self, MigrateMove.self,
        ])
}

/// The controller over the assembled engine; its errors print as one line and exit 1.
func migrationController(_ storeOptions: StoreOptions, _ plugins: PluginOptions) async throws -> MigrationController {
    MigrationController(assembly: try await EngineContext(store: storeOptions, plugins: plugins).assembly)
}

/// Runs `body`, turning a `MigrationError` into a one-line error and exit 1.
func migrating(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as MigrationError {
        throw CLIError(error.description.split(separator: "\n").count > 1 ? error.description : "error: " + error.description)
    }
}

struct MigrateValidate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check a migration plan against the loaded templates, overlays and adapters.")
    @Argument(help: "The plan (YAML in migrations/).") var file: String
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let plan = try MigrationController.load(file)
        let controller = try await migrationController(storeOptions, plugins)
        let problems = controller.problems(plan)
        for problem in problems { printError(problem) }
        if problems.contains(where: { $0.contains(": error: ") }) { throw ValidationFailed(exitCode: 1) }
        print("ok    \(file)  (\(plan.name): \(plan.template) \(plan.changeSummary); \(plan.customers.count) customers; stages \(plan.stages.map(\.name).joined(separator: " -> ")))")
        if let warning = controller.deadlineWarning(plan, progress: []) { print("warning: \(warning)") }
    }
}

struct MigrateStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a migration: its pilot customers enter the first stage.")
    @Argument(help: "The plan.") var file: String
    @Option(help: "Who starts it, for the journal.") var by = "operator"
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let plan = try MigrationController.load(file)
        let controller = try await migrationController(storeOptions, plugins)
        try await migrating { try await controller.start(plan, actor: by) }
        print("started \(plan.name): \(plan.pilot.joined(separator: ", ")) at stage \(plan.stages[0].name)")
    }
}

struct MigrateStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show each customer's stage, gate evidence and share.")
    @Argument(help: "The migration (default: all).") var name: String?
    @Flag(name: .customLong("json"), help: "Print JSON.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let controller = try await migrationController(storeOptions, plugins)
        var status: JSONValue = .null
        try await migrating { status = try await controller.status(name) }
        if json {
            print(status.prettyJSONString)
            return
        }
        for migration in status["migrations"]?.arrayValue ?? [] {
            print("\(migration["migration"]?.stringValue ?? "?"): \(migration["template"]?.stringValue ?? "") \(migration["role"]?.stringValue ?? "") \(migration["from"]?.stringValue ?? "") -> \(migration["to"]?.stringValue ?? "") [\(migration["status"]?.stringValue ?? "")]")
            for customer in migration["customers"]?.arrayValue ?? [] {
                let share = customer["share"]?.doubleValue.map { String(format: "%.0f%%", $0 * 100) } ?? "-"
                print("  \(customer["customer"]?.stringValue ?? "?"): stage \(customer["stage"]?.stringValue ?? "?"), \(customer["state"]?.stringValue ?? "?"), \(share) on the candidate")
                if let evidence = customer["evidence"], evidence != .emptyObject { print("    evidence: \(evidence.jsonString)") }
            }
            if let warning = migration["warning"]?.stringValue { print("  warning: \(warning)") }
        }
    }
}

struct MigrateAdvance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advance", abstract: "Evaluate the current gate of each running customer and move on those that passed.")
    @Argument(help: "The migration.") var name: String
    @Option(help: "Only this customer.") var customer: String?
    @Option(help: "Who advances it, for the journal.") var by = "operator"
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let controller = try await migrationController(storeOptions, plugins)
        var steps: [MigrationController.Step] = []
        try await migrating { steps = try await controller.advance(name, customer: customer, actor: by) }
        if steps.isEmpty { print("no customer is running a gate") }
        for step in steps { print("\(step.customer): \(step.stage) gate \(step.verdict.rawValue) -> \(step.state)") }
        if steps.contains(where: { $0.verdict == .failed }) { throw ValidationFailed(exitCode: 1) }
    }
}

struct MigrateApprove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "Approve a customer waiting at a gate (needs the plan's approver credential).")
    @Argument(help: "The migration.") var name: String
    @Option(help: "The customer.") var customer: String
    @Option(help: "The approver's reviewer token.") var token: String
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let controller = try await migrationController(storeOptions, plugins)
        try await migrating { try await controller.approve(name, customer: customer, token: token) }
        print("\(customer): approved")
    }
}

struct MigratePause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause a migration: no gate is evaluated, shares stay.")
    @Argument var name: String
    @Option(help: "Who, for the journal.") var by = "operator"
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let controller = try await migrationController(storeOptions, plugins)
        try await migrating { try await controller.setPaused(name, true, actor: by) }
        print("\(name): paused")
    }
}

struct MigrateResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused migration.")
    @Argument var name: String
    @Option(help: "Who, for the journal.") var by = "operator"
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let controller = try await migrationController(storeOptions, plugins)
        try await migrating { try await controller.setPaused(name, false, actor: by) }
        print("\(name): running")
    }
}

struct MigrateRollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Send new instances back to the current binding or version at once (running ones finish on what they started with, unless --move-waiting).")
    @Argument var name: String
    @Option(help: "Only this customer.") var customer: String?
    @Flag(help: "Also move instances waiting at a checkpoint on the candidate back now (re-bound, or moved by the inverse state map); the rest finish on it.")
    var moveWaiting = false
    @Flag(name: .customLong("json"), help: "Print the moves as JSON.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @Option(help: "Who, for the journal.") var by = "operator"
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let controller = try await migrationController(storeOptions, plugins)
        var reports: [InstanceMoveReport] = []
        try await migrating { reports = try await controller.rollback(name, customer: customer, moveWaiting: moveWaiting, actor: by) }
        if json {
            print(JSONValue.object(["migration": .string(name), "rolled_back": true, "instances": .array(reports.map(\.json))]).prettyJSONString)
            return
        }
        print("\(name): rolled back\(customer.map { " for \($0)" } ?? "")")
        if moveWaiting { printMoves(reports) }
    }
}

struct MigrateMove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move",
        abstract: "Move instances waiting at a checkpoint to the candidate (a version plan: by its state map) for customers whose new work is all on it.")
    @Argument var name: String
    @Option(help: "Only this customer.") var customer: String?
    @Flag(help: "Report what would move; move nothing.") var dryRun = false
    @Flag(name: .customLong("json"), help: "Print JSON.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @Option(help: "Who, for the journal.") var by = "operator"
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let controller = try await migrationController(storeOptions, plugins)
        var reports: [InstanceMoveReport] = []
        try await migrating { reports = try await controller.move(name, customer: customer, dryRun: dryRun, actor: by) }
        if json {
            print(JSONValue.object(["migration": .string(name), "dry_run": .bool(dryRun), "instances": .array(reports.map(\.json))]).prettyJSONString)
            return
        }
        printMoves(reports)
    }
}

/// One line per waiting instance a move looked at, then the counts.
func printMoves(_ reports: [InstanceMoveReport]) {
    for report in reports {
        let verb = report.moved ? "moved " : (report.to != nil ? "would " : "stays ")
        print("\(verb) \(report.instance)  \(report.customer)  \(report.from)\(report.to.map { " -> \($0)" } ?? "")\(report.note.map { "  (\($0))" } ?? "")")
    }
    print("\(reports.filter(\.moved).count) moved, \(reports.filter { !$0.moved }.count) not moved")
}
