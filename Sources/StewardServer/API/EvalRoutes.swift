import Foundation
import Hummingbird
import StewardEngine
import StewardJSON

/// What the server needs of evaluation, given by whoever assembled it (`steward serve` wires
/// `StewardEval`), so the server module stays free of the plugin host and the eval runner.
public struct EvalHooks: Sendable {
    /// Runs an eval now and returns the stored run's JSON without cases; throws `EvalHookError`
    /// for bad input.
    public var trigger: @Sendable (_ request: EvalTrigger) async throws -> JSONValue
    /// The schedules, last runs and release blocks (`steward eval status --json`).
    public var status: @Sendable () async throws -> JSONValue
    /// A stored run's self-contained HTML report (nil: no such run).
    public var report: @Sendable (_ run: Int64) async throws -> String?

    /// Creates the hooks.
    public init(
        trigger: @escaping @Sendable (EvalTrigger) async throws -> JSONValue, status: @escaping @Sendable () async throws -> JSONValue,
        report: @escaping @Sendable (Int64) async throws -> String?
    ) {
        self.trigger = trigger
        self.status = status
        self.report = report
    }
}

/// An eval run asked for over the API.
public struct EvalTrigger: Sendable {
    /// The template's name.
    public var template: String
    /// The dataset, relative to the workspace (nil: the rubric's).
    public var dataset: String?
    /// The customer.
    public var customer: String?
    /// Role bindings for this run.
    public var bindings: [String: String]
    /// `latest`, a run id, or nil.
    public var baseline: String?
}

/// Bad input to an eval hook; answered 422 with its message.
public struct EvalHookError: Error, Sendable {
    /// What is wrong.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
}

extension StewardServer {
    /// `GET /v1/evals/runs`, `GET /v1/evals/runs/{id}`, `POST /v1/evals/runs`, `GET /v1/evals/status`: operators only.
    func addEvalRoutes(to router: Router<StewardRequestContext>) {
        router.get("/v1/evals/runs") { request, _ in try await listEvalRuns(request) }
        router.post("/v1/evals/runs") { request, _ in try await triggerEvalRun(request) }
        router.get("/v1/evals/runs/{id}") { request, context in try await showEvalRun(request, id: context.parameters.require("id")) }
        router.get("/v1/evals/status") { request, _ in
            _ = try await operatorCaller(request, to: "see eval status")
            guard let hooks = environment.evals else { throw Self.evalsUnavailable }
            return JSONResponse.make(try await hooks.status())
        }
    }

    static var evalsUnavailable: APIError {
        APIError(.serviceUnavailable, code: "evals_unavailable", "this server was started without evaluation")
    }

    func listEvalRuns(_ request: Request) async throws -> Response {
        _ = try await operatorCaller(request, to: "list eval runs")
        let query = request.uri.queryParameters
        for (name, _) in query where !["template", "customer", "limit"].contains(String(name)) {
            throw APIError.badField(String(name), "unknown query parameter '\(name)'; expected template, customer, limit")
        }
        var limit = 50
        if let text = query["limit"].map(String.init) {
            guard let value = Int(text), (1...500).contains(value) else { throw APIError.badField("limit", "limit must be an integer in 1...500") }
            limit = value
        }
        let runs = try await store.evalRuns(
            template: query["template"].map(String.init), customer: query["customer"].map(String.init), limit: limit)
        return JSONResponse.make(["runs": .array(runs.map { run in Self.withID(run.printableSummary, run.id) })])
    }

    func showEvalRun(_ request: Request, id: String) async throws -> Response {
        _ = try await operatorCaller(request, to: "inspect eval runs")
        guard let number = Int64(id), let run = try await store.evalRun(id: number), let body = run.body else {
            throw APIError.notFound("no eval run '\(id)'")
        }
        return JSONResponse.make(Self.withID(body, run.id))
    }

    func triggerEvalRun(_ request: Request) async throws -> Response {
        _ = try await operatorCaller(request, to: "run evals")
        let fields = Fields(object: try await request.jsonObject())
        try fields.rejectUnknown(["template", "dataset", "customer", "bindings", "baseline"])
        var bindings: [String: String] = [:]
        if let value = fields.object["bindings"] {
            guard let members = value.objectValue else { throw APIError.badField("bindings", "bindings must be an object of role -> adapter@version") }
            for (role, binding) in members {
                guard let text = binding.stringValue else { throw APIError.badField("bindings", "the binding of '\(role)' must be a string") }
                bindings[role] = text
            }
        }
        let trigger = EvalTrigger(
            template: try fields.string("template"), dataset: try fields.optionalString("dataset"), customer: try fields.optionalString("customer"),
            bindings: bindings, baseline: try fields.optionalString("baseline"))
        guard let hooks = environment.evals else { throw Self.evalsUnavailable }
        do {
            return JSONResponse.make(try await hooks.trigger(trigger), status: .created)
        } catch let error as EvalHookError {
            throw APIError(.unprocessableContent, code: "invalid_eval", error.message)
        }
    }

    /// A run's JSON with its stored id as `run`.
    public static func withID(_ value: JSONValue, _ id: Int64) -> JSONValue {
        guard case .object(var members) = value else { return value }
        members["run"] = .integer(id)
        return .object(members)
    }
}
