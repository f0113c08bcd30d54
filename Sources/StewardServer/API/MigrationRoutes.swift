import Foundation
import Hummingbird
import StewardEngine
import StewardJSON

/// What the server needs of migrations, given by `steward serve` (which wires
/// `StewardMigration`), so the server module stays free of the eval runner and the plugin host.
public struct MigrationHooks: Sendable {
    /// Status of every migration (nil) or one; throws `MigrationHookRefusal`.
    public var status: @Sendable (_ name: String?) async throws -> JSONValue
    /// Starts the plan at a path inside the workspace, by `actor`.
    public var start: @Sendable (_ file: String, _ actor: String) async throws -> JSONValue
    /// Evaluates gates and moves customers on (one customer, or all).
    public var advance: @Sendable (_ name: String, _ customer: String?, _ actor: String) async throws -> JSONValue
    /// Approves a waiting customer as `reviewer` (the plan's approver credential is checked).
    public var approve: @Sendable (_ name: String, _ customer: String, _ reviewer: Reviewer) async throws -> JSONValue
    /// Rolls back one customer or all; with `moveWaiting`, instances waiting on the candidate go back now.
    public var rollback: @Sendable (_ name: String, _ customer: String?, _ moveWaiting: Bool, _ actor: String) async throws -> JSONValue
    /// Moves waiting instances to the candidate (or, with `dryRun`, reports what would move).
    public var move: @Sendable (_ name: String, _ customer: String?, _ dryRun: Bool, _ actor: String) async throws -> JSONValue
    /// Pauses (true) or resumes (false).
    public var pause: @Sendable (_ name: String, _ paused: Bool, _ actor: String) async throws -> JSONValue

    /// Creates the hooks.
    public init(
        status: @escaping @Sendable (String?) async throws -> JSONValue, start: @escaping @Sendable (String, String) async throws -> JSONValue,
        advance: @escaping @Sendable (String, String?, String) async throws -> JSONValue,
        approve: @escaping @Sendable (String, String, Reviewer) async throws -> JSONValue,
        rollback: @escaping @Sendable (String, String?, Bool, String) async throws -> JSONValue,
        move: @escaping @Sendable (String, String?, Bool, String) async throws -> JSONValue,
        pause: @escaping @Sendable (String, Bool, String) async throws -> JSONValue
    ) {
        self.status = status
        self.start = start
        self.advance = advance
        self.approve = approve
        self.rollback = rollback
        self.move = move
        self.pause = pause
    }
}

/// A migration command refused: answered 422 (bad plan or state), 404 (no such migration) or
/// 403 (an approver without the credential) with its message.
public struct MigrationHookRefusal: Error, Sendable {
    /// 403, 404 or 422.
    public let status: Int
    /// What is wrong.
    public let message: String
    /// Creates a refusal.
    public init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
}

extension StewardServer {
    /// `/v1/migrations...`: status, start, advance, approve, rollback, move, pause, resume.
    func addMigrationRoutes(to router: Router<StewardRequestContext>) {
        router.get("/v1/migrations") { request, _ in
            _ = try await operatorCaller(request, to: "see migrations")
            return try await migrationCall { try await $0.status(nil) }
        }
        router.post("/v1/migrations") { request, _ in
            let caller = try await operatorCaller(request, to: "start migrations")
            let fields = Fields(object: try await request.jsonObject())
            try fields.rejectUnknown(["file"])
            let file = try fields.string("file")
            return try await migrationCall(status: .created) { try await $0.start(file, caller.id) }
        }
        router.get("/v1/migrations/{id}") { request, context in
            _ = try await operatorCaller(request, to: "see migrations")
            let name = try context.parameters.require("id")
            return try await migrationCall { try await $0.status(name) }
        }
        for action in ["advance", "rollback", "move", "pause", "resume"] {
            router.post("/v1/migrations/{id}/\(action)") { request, context in
                let caller = try await operatorCaller(request, to: "\(action) migrations")
                let name = try context.parameters.require("id")
                let fields = Fields(object: try await request.jsonObject())
                switch action {
                case "advance": try fields.rejectUnknown(["customer"])
                case "rollback": try fields.rejectUnknown(["customer", "move_waiting"])
                case "move": try fields.rejectUnknown(["customer", "dry_run"])
                default: try fields.rejectUnknown([])
                }
                let customer = try fields.optionalString("customer")
                let moveWaiting = try fields.optionalBool("move_waiting") ?? false
                let dryRun = try fields.optionalBool("dry_run") ?? false
                return try await migrationCall { hooks in
                    switch action {
                    case "advance": return try await hooks.advance(name, customer, caller.id)
                    case "rollback": return try await hooks.rollback(name, customer, moveWaiting, caller.id)
                    case "move": return try await hooks.move(name, customer, dryRun, caller.id)
                    default: return try await hooks.pause(name, action == "pause", caller.id)
                    }
                }
            }
        }
        router.post("/v1/migrations/{id}/approve") { request, context in
            // Any reviewer may call; the plan's approver credential is checked by the hook.
            let reviewer = try await caller(request)
            let name = try context.parameters.require("id")
            let fields = Fields(object: try await request.jsonObject())
            try fields.rejectUnknown(["customer"])
            let customer = try fields.string("customer")
            return try await migrationCall { try await $0.approve(name, customer, reviewer) }
        }
    }

    /// Runs a hook, mapping refusals onto API errors.
    func migrationCall(status: HTTPResponse.Status = .ok, _ body: (MigrationHooks) async throws -> JSONValue) async throws -> Response {
        guard let hooks = environment.migrations else {
            throw APIError(.serviceUnavailable, code: "migrations_unavailable", "this server was started without migrations")
        }
        do {
            return JSONResponse.make(try await body(hooks), status: status)
        } catch let refusal as MigrationHookRefusal {
            switch refusal.status {
            case 403: throw APIError.forbidden(refusal.message)
            case 404: throw APIError.notFound(refusal.message)
            default: throw APIError(.unprocessableContent, code: "invalid_migration", refusal.message)
            }
        }
    }
}
