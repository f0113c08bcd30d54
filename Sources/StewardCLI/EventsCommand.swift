import ArgumentParser
import Foundation
import StewardCore
import StewardEngine
import StewardJSON

/// `steward events send`: deliver a named event to an instance waiting at an event state, by
/// its id or by the correlation key its state declares.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Deliver events to instances waiting at event states.", subcommands: [Send.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deliver an event: to --instance ID, or to every instance waiting for it with --key K (its state's 'correlate' value).")
        @Argument(help: "The event's name.") var name: String
        @Option(help: "The instance to deliver to.") var instance: String?
        @Option(help: "The correlation key (instead of --instance).") var key: String?
        @Option(help: "The payload: a JSON object, or @FILE to read one.") var payload = "{}"
        @Option(help: "An idempotency key: sending again with it changes nothing.") var idempotencyKey: String?
        @Option(help: "Who sends it, for the journal.") var by = "operator"
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func validate() throws {
            guard (instance == nil) != (key == nil) else { throw ValidationError("name exactly one of --instance and --key") }
        }

        func run() async throws {
            let text: String
            if payload.hasPrefix("@") {
                guard let read = try? String(contentsOfFile: String(payload.dropFirst()), encoding: .utf8) else {
                    throw CLIError("cannot read \(payload.dropFirst())")
                }
                text = read
            } else {
                text = payload
            }
            let value: JSONValue
            do { value = try JSONValue.parse(text) } catch { throw CLIError("--payload is not valid JSON: \(error)") }
            let context = try await EngineContext(store: storeOptions, plugins: plugins)
            let delivery = EventDelivery(name: name, payload: value, idempotencyKey: idempotencyKey, by: by)
            do {
                let reached: [InstanceState]
                if let instance {
                    reached = [try await context.engine.deliver(delivery, to: instance)]
                } else {
                    reached = try await context.engine.deliver(delivery, correlatedBy: key ?? "")
                    if reached.isEmpty { throw CLIError("error: no instance waits for event '\(name)' with key '\(key ?? "")'") }
                }
                for state in reached { print("\(state.id): \(state.status.rawValue) at \(state.current)") }
            } catch let error as EngineError {
                throw CLIError("error: \(error.description)")
            }
        }
    }
}
