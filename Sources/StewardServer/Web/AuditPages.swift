import Hummingbird
import StewardEngine
import StewardJSON
import StewardReview

/// The reviewer page's audits: an item's context and a form with one verdict per judged path.
extension StewardServer {
    func addAuditPages(to router: Router<StewardRequestContext>) {
        router.get("/review/audits/{id}") { request, context in
            guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
            return try await renderAudit(try auditID(context.parameters.require("id")), session: session, reviewer: reviewer)
        }
        router.post("/review/audits/{id}/verdict") { request, context in
            try await verdictForm(request, id: context.parameters.require("id"))
        }
    }

    /// A row of the queue for an audit item, marked `audit` or `second review`.
    func auditRow(_ view: AuditView) -> [String: Any] {
        let item = view.item
        return [
            "id": item.id, "template": item.template, "customer": item.customer ?? "none", "state": item.checkpoint,
            "credential": item.credential, "createdAt": isoTime(item.createdAt),
            "kind": view.isSecondReview ? "second review" : "audit",
        ]
    }

    /// The audit page; after a refused verdict, with the error and the reviewer's choices kept.
    func renderAudit(
        _ id: Int64, session: WebSession, reviewer: Reviewer, error: String? = nil, entered: [String: String] = [:],
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let view: AuditView
        do {
            view = try await audits.audit(id: id, for: reviewer)
        } catch let refusal as ReviewError {
            throw Self.auditError(refusal)
        }
        let item = view.item
        var values = chrome("Audit \(item.id)", session: session, reviewer: reviewer)
        values["auditID"] = item.id
        values["instanceID"] = item.instanceID
        values["template"] = item.template
        values["version"] = item.templateVersion
        values["customer"] = item.customer ?? "none"
        values["state"] = item.checkpoint
        values["credential"] = item.credential
        values["createdAt"] = isoTime(item.createdAt)
        values["kind"] = view.isSecondReview ? "second review" : "audit"
        values["reviews"] = "\(view.reviewsGiven) of \(item.neededReviews)"
        values["bindings"] = item.bindings.sorted { $0.key < $1.key }.map { ["role": $0.key, "adapter": $0.value] }
        values["input"] = item.input.prettyJSONString
        values["canReview"] = view.canReview
        values["blind"] = view.reviewsGiven > view.item.verdicts.count
        if let error { values["error"] = error }
        values["items"] = item.items.enumerated().map { index, value -> [String: Any] in
            let choice = entered["verdict-\(index)"]
            return [
                "index": index, "path": value.path, "valueText": value.value.jsonString,
                "isCorrect": choice == "correct", "isWrong": choice == "wrong", "entered": entered["value-\(index)"] ?? "",
            ]
        }
        values["verdicts"] = item.verdicts.map { verdict -> [String: Any] in
            [
                "reviewer": verdict.reviewer, "at": isoTime(verdict.at),
                "judgements": verdict.judgements.map { judgement -> [String: Any] in
                    ["path": judgement.path, "text": judgement.correct ? "correct" : "wrong; should be \(judgement.correction?.jsonString ?? "?")"]
                },
            ]
        }
        values["hasVerdicts"] = !item.verdicts.isEmpty
        return page("audit", values, status: status)
    }

    /// The verdict form: `path-<i>`, `verdict-<i>` (correct or wrong) and `value-<i>` (the
    /// correct value, JSON when it parses, else text) for each judged path.
    func verdictForm(_ request: Request, id text: String) async throws -> Response {
        let fields = try await form(request)
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        try checkCSRF(fields, session: session)
        let id = try auditID(text)
        var judgements: [AuditJudgement] = []
        var index = 0
        while let path = fields["path-\(index)"] {
            switch fields["verdict-\(index)"] {
            case "correct":
                judgements.append(AuditJudgement(path: path, correct: true))
            case "wrong":
                let typed = fields["value-\(index)"] ?? ""
                // An empty field is no value (the desk says so), not the JSON null.
                let correction: JSONValue? = typed.isEmpty ? .none : AuditJSON.value(typed)
                judgements.append(AuditJudgement(path: path, correct: false, correction: correction))
            default:
                return try await renderAudit(
                    id, session: session, reviewer: reviewer, error: "Choose correct or wrong for \(path).", entered: fields, status: .badRequest)
            }
            index += 1
        }
        do {
            _ = try await audits.giveVerdict(item: id, by: reviewer, judgements: judgements)
        } catch let refusal as ReviewError where refusal.kind == .invalid || refusal.kind == .conflict {
            return try await renderAudit(
                id, session: session, reviewer: reviewer, error: refusal.message, entered: fields,
                status: refusal.kind == .invalid ? .unprocessableContent : .conflict)
        } catch let refusal as ReviewError {
            throw Self.auditError(refusal)
        }
        logger.info("audit verdict", metadata: ["audit": "\(id)", "by": "\(reviewer.id)"])
        return Self.redirect("/review?audited=\(id)")
    }
}
