import ArgumentParser
import Foundation
import StewardJSON
import StewardReview
import StewardCore
import StewardEngine
import StewardStoreSQLite
import StewardBootstrap
import StewardServer
import StewardTemplates

/// Options identifying the reviewer.
struct TokenOptions: ParsableArguments {
    @Option(name: .long, help: "The reviewer's bearer token (default: $STEWARD_TOKEN).")
    var token: String?

    var resolved: String? { token ?? ProcessInfo.processInfo.environment["STEWARD_TOKEN"] }

    /// The token a command that acts as a reviewer needs.
    /// - Throws: `CLIError` saying where a token comes from when there is none.
    func required() throws -> String {
        guard let token = resolved, !token.isEmpty else {
            throw CLIError(
                "a reviewer token is required: pass --token TOKEN or set STEWARD_TOKEN "
                    + "(an operator creates one with 'steward reviewers add NAME --credential CREDENTIAL'; it is printed once)")
        }
        return token
    }
}

/// `steward review ...`: the reviewer's command-line desk.
struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review", abstract: "List, show and decide human checkpoints; audit sampled production work.",
        subcommands: [
            List.self, Show.self, Claim.self, Release.self, Approve.self, Edit.self, Reject.self, Examples.self, Audits.self, Audit.self,
            Accuracy.self, Agreement.self, Labels.self,
        ])

    struct Examples: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the labelled examples reviewers' edits produced (one JSON object per line), for evaluation.")
        @Option(help: "Only this template.") var template: String?
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openStore()
            for example in try await store.labelledExamples(template: template) { print(example.jsonString) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open tasks, soonest deadline first (yours, with --token).")
        @Option(help: "Only tasks needing this credential.") var credential: String?
        @Flag(name: .customLong("json"), help: "Print JSON: {\"tasks\": [...]}, each task as GET /v1/tasks shows it (ReviewTask in Docs/openapi.yaml).") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }
        @OptionGroup var tokenOptions: TokenOptions
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openStore()
            var credentials: [String]? = credential.map { [$0] }
            if let token = tokenOptions.resolved {
                guard let reviewer = try await store.reviewer(token: token) else {
                    throw CLIError("unknown token (from \(tokenOptions.token == nil ? "STEWARD_TOKEN" : "--token")): it may have been revoked; 'steward reviewers list' shows who has one")
                }
                if let credential, !reviewer.holds(credential) { throw CLIError("\(reviewer.id) does not hold credential '\(credential)'") }
                credentials = credential.map { [$0] } ?? reviewer.credentials
            }
            let tasks = try await store.openTasks(credentials: credentials, limit: 200)
            if json {
                print(JSONValue.object(["tasks": .array(tasks.map(taskJSON))]).prettyJSONString)
                return
            }
            let now = SystemEngineClock().nowMilliseconds()
            for task in tasks {
                let due = task.dueAt.map { "due \(formatMilliseconds($0)) (\(timeLeft($0 - now)))" } ?? "no deadline"
                let assigned = task.assigned.map { " -> \($0)" } ?? ""
                print("\(task.id)  \(task.credential)\(assigned)  \(task.template)  \(task.instanceID)  at \(task.state)  \(due)")
            }
            if tasks.isEmpty { print("no open tasks") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A task with the context a reviewer needs, as JSON.")
        @Argument(help: "Task id.") var id: Int64
        @OptionGroup var tokenOptions: TokenOptions
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws {
            let context = try await EngineContext(store: storeOptions, plugins: plugins)
            let reviewer = try await tokenOptions.resolved.asyncMap { try await context.desk.authenticate(token: $0) }
            let view = try await reviewing { try await context.desk.context(task: id, for: reviewer) }
            var object: [String: JSONValue] = [
                "task": .integer(view.task.id), "instance": .string(view.task.instanceID), "state": .string(view.task.state),
                "credential": .string(view.task.credential), "status": .string(view.task.status), "subject": view.task.subject,
                "decisions": .array(view.task.decisions.map { .string($0.rawValue) }), "input": view.input,
                "outputs": .object(view.outputs), "opened_at": .string(formatMilliseconds(view.task.openedAt)),
                "sla_deadline": view.task.dueAt.map { .string(formatMilliseconds($0)) } ?? .null,
                "escalation_level": .integer(Int64(view.task.escalationLevel)),
                "assigned": view.task.assigned.map { .string($0) } ?? .null,
            ]
            if let aop = view.aop {
                object["aop"] = [
                    "domain": .string(aop.domain), "may": .array(aop.may.map { .string($0) }),
                    "may_not": .array(aop.mayNot.map { .string($0) }), "escalation_target": .string(aop.escalationTarget),
                ]
            }
            print(JSONValue.object(object).prettyJSONString)
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a task's output as it is.")
        @Argument(help: "Task id.") var id: Int64
        @OptionGroup var tokenOptions: TokenOptions
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws { try await decideTask(id, .approve, token: tokenOptions, store: storeOptions, plugins: plugins) }
    }

    struct Edit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a task's output with your version and approve it.")
        @Argument(help: "Task id.") var id: Int64
        @Option(help: "The replacement output, a JSON file.") var output: String?
        @Option(help: "The replacement output as inline JSON.") var json: String?
        @OptionGroup var tokenOptions: TokenOptions
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws {
            let value: JSONValue
            if let json {
                do { value = try JSONValue.parse(json) } catch { throw CLIError("--json: \(error)") }
            } else if let output {
                value = try Workspace().readJSON(output)
            } else {
                throw CLIError("an edit needs --output FILE or --json TEXT")
            }
            try await decideTask(id, .edit, output: value, token: tokenOptions, store: storeOptions, plugins: plugins)
        }
    }

    struct Claim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reserve a task for yourself, so others cannot decide it while you work on it (renews your claim).")
        @Argument(help: "Task id.") var id: Int64
        @Option(help: "How long the claim holds, in minutes.") var minutes = Int(ReviewDesk.defaultClaimDuration / 60_000)
        @OptionGroup var tokenOptions: TokenOptions
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws {
            guard minutes > 0 else { throw CLIError("--minutes must be at least 1, found \(minutes)") }
            let context = try await EngineContext(store: storeOptions, plugins: plugins)
            var desk = context.desk
            desk.claimDuration = Int64(minutes) * 60_000
            let claim = try await reviewing {
                let reviewer = try await desk.authenticate(token: tokenOptions.required())
                return try await desk.claim(task: id, by: reviewer)
            }
            print("task \(id) claimed until \(formatMilliseconds(claim.until))")
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give up your claim on a task, so others may take it at once.")
        @Argument(help: "Task id.") var id: Int64
        @OptionGroup var tokenOptions: TokenOptions
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws {
            let context = try await EngineContext(store: storeOptions, plugins: plugins)
            let released = try await reviewing {
                let reviewer = try await context.desk.authenticate(token: tokenOptions.required())
                return try await context.desk.release(task: id, by: reviewer)
            }
            print(released ? "task \(id) released" : "task \(id) had no claim of yours that still holds")
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a task's output, with a reason.")
        @Argument(help: "Task id.") var id: Int64
        @Option(help: "Why.") var reason: String
        @OptionGroup var tokenOptions: TokenOptions
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws { try await decideTask(id, .reject, reason: reason, token: tokenOptions, store: storeOptions, plugins: plugins) }
    }
}

func decideTask(
    _ id: Int64, _ decision: Decision, output: JSONValue? = nil, reason: String? = nil, token: TokenOptions, store: StoreOptions,
    plugins: PluginOptions
) async throws {
    let context = try await EngineContext(store: store, plugins: plugins)
    let final = try await reviewing {
        let reviewer = try await context.desk.authenticate(token: token.required())
        return try await context.desk.decide(task: id, by: reviewer, decision: decision, output: output, reason: reason)
    }
    print(report(final, plan: context.plans.plan(template: final.template, version: final.templateVersion)).prettyJSONString)
}

/// Runs a review action, turning a refusal into a one-line CLI error with its kind.
func reviewing<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ReviewError {
        throw CLIError("\(error.kind.rawValue): \(error.message)")
    }
}

extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

/// `steward reviewers add|list`.
struct ReviewersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reviewers", abstract: "Manage reviewers and their credentials.", subcommands: [Add.self, List.self, Remove.self])

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a reviewer; their token stops working at once (audited).")
        @Argument(help: "Reviewer id (rv-...).") var id: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openStore()
            guard try await store.removeReviewer(id: id, by: "operator", at: SystemEngineClock().nowMilliseconds()) else {
                throw CLIError("no reviewer '\(id)'")
            }
            print("removed \(id)")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a reviewer; prints the bearer token once (it is stored hashed).")
        @Argument(help: "Display name.") var name: String
        @Option(name: .customLong("credential"), help: "A credential held (repeatable), e.g. support-agent.") var credentials: [String] = []
        @Option(help: "reviewer or operator.") var role = "reviewer"
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            guard role == "reviewer" || role == "operator" else { throw CLIError("unknown role '\(role)'; expected reviewer or operator") }
            let store = try await storeOptions.openStore()
            let (reviewer, token) = try await store.addReviewer(name: name, credentials: credentials, role: role, at: SystemEngineClock().nowMilliseconds())
            print("reviewer \(reviewer.id) (\(reviewer.name)) credentials: \(credentials.isEmpty ? "none" : credentials.joined(separator: ", "))")
            print("token: \(token)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List reviewers and their credentials (never tokens).")
        @OptionGroup var storeOptions: StoreOptions
        @Flag(name: .customLong("json"), help: "Print JSON: {\"reviewers\": [{id, name, role, credentials, created_at}]}.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }

        func run() async throws {
            let store = try await storeOptions.openStore()
            let reviewers = try await store.reviewers()
            if json {
                print(JSONValue.object(["reviewers": .array(reviewers.map { reviewer in
                    [
                        "id": .string(reviewer.id), "name": .string(reviewer.name), "role": .string(reviewer.role),
                        "credentials": .array(reviewer.credentials.map { .string($0) }), "created_at": .string(isoTime(reviewer.createdAt)),
                    ]
                })]).prettyJSONString)
                return
            }
            for reviewer in reviewers {
                print("\(reviewer.id)  \(reviewer.name)  \(reviewer.role)  \(reviewer.credentials.joined(separator: ", "))")
            }
        }
    }
}

/// `steward audit verify|head|keygen`.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check the audit trail; sign and check its head.", subcommands: [Verify.self, Head.self, Keygen.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the journal's hash chain, the reviewer and task tables, and that every instance's state replays from its events.",
            discussion: """
                With --expect, also checks the store against a head `steward audit head` signed earlier: the signature must \
                verify with the audit public key, and the store must still hold that head's journal row with its hash.
                """)
        @Option(help: "A signed head (a file, or its JSON) the store must still contain.") var expect: String?
        @OptionGroup var keys: AuditPublicKeyOptions
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws {
            let expected = try expect.map(readHead)
            let publicKey = try expected.map { _ in try keys.resolved() }
            let context = try await EngineContext(store: storeOptions, plugins: plugins)
            let report = try await context.auditor.verify(expecting: expected, publicKey: publicKey)
            for problem in report.problems { printError("audit: \(problem)") }
            let anchored = expected.map { " against the signed head at journal row \($0.head.lastID)" } ?? ""
            print("checked \(report.journalRows) journal rows\(anchored) and replayed \(report.instancesReplayed) instances: \(report.problems.isEmpty ? "intact" : "\(report.problems.count) problem(s)")")
            if !report.problems.isEmpty { throw ValidationFailed(exitCode: 1) }
        }

        func readHead(_ text: String) throws -> SignedAuditHead {
            let json = text.trimmingCharacters(in: .whitespaces).hasPrefix("{") ? text : try Workspace().readText(text)
            do {
                return try SignedAuditHead(json: JSONValue.parse(json))
            } catch {
                throw CLIError("--expect: \(error)")
            }
        }
    }

    struct Head: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the journal's head (last row id and hash, table sizes, time), signed with the audit key, as JSON.",
            discussion: "Keep the output somewhere the database's writers cannot change (a log service, a ticket); pass it to `audit verify --expect` later.")
        @Option(name: .customLong("audit-key"), help: "A file holding the Ed25519 seed (default: $STEWARD_AUDIT_KEY, the seed itself).")
        var keyFile: String?
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let text: String
            if let keyFile {
                text = try Workspace().readText(keyFile)
            } else if let value = ProcessInfo.processInfo.environment["STEWARD_AUDIT_KEY"] {
                text = value
            } else {
                throw CLIError("no audit key: pass --audit-key FILE or set STEWARD_AUDIT_KEY (make one with `steward audit keygen`)")
            }
            let key: AuditSigningKey
            do { key = try AuditSigningKey(seed: text) } catch { throw CLIError("\(error)") }
            let head = try await storeOptions.openStore().journalHead()
            print(try key.sign(head, at: SystemEngineClock().nowMilliseconds()).json.prettyJSONString)
        }
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an audit key pair: writes the private seed (hex) to --out, prints the public key (hex).",
            discussion: "Keep the private key away from the database's host; configure the public key as STEWARD_AUDIT_PUBLIC_KEY.")
        @Option(help: "Where to write the private key (created with mode 0600; an existing file is refused).") var out: String

        func run() async throws {
            guard !FileManager.default.fileExists(atPath: out) else { throw CLIError("\(out) exists; refusing to overwrite an audit key") }
            let key = AuditSigningKey()
            guard FileManager.default.createFile(atPath: out, contents: Data((key.seedHex + "\n").utf8), attributes: [.posixPermissions: 0o600])
            else { throw CLIError("cannot write the audit key to \(out)") }
            print(key.publicKey.hex)
        }
    }
}

/// The public key that checks signed heads: `--audit-public-key` or `STEWARD_AUDIT_PUBLIC_KEY`,
/// each either the key itself (hex or base64) or a file holding it.
struct AuditPublicKeyOptions: ParsableArguments {
    @Option(name: .customLong("audit-public-key"), help: "The audit public key, or a file holding it (default: $STEWARD_AUDIT_PUBLIC_KEY).")
    var publicKey: String?

    func resolved() throws -> AuditPublicKey {
        guard let value = publicKey ?? ProcessInfo.processInfo.environment["STEWARD_AUDIT_PUBLIC_KEY"] else {
            throw CLIError("--expect needs the audit public key: pass --audit-public-key or set STEWARD_AUDIT_PUBLIC_KEY")
        }
        do {
            if let key = try? AuditPublicKey(value) { return key }
            guard FileManager.default.fileExists(atPath: value) else { return try AuditPublicKey(value) }
            return try AuditPublicKey(try Workspace().readText(value))
        } catch let error as AuditKeyError {
            throw CLIError("\(error)")
        }
    }
}

/// "1h 05m left" or "12m overdue" for a wall-clock difference in milliseconds.
func timeLeft(_ milliseconds: Int64) -> String {
    let minutes = abs(milliseconds) / 60_000
    let text = minutes >= 60 ? "\(minutes / 60)h \(String(format: "%02d", minutes % 60))m" : "\(minutes)m"
    return milliseconds >= 0 ? text + " left" : text + " overdue"
}
