import ArgumentParser
import Foundation
import Synchronization
import StewardJSON
import StewardCore
import StewardEngine
import StewardStoreSQLite
import StewardBootstrap
import StewardNotify
import StewardTemplates

/// `steward instances list|show`.
struct InstancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instances", abstract: "List instances, show one with its history, cancel or retry one.",
        subcommands: [List.self, Show.self, Cancel.self, Retry.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List instances, newest first.")
        @Option(help: "Only this status (running, waiting, completed, rejected, failed, cancelled).") var status: String?
        @Option(help: "Only this template.") var template: String?
        @Option(name: .customLong("template-version"), help: "Only instances pinned to this template version (1.1.0).") var templateVersion: String?
        @Option(help: "Only this customer.") var customer: String?
        @Option(help: "Only instances at this state.") var state: String?
        @Option(help: "Only instances created at least this long ago (30m, 2h, 7d).") var olderThan: String?
        @Option(help: "At most this many.") var limit = 50
        @Flag(name: .customLong("json"), help: "Print JSON.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            var query = InstanceQuery(template: template, version: templateVersion, customer: customer, state: state, limit: limit)
            if let status {
                guard let parsed = InstanceStatus(rawValue: status) else {
                    throw CLIError("unknown status '\(status)'; expected pending, running, waiting, completed, rejected, failed or cancelled")
                }
                query.status = parsed
            }
            if let olderThan {
                guard let age = TemplateParser.parseDurationMilliseconds(olderThan) else { throw CLIError("--older-than '\(olderThan)': expected a duration like 30m, 2h or 7d") }
                query.createdBefore = SystemEngineClock().nowMilliseconds() - age
            }
            let store = try await storeOptions.openStore()
            let rows = try await store.instances(query)
            if json {
                print(JSONValue.object(["instances": .array(rows.map { row in
                    [
                        "id": .string(row.id), "template": .string(row.template), "version": .string(row.version),
                        "customer": row.customer.map { .string($0) } ?? .null, "status": .string(row.status.rawValue), "state": .string(row.current),
                        "events": .integer(Int64(row.sequence)), "created": .string(formatMilliseconds(row.createdAt)),
                        "updated": .string(formatMilliseconds(row.updatedAt)),
                    ]
                })]).prettyJSONString)
                return
            }
            for row in rows {
                print("\(row.id)  \(row.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  \(row.template)@\(row.version)  at \(row.current)  events \(row.sequence)\(row.customer.map { "  customer \($0)" } ?? "")")
            }
            if rows.isEmpty { print("no instances") }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel an instance: it ends cancelled, its open review task closes, nothing it was owed is called.")
        @Argument(help: "Instance id.") var id: String
        @Option(help: "Why (journalled).") var reason: String
        @Option(help: "Who, for the journal.") var by = "operator"
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws {
            let context = try await EngineContext(store: storeOptions, plugins: plugins)
            do {
                let state = try await context.engine.cancel(instance: id, reason: reason, by: by)
                print("\(id): \(state.status.rawValue) at \(state.current)")
            } catch let error as EngineError {
                throw CLIError("error: \(error.description)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retry a failed instance from the step it failed at (same pinned template, config and bindings).")
        @Argument(help: "Instance id.") var id: String
        @Option(help: "Who, for the journal.") var by = "operator"
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws {
            let context = try await EngineContext(store: storeOptions, plugins: plugins)
            do {
                let state = try await context.engine.retry(instance: id, by: by)
                print("\(id): \(state.status.rawValue) at \(state.current)\(state.failure.map { " (\($0.kind): \($0.message))" } ?? "")")
            } catch let error as EngineError {
                throw CLIError("error: \(error.description)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an instance's state and its event history as JSON.")
        @Argument(help: "Instance id.") var id: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openStore()
            guard let (state, tail) = try await store.instanceWithTail(id: id) else { throw CLIError("no instance '\(id)'") }
            let history = try await store.history(of: id)
            var object = state.jsonValue.objectValue ?? [:]
            // Times print as RFC 3339, like every other time (the snapshot keeps ms).
            if let started = state.startedAt { object["started_at"] = .string(formatMilliseconds(started)) }
            // A running instance's snapshot is from its last rest; its newer events are in the history.
            if !tail.isEmpty { object["events_after_snapshot"] = .integer(Int64(tail.count)) }
            let timers = try await store.pendingTimers(of: id)
            if !timers.isEmpty {
                object["pending_timers"] = .array(timers.map { ["kind": .string($0.kind), "due": .string(formatMilliseconds($0.dueAt))] })
            }
            object["history"] = .array(history.map { entry in
                [
                    "seq": entry.sequence.map { .integer(Int64($0)) } ?? .null, "event": .string(entry.kind),
                    "at": .string(formatMilliseconds(entry.at)), "actor": .string(entry.actor), "payload": entry.payload,
                ]
            })
            print(JSONValue.object(object).prettyJSONString)
        }
    }
}

/// ISO-8601 UTC text for a millisecond timestamp.
func formatMilliseconds(_ milliseconds: Int64) -> String { Timestamps.rfc3339(milliseconds) }

/// `steward resume`: continue every running instance (after a crash or restart).
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Continue every running instance from its last committed event.")
    @Option(help: "Instances driven at once.") var concurrency = 64
    @Flag(help: "Print each transition.") var verbose = false
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let context = try await EngineContext(store: storeOptions, plugins: plugins)
        let verbose = self.verbose
        // Timers that fell due while nothing ran fire now, once.
        let fired = try await context.timers.fireDue(now: SystemEngineClock().nowMilliseconds())
        for timer in fired { print("fired \(timer.kind) for instance \(timer.instanceID) (due \(formatMilliseconds(timer.dueAt)))") }
        // Progress on standard error (a bar on a terminal, plain lines in a log): instances
        // driven to their next stop out of those running when the pass began.
        let total = try await context.store.countByStatus()[.running, default: 0]
        let progress = Progress(label: "resume", unit: "instances")
        let done = Atomic<Int>(0)
        let driven = try await context.engine.resume(concurrency: concurrency, observe: { record in if verbose { printTransition(record) } }) {
            let now = done.add(1, ordering: .relaxed).newValue
            progress.update(now, max(total, now))
        }
        progress.finish()
        let counts = try await context.store.countByStatus()
        print("resumed \(driven) instance(s); now " + counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
    }
}

/// `steward submit`: submit many instances of one input (load, crash tests), idempotently by key.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a batch of instances of a template and drive them: COUNT copies of one input, or one instance per line of a JSONL file.",
        discussion: """
            Each instance's id and client key is PREFIX-N: N counts 0...COUNT-1 with --input, and is \
            the line's --key-field value (or its line number, from 1) with --inputs. Submitting the same \
            batch again skips the instances already submitted and continues those a crash cut short. \
            The summary counts this batch only.
            """)
    @Argument(help: "The template: the name of a template in the workflows directory (its newest version), or a file.") var template: String
    @Option(help: "The input JSON file, for --count copies.") var input: String?
    @Option(help: "How many instances of --input.") var count: Int?
    @Option(help: "A JSONL file: one instance input (a JSON document) per line; blank lines are skipped.") var inputs: String?
    @Option(help: "With --inputs: the field of each line whose value (a string or an integer) keys its instance.") var keyField: String?
    @Option(help: "Client key prefix.") var keyPrefix = "submit"
    @Option(help: "Customer.") var customer: String?
    @Option(help: "Instances driven at once.") var concurrency = 64
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var plugins: PluginOptions

    func validate() throws {
        guard (input == nil) != (inputs == nil) else { throw ValidationError("give either --input FILE (with --count) or --inputs FILE.jsonl") }
        if inputs != nil, count != nil { throw ValidationError("--count goes with --input; --inputs submits one instance per line") }
        if input != nil, keyField != nil { throw ValidationError("--key-field goes with --inputs") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() async throws {
        let context = try await EngineContext(store: storeOptions, plugins: plugins, extraTemplate: TemplateArgument.extraTemplate(template))
        let plan = try TemplateArgument.plan(template, in: context, workflows: storeOptions.workflows)
        let batch: [(key: String, input: JSONValue)]
        if let inputs {
            batch = try BatchInputs.read(try context.workspace.readText(inputs), file: inputs, keyField: keyField)
                .map { ("\(keyPrefix)-\($0.key)", $0.input) }
        } else {
            let value = try context.workspace.readJSON(input ?? "")
            batch = (0..<(count ?? 1)).map { ("\(keyPrefix)-\($0)", value) }
        }
        let engine = context.engine, store = context.store, customer = self.customer
        let (name, version) = (plan.name, plan.version)
        // Each task says whether its key was new; an instance a crash cut short is continued.
        let progress = Progress(label: "submit", unit: "instances")
        let created = try await withThrowingTaskGroup(of: Bool.self) { group in
            var created = 0
            var done = 0
            func finished(_ isNew: Bool) {
                if isNew { created += 1 }
                done += 1
                progress.update(done, batch.count)
            }
            for index in batch.indices {
                if index >= concurrency, let isNew = try await group.next() { finished(isNew) }
                let key = batch[index].key
                let input = batch[index].input
                group.addTask {
                    if let existing = try await store.instance(clientKey: key) {
                        _ = try await engine.resume(existing)
                        return false
                    }
                    _ = try await engine.submit(template: name, version: version, customer: customer, input: input, id: key, clientKey: key)
                    return true
                }
            }
            for try await isNew in group { finished(isNew) }
            return created
        }
        progress.finish()
        // This batch's instances only, as they are now.
        var statuses: [String: Int] = [:]
        for entry in batch {
            let status = try await engine.currentState(id: entry.key)?.status.rawValue ?? "missing"
            statuses[status, default: 0] += 1
        }
        let summary = statuses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("batch of \(batch.count) (\(name) \(version)): \(created) new, \(batch.count - created) already submitted; now \(summary)")
    }
}

/// The instance inputs of a JSONL batch, keyed.
enum BatchInputs {
    /// One entry per non-blank line of `text`: its key (the `keyField` value, or the line
    /// number from 1) and its JSON document.
    /// - Throws: `CLIError` naming the file, line and column of a malformed line, a line
    ///   without the key field, or a key two lines share.
    static func read(_ text: String, file: String, keyField: String?) throws -> [(key: String, input: JSONValue)] {
        var entries: [(key: String, input: JSONValue)] = []
        var lineOfKey: [String: Int] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            let value: JSONValue
            do {
                value = try JSONValue.parse(String(line))
            } catch {
                throw CLIError("\(file):\(number):\(error.offset + 1): error: invalid JSON: \(error.reason)")
            }
            let key: String
            if let keyField {
                switch value[keyField] {
                case .string(let text)?: key = text
                case .integer(let integer)?: key = String(integer)
                default: throw CLIError("\(file):\(number): error: no string or integer field '\(keyField)' to key the instance by")
                }
            } else {
                key = String(number)
            }
            if let first = lineOfKey[key] {
                throw CLIError("\(file):\(number): error: key '\(key)' is already the key of line \(first)")
            }
            lineOfKey[key] = number
            entries.append((key, value))
        }
        guard !entries.isEmpty else { throw CLIError("error: \(file) has no input lines") }
        return entries
    }
}

/// `steward timers fire` and `steward notifications`: the SLA clock's side.
struct TimersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timers", abstract: "Fire due SLA timers (warnings, breaches, escalations).", subcommands: [Fire.self])

    struct Fire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fire every timer due now (each fires once).")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws {
            let context = try await EngineContext(store: storeOptions, plugins: plugins)
            let fired = try await context.timers.fireDue(now: SystemEngineClock().nowMilliseconds())
            for timer in fired { print("fired \(timer.kind) for instance \(timer.instanceID) (due \(formatMilliseconds(timer.dueAt)))") }
            print("\(fired.count) timer(s) fired")
        }
    }
}

struct NotificationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications", abstract: "Notifications and their webhook deliveries: list them, retry a dead delivery, deliver the due ones now.",
        subcommands: [List.self, Retry.self, Deliver.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List notifications, newest first, with each channel's delivery status.")
        @Option(help: "At most this many.") var limit = 50
        @Flag(name: .customLong("json"), help: "Print JSON.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openStore()
            let newest = try await store.latestNotifications(limit: limit)
            var rows: [JSONValue] = []
            for notification in newest {
                let deliveries = try await store.deliveries(notification: notification.id, limit: 100)
                if json {
                    var object = notification.json.objectValue ?? [:]
                    object["deliveries"] = .array(deliveries.map(\.json))
                    rows.append(.object(object))
                    continue
                }
                let status = deliveries.map { "\($0.channel): \($0.status) after \($0.attempts)\($0.lastError.map { " (\($0))" } ?? "")" }
                print("\(notification.id)  \(formatMilliseconds(notification.at))  to \(notification.recipient): \(notification.message)\(status.isEmpty ? "" : "  [" + status.joined(separator: "; ") + "]")")
            }
            if json { print(JSONValue.object(["notifications": .array(rows)]).prettyJSONString) } else if newest.isEmpty { print("no notifications") }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a notification's undelivered deliveries due now, with a fresh attempt budget.")
        @Argument(help: "The notification id.") var id: Int64
        @Option(help: "Only this channel.") var channel: String?
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openStore()
            let revived = try await store.retryDeliveries(notification: id, channel: channel, now: SystemEngineClock().nowMilliseconds())
            guard !revived.isEmpty else { throw CLIError("error: notification \(id) has no undelivered delivery\(channel.map { " on \($0)" } ?? "")") }
            for delivery in revived { print("\(id) on \(delivery.channel): pending, due now") }
        }
    }

    struct Deliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Route new notifications to the channels of workflows/notifications.yaml and attempt the due deliveries (steward serve does this on its tick).")
        // `--workflows` (where notifications.yaml is) comes with the store options.
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openStore()
            let channels: NotificationChannels
            do { channels = try WebhookDeliverer.channels(inWorkflows: storeOptions.workflows) } catch let errors as TemplateErrors {
                throw CLIError(errors.description)
            }
            guard !channels.channels.isEmpty else { throw CLIError("error: \(channels.file) names no channel") }
            let deliverer: WebhookDeliverer
            do { deliverer = try WebhookDeliverer(store: store, channels: channels.channels) } catch let error as NotifyError {
                throw CLIError("error: \(error.description)")
            }
            let attempted = try await deliverer.tick(now: SystemEngineClock().nowMilliseconds())
            for delivery in attempted {
                print("\(delivery.notification) on \(delivery.channel): \(delivery.status) after \(delivery.attempts)\(delivery.lastError.map { " (\($0))" } ?? "")")
            }
            print("\(attempted.count) attempted")
        }
    }
}
