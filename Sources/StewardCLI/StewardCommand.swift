import ArgumentParser
import Foundation
import StewardPlugins
import StewardReview
import StewardCore
import StewardEngine
import StewardStoreSQLite
import StewardBootstrap
import StewardTemplates

/// The `steward` command line.
public struct StewardCommand: AsyncParsableCommand {
    /// Subcommands and help.
    public static let configuration = CommandConfiguration(
        commandName: "steward",
        abstract: "Run workflow templates as durable state machines with human checkpoints.",
        version: StewardVersion.current,
        subcommands: [
            ValidateCommand.self, RunCommand.self, SubmitCommand.self, ResumeCommand.self, InstancesCommand.self,
            ReviewCommand.self, ReviewersCommand.self, TimersCommand.self, NotificationsCommand.self, AuditCommand.self,
            TemplateCommand.self, PluginsCommand.self, StepsCommand.self, ModelsCommand.self, ServeCommand.self, EvalCommand.self, MigrateCommand.self, EventsCommand.self,
            StoreCommand.self, CompletionCommand.self,
        ]
    )

    /// Creates the command.
    public init() {}

    /// Entry point used by the `steward` executable: parses, runs, and exits with a clear
    /// one-line error on stderr when something fails.
    public static func runMain() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            printError(error.description)
            Foundation.exit(1)
        } catch let error as BootstrapError {
            printError(error.description)
            Foundation.exit(1)
        } catch let error as PluginBuildError {
            printError("error: \(error)")
            Foundation.exit(1)
        } catch let error as ValidationFailed {
            Foundation.exit(error.exitCode)
        } catch let error as PluginLoadError {
            printError("error: \(error)")
            Foundation.exit(1)
        } catch let error as EngineError {
            printError("error: \(error)")
            Foundation.exit(1)
        } catch let error as ReviewError {
            printError("\(error.kind.rawValue): \(error.message)")
            Foundation.exit(1)
        } catch let error as TemplateErrors {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            Foundation.exit(1)
        } catch let error as StoreOpenError {
            // The store is down, refuses the credentials, or is newer than this steward.
            printError("error: \(error)")
            Foundation.exit(3)
        } catch let error as StoreError {
            printError("error: \(error)")
            Foundation.exit(1)
        } catch {
            // Argument errors (usage, --help, --version) keep ArgumentParser's own handling.
            exit(withError: error)
        }
    }
}

/// Writes a line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line.hasSuffix("\n") ? line : line + "\n").utf8))
}

/// Thrown after the problems have been printed; carries only the exit code.
struct ValidationFailed: Error {
    let exitCode: Int32
}

/// Plugin options shared by commands that load plugins.
struct PluginOptions: ParsableArguments {
    @Option(name: .customLong("plugins"), help: "A plugin library or a directory of them (repeatable). Default: $STEWARD_PLUGIN_PATH or .steward/plugins.")
    var directories: [String] = []

    @Flag(name: .customLong("no-build"), help: "Do not build the shipped plugins from Plugins/ before loading.")
    var noBuild = false
}

/// `--output table|json` beside a command's `--json`: the same choice, spelt as other tools
/// spell it. The JSON shapes are those `--json` documents.
struct OutputChoice: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table
        case json
    }

    @Option(name: .customLong("output"), help: "table (text for people, the default) or json (the same as --json).")
    var format: Format = .table

    /// Whether JSON was asked for.
    var isJSON: Bool { format == .json }
}
