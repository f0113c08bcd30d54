import Foundation
import Hummingbird
import StewardEngine
import StewardJSON

/// The migration page: per migration and customer, the stage ladder, the share on the
/// candidate and the last gate's evidence as small inline SVG charts, and, for a person holding
/// the plan's approver credential, the approval form of a customer waiting at a gate.
extension StewardServer {
    func addMigrationPages(to router: Router<StewardRequestContext>) {
        router.get("/review/migrations") { request, _ in try await migrationsPage(request) }
        router.post("/review/migrations/{id}/approve") { request, context in
            try await migrationApprovalForm(request, name: context.parameters.require("id"))
        }
    }

    func migrationsPage(_ request: Request, notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        guard let hooks = environment.migrations else {
            throw APIError(.serviceUnavailable, code: "migrations_unavailable", "this server was started without migrations")
        }
        let document = try await hooks.status(nil)
        var values = chrome("Migrations", session: session, reviewer: reviewer)
        let migrations = document["migrations"]?.arrayValue ?? []
        values["migrations"] = migrations.map { Self.migrationView($0, reviewer: reviewer) }
        values["hasMigrations"] = !migrations.isEmpty
        if let notice { values["notice"] = notice }
        if let approved = request.uri.queryParameters["approved"].map(String.init) { values["notice"] = "Approved: \(approved) goes on to its next stage." }
        if let error { values["error"] = error }
        return page("migrations", values, status: status)
    }

    /// The values one migration's section renders from (`MigrationController.status` JSON).
    static func migrationView(_ migration: JSONValue, reviewer: Reviewer) -> [String: Any] {
        let stages = (migration["stages"]?.arrayValue ?? []).compactMap(\.stringValue)
        let stageNames = stages.map { String($0.prefix { $0 != " " }) }
        let approver = migration["approver"]?.stringValue ?? "migration-approver"
        let customers = (migration["customers"]?.arrayValue ?? []).map { customer -> [String: Any] in
            let stage = customer["stage"]?.stringValue ?? ""
            let state = customer["state"]?.stringValue ?? ""
            let current = stageNames.firstIndex(of: stage) ?? (stage == "done" ? stageNames.count : 0)
            let spacing = 110
            let ladder = stageNames.enumerated().map { index, name -> [String: Any] in
                let cls = index < current ? "done" : (index == current ? "now \(state)" : "later")
                return ["x": 20 + index * spacing, "name": name, "cls": cls, "hasLine": index > 0, "lineFrom": 20 + (index - 1) * spacing + 9, "lineTo": 20 + index * spacing - 9]
            }
            let share = customer["share"]?.doubleValue ?? 0
            var view: [String: Any] = [
                "customer": customer["customer"]?.stringValue ?? "?", "stage": stage, "state": state, "ladder": ladder,
                "ladderWidth": 40 + max(stageNames.count - 1, 0) * spacing, "sharePercent": String(format: "%.0f", share * 100),
                "shareWidth": Int((share * 200).rounded()), "awaiting": state == "awaiting_approval",
                "canApprove": state == "awaiting_approval" && reviewer.credentials.contains(approver),
            ]
            let evidence = customer["evidence"] ?? .emptyObject
            let metrics = (evidence["metrics"]?.arrayValue ?? []).compactMap { metric -> [String: Any]? in
                guard let name = metric["name"]?.stringValue else { return nil }
                let candidate = metric["candidate"]?.doubleValue
                let currentValue = metric["current"]?.doubleValue
                return [
                    "name": name, "candidate": candidate.map { String(format: "%.4f", $0) } ?? "-",
                    "current": currentValue.map { String(format: "%.4f", $0) } ?? "-",
                    "candidateWidth": Int(((candidate ?? 0) * 160).rounded()), "currentWidth": Int(((currentValue ?? 0) * 160).rounded()),
                    "passed": metric["passed"]?.boolValue ?? false,
                ]
            }
            view["metrics"] = metrics.enumerated().map { index, metric in metric.merging(["y": index * 34]) { a, _ in a } }
            view["metricsHeight"] = metrics.count * 34
            view["hasMetrics"] = !metrics.isEmpty
            if let candidate = evidence["candidate"], candidate["finished"] != nil {
                let finished = candidate["finished"]?.integerValue ?? 0
                let failed = candidate["failed"]?.integerValue ?? 0
                view["canary"] = [
                    "finished": finished, "failed": failed, "currentFinished": evidence["current"]?["finished"]?.integerValue ?? 0,
                    "failedWidth": finished > 0 ? Int((Double(failed) / Double(finished) * 200).rounded()) : 0,
                ]
            }
            // Audited production accuracy per side, and a replay's agreement, as bars of 200.
            if let audited = evidence["production_accuracy"], let candidate = audited["candidate"] {
                func side(_ value: JSONValue?) -> [String: Any] {
                    let accuracy = value?["accuracy"]?.doubleValue
                    return [
                        "audited": value?["audited"]?.integerValue ?? 0, "accuracy": accuracy.map { String(format: "%.3f", $0) } ?? "-",
                        "width": Int(((accuracy ?? 0) * 200).rounded()),
                    ]
                }
                view["audited"] = ["candidate": side(candidate), "current": side(audited["current"])]
            }
            if let replay = evidence["replay"], let agreement = replay["agreement"]?.doubleValue {
                view["replay"] = [
                    "cases": replay["cases"]?.integerValue ?? 0, "agreed": replay["agreed"]?.integerValue ?? 0,
                    "percent": String(format: "%.0f", agreement * 100), "width": Int((agreement * 200).rounded()),
                ]
            }
            if let gate = customer["gate_instance"]?.stringValue { view["gate"] = gate }
            if let note = evidence["note"]?.stringValue { view["note"] = note }
            view["evidenceJSON"] = evidence == .emptyObject ? "" : evidence.prettyJSONString
            return view
        }
        return [
            "name": migration["migration"]?.stringValue ?? "?", "template": migration["template"]?.stringValue ?? "",
            "role": migration["role"]?.stringValue ?? "version", "from": migration["from"]?.stringValue ?? "", "to": migration["to"]?.stringValue ?? "",
            "status": migration["status"]?.stringValue ?? "", "warning": migration["warning"]?.stringValue as Any,
            "hasWarning": migration["warning"] != nil, "customers": customers, "approver": approver,
        ]
    }

    /// The approval form: `customer` and `csrf`.
    func migrationApprovalForm(_ request: Request, name: String) async throws -> Response {
        let fields = try await form(request)
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        try checkCSRF(fields, session: session)
        guard let hooks = environment.migrations else {
            throw APIError(.serviceUnavailable, code: "migrations_unavailable", "this server was started without migrations")
        }
        guard let customer = fields["customer"], !customer.isEmpty else {
            return try await migrationsPage(request, error: "Say which customer to approve.", status: .badRequest)
        }
        do {
            _ = try await hooks.approve(name, customer, reviewer)
        } catch let refusal as MigrationHookRefusal {
            return try await migrationsPage(
                request, error: refusal.message, status: refusal.status == 403 ? .forbidden : (refusal.status == 404 ? .notFound : .unprocessableContent))
        }
        logger.info("migration approved", metadata: ["migration": "\(name)", "customer": "\(customer)", "by": "\(reviewer.id)"])
        return Self.redirect("/review/migrations?approved=\(customer)")
    }
}
