import Foundation
import Hummingbird
import StewardEngine
import StewardJSON

/// The eval pages (operators): stored runs with their verdicts and metrics, schedules and
/// release blocks, a form that runs an eval now, and each run's HTML report.
extension StewardServer {
    func addEvalPages(to router: Router<StewardRequestContext>) {
        router.get("/review/evals") { request, _ in try await evalsPage(request) }
        router.post("/review/evals/run") { request, _ in try await evalRunForm(request) }
        router.get("/review/evals/{id}") { request, context in try await evalReportPage(request, id: context.parameters.require("id")) }
    }

    /// The signed-in operator, or a redirect / 403.
    func signedInOperator(_ request: Request) async throws -> (WebSession, Reviewer)? {
        guard let (session, reviewer) = try await signedIn(request) else { return nil }
        guard reviewer.role == "operator" else { throw APIError.forbidden("only operators see eval runs; \(reviewer.id) has role '\(reviewer.role)'") }
        return (session, reviewer)
    }

    func evalsPage(_ request: Request, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let (session, reviewer) = try await signedInOperator(request) else { return Self.redirect("/review/sign-in") }
        var values = chrome("Evals", session: session, reviewer: reviewer)
        let runs = try await store.evalRuns(template: nil, customer: nil, limit: 100)
        values["runs"] = runs.map { run -> [String: Any] in
            [
                "id": run.id, "template": run.template, "version": run.templateVersion, "customer": run.customer ?? "none", "dataset": run.dataset,
                "trigger": run.trigger, "at": isoTime(run.createdAt), "passed": run.passed,
                "metrics": (run.summary["metrics"]?.arrayValue ?? []).map { metric -> [String: Any] in
                    [
                        "name": metric["name"]?.stringValue ?? "?",
                        "value": metric["value"]?.doubleValue.map { String(format: "%.4f", $0) } ?? "-",
                        "failed": metric["passed"]?.boolValue == false && metric["counted"]?.boolValue != false,
                    ]
                },
            ]
        }
        values["hasRuns"] = !runs.isEmpty
        let blocks = try await store.releaseBlocks(template: nil, includeCleared: false)
        values["blocks"] = blocks.map { ["template": $0.template, "version": $0.version, "customer": $0.customer ?? "none", "run": $0.run, "reason": $0.reason] }
        values["hasBlocks"] = !blocks.isEmpty
        values["templates"] = environment.templates
        if let error { values["error"] = error }
        return page("evals", values, status: status)
    }

    /// The run form: `template`, `dataset` (a path inside the workspace, or empty for the
    /// rubric's), `csrf`. Redirects to the new run's report.
    func evalRunForm(_ request: Request) async throws -> Response {
        let fields = try await form(request)
        guard let (session, _) = try await signedInOperator(request) else { return Self.redirect("/review/sign-in") }
        try checkCSRF(fields, session: session)
        guard let hooks = environment.evals else { throw Self.evalsUnavailable }
        let template = (fields["template"] ?? "").split(separator: "@").first.map(String.init) ?? ""
        let dataset = fields["dataset"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            let run = try await hooks.trigger(EvalTrigger(template: template, dataset: dataset, customer: nil, bindings: [:], baseline: "latest"))
            guard let id = run["run"]?.integerValue else { return try await evalsPage(request, error: "the run was not stored", status: .internalServerError) }
            return Self.redirect("/review/evals/\(id)")
        } catch let error as EvalHookError {
            return try await evalsPage(request, error: error.message, status: .unprocessableContent)
        }
    }

    /// A run's self-contained report. Its styles are inline, so this page alone allows inline
    /// styles; it has no script and loads nothing.
    func evalReportPage(_ request: Request, id text: String) async throws -> Response {
        guard (try await signedInOperator(request)) != nil else { return Self.redirect("/review/sign-in") }
        guard let hooks = environment.evals else { throw Self.evalsUnavailable }
        guard let id = Int64(text), let html = try await hooks.report(id) else { throw APIError.notFound("no eval run '\(text)'") }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
                HeaderName.contentTypeOptions: "nosniff", HeaderName.referrerPolicy: "same-origin",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}
