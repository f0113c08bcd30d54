import Hummingbird
import StewardEngine
import StewardJSON
import StewardReview

/// The audit routes under `/v1`: sampled production items, verdicts on them, and the
/// accuracy and agreement figures the verdicts give.
extension StewardServer {
    var audits: AuditDesk { desk.audits }

    func addAuditRoutes(to router: Router<StewardRequestContext>) {
        router.get("/v1/audits") { request, _ in try await listAudits(request) }
        router.get("/v1/audits/{id}") { request, context in try await showAudit(request, id: context.parameters.require("id")) }
        router.post("/v1/audits/{id}/verdict") { request, context in try await giveVerdict(request, id: context.parameters.require("id")) }
        router.get("/v1/templates/{name}/production-accuracy") { request, context in
            try await productionAccuracy(request, template: context.parameters.require("name"))
        }
        router.get("/v1/templates/{name}/agreement") { request, context in
            try await agreement(request, template: context.parameters.require("name"))
        }
    }

    func auditID(_ text: String) throws -> Int64 {
        guard let id = Int64(text), id > 0 else { throw APIError.notFound("no audit item '\(text)'") }
        return id
    }

    /// A review refusal, with `invalid_verdict` for a malformed verdict.
    static func auditError(_ error: ReviewError) -> APIError {
        error.kind == .invalid ? APIError(.unprocessableContent, code: "invalid_verdict", error.message) : .review(error)
    }

    func listAudits(_ request: Request) async throws -> Response {
        let caller = try await caller(request)
        let query = request.uri.queryParameters
        for (name, _) in query where !["template", "customer"].contains(String(name)) {
            throw APIError.badField(String(name), "unknown query parameter '\(name)'; expected template, customer")
        }
        let views = try await audits.audits(for: caller, template: query["template"].map(String.init), customer: query["customer"].map(String.init))
        return JSONResponse.make(["audits": .array(views.map(auditJSON))])
    }

    func showAudit(_ request: Request, id text: String) async throws -> Response {
        let caller = try await caller(request)
        let id = try auditID(text)
        do {
            return JSONResponse.make(auditJSON(try await audits.audit(id: id, for: caller)))
        } catch let error as ReviewError {
            throw Self.auditError(error)
        }
    }

    func giveVerdict(_ request: Request, id text: String) async throws -> Response {
        let caller = try await caller(request)
        let id = try auditID(text)
        let fields = Fields(object: try await request.jsonObject())
        try fields.rejectUnknown(["items"])
        let judgements = try Self.judgements(fields.object["items"])
        do {
            let view = try await audits.giveVerdict(item: id, by: caller, judgements: judgements)
            logger.info("audit verdict", metadata: ["audit": "\(id)", "by": "\(caller.id)", "reviews": "\(view.reviewsGiven)"])
            return JSONResponse.make(auditJSON(view))
        } catch let error as ReviewError {
            throw Self.auditError(error)
        }
    }

    /// `items: [{path, verdict: correct|wrong, value?}]`, each problem naming its field.
    static func judgements(_ value: JSONValue?) throws -> [AuditJudgement] {
        guard let value, !value.isNull else { throw APIError.badField("items", "field 'items' is required") }
        guard let list = value.arrayValue, !list.isEmpty else {
            throw APIError.badField("items", "field 'items' must be a non-empty list of {path, verdict, value?}, found \(value.typeName)")
        }
        return try list.enumerated().map { index, entry in
            let at = "items[\(index)]"
            guard let object = entry.objectValue else { throw APIError.badField(at, "\(at) must be an object, found \(entry.typeName)") }
            if let extra = object.keys.sorted().first(where: { !["path", "verdict", "value"].contains($0) }) {
                throw APIError.badField("\(at).\(extra)", "unknown field '\(extra)' in \(at); expected path, verdict, value")
            }
            guard let path = object["path"]?.stringValue else { throw APIError.badField("\(at).path", "\(at).path must be a string") }
            switch object["verdict"]?.stringValue {
            case "correct":
                if object["value"] != nil {
                    throw APIError.badField("\(at).value", "a 'correct' verdict takes no value; the instance's value stands")
                }
                return AuditJudgement(path: path, correct: true)
            case "wrong":
                return AuditJudgement(path: path, correct: false, correction: object["value"])
            default:
                throw APIError.badField("\(at).verdict", "\(at).verdict must be 'correct' or 'wrong', found \(object["verdict"]?.jsonString ?? "nothing")")
            }
        }
    }

    /// The template `name` (404 when none is loaded), for an operator.
    func reportedTemplate(_ request: Request, _ name: String, for what: String) async throws -> String {
        _ = try await operatorCaller(request, to: "read \(what)")
        guard engine.plans.plan(template: name, version: nil) != nil else {
            throw APIError.notFound("no template '\(name)' is loaded; loaded: \(environment.templates.joined(separator: ", "))")
        }
        return name
    }

    func productionAccuracy(_ request: Request, template name: String) async throws -> Response {
        let template = try await reportedTemplate(request, name, for: "production accuracy")
        let query = request.uri.queryParameters
        for (key, _) in query where key != "customer" {
            throw APIError.badField(String(key), "unknown query parameter '\(key)'; expected customer")
        }
        let report = try await audits.productionAccuracy(template: template, customer: query["customer"].map(String.init))
        return JSONResponse.make(try AuditJSON.encode(report))
    }

    func agreement(_ request: Request, template name: String) async throws -> Response {
        let template = try await reportedTemplate(request, name, for: "reviewer agreement")
        for (key, _) in request.uri.queryParameters {
            throw APIError.badField(String(key), "unknown query parameter '\(key)'; this endpoint takes none")
        }
        return JSONResponse.make(try AuditJSON.encode(try await audits.agreement(template: template)))
    }
}

/// An audit item as the API shows it (schema `AuditItem` in Docs/openapi.yaml).
func auditJSON(_ view: AuditView) -> JSONValue {
    AuditJSON.item(view) { .string(isoTime($0)) }
}
