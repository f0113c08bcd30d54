import Foundation
import Hummingbird
import StewardJSON
import StewardReview
import StewardCore
import StewardEngine
import StewardTemplates

/// The reviewer web page: server-rendered HTML and forms that post back; one small script
/// (`/review/assets/desk.js`) adds keyboard shortcuts, and everything works without it.
extension StewardServer {
    func addReviewerPages(to router: Router<StewardRequestContext>) {
        router.get("/") { _, _ in Self.redirect("/review") }
        router.get("/review/assets/style.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=300"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: PageTemplates.styleSheet)))
        }
        router.get("/review/sign-in") { _, _ in
            page("sign-in", ["title": "Sign in"])
        }
        router.post("/review/sign-in") { request, context in try await signIn(request, from: context.clientAddress) }
        router.post("/review/sign-out") { request, _ in try await signOut(request) }
        router.get("/review") { request, _ in try await queuePage(request) }
        router.get("/review/tasks/{id}") { request, context in
            try await taskPage(request, id: context.parameters.require("id"))
        }
        router.post("/review/tasks/{id}/decision") { request, context in
            try await decisionForm(request, id: context.parameters.require("id"))
        }
        router.post("/review/tasks/{id}/claim") { request, context in
            try await claimForm(request, id: context.parameters.require("id"))
        }
        router.post("/review/tasks/{id}/release") { request, context in
            try await releaseForm(request, id: context.parameters.require("id"))
        }
        router.get("/review/assets/desk.js") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=300"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: PageTemplates.shortcuts)))
        }
        addAuditPages(to: router)
        addMigrationPages(to: router)
        addEvalPages(to: router)
    }

    // MARK: Sessions

    static func redirect(_ location: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.location] = location
        fields[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: fields)
    }

    /// The session cookie's value, if the request carries one.
    func sessionID(_ request: Request) -> String? {
        request.cookies[SessionStore.cookieName]?.value
    }

    /// The signed-in reviewer, or nil (the caller redirects to the sign-in form).
    func signedIn(_ request: Request) async throws -> (WebSession, Reviewer)? {
        guard let id = sessionID(request), let session = sessions.session(id: id, now: now) else { return nil }
        guard let reviewer = try await store.reviewer(token: session.token) else {
            sessions.close(id: id)
            return nil
        }
        return (session, reviewer)
    }

    /// The fields of a posted form (415 unless url-encoded, 413 past 1 MiB).
    func form(_ request: Request) async throws -> [String: String] {
        FormData.parse(try await request.readBody(accepting: ["application/x-www-form-urlencoded"]))
    }

    /// Refuses a form whose CSRF token is not the session's.
    func checkCSRF(_ form: [String: String], session: WebSession) throws {
        guard let sent = form["csrf"], SessionStore.constantTimeEquals(sent, session.csrf) else {
            throw APIError(.forbidden, code: "csrf", "this form has expired or did not come from this site; reload the page and try again")
        }
    }

    /// Refuses a form that another site may have sent (login CSRF): 403 with the reason.
    func checkSameOrigin(_ request: Request) throws {
        if let problem = OriginCheck.problem(request) {
            throw APIError(.forbidden, code: "cross_site", "This form was refused: \(problem).")
        }
    }

    /// Called for every failed or throttled sign-in, after it is written to the server's log
    /// (as `sign-in failed`, with the client address, the token's first 8 characters and the
    /// failure count; never the token). The engine side sets it to record failed sign-ins in
    /// the audit journal; nil (the default) only logs. Set it before serving; it is awaited
    /// before the answer is sent, so it should be quick.
    public var onFailedSignIn: (@Sendable (FailedSignIn) async -> Void)? {
        get { sessions.failedSignInHook.withLock { $0 } }
        nonmutating set { sessions.failedSignInHook.withLock { $0 = newValue } }
    }

    /// The sign-in rate limit in force (see `SignInRateLimit` for the defaults). Set it before
    /// serving to tune it; a change applies from the next attempt.
    public var signInRateLimit: SignInRateLimit {
        get { sessions.signIns.policy }
        nonmutating set { sessions.signIns.policy = newValue }
    }

    /// Logs a failed sign-in and hands it to `onFailedSignIn`.
    func reportFailedSignIn(_ failure: FailedSignIn) async {
        logger.warning(
            "sign-in failed",
            metadata: [
                "client": "\(failure.clientAddress)", "token_prefix": "\(failure.tokenPrefix)", "failures": "\(failure.failures)",
                "throttled": "\(failure.throttled)",
            ])
        await onFailedSignIn?(failure)
    }

    /// The sign-in form: same-origin only; a few free failures per client address and token
    /// prefix, then 429 with `Retry-After` (see `SignInThrottle`).
    func signIn(_ request: Request, from address: String) async throws -> Response {
        try checkSameOrigin(request)
        let fields = try await form(request)
        let token = (fields["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            return page("sign-in", ["title": "Sign in", "error": "Enter your reviewer token."], status: .unauthorized)
        }
        let now = self.now
        let attempt = sessions.signIns.begin(address: address, token: token, now: now)
        let failure = FailedSignIn(
            clientAddress: address, tokenPrefix: String(token.prefix(SignInThrottle.loggedPrefixLength)), failures: attempt.failures,
            throttled: attempt.retryAfter != nil, at: now)
        if let wait = attempt.retryAfter {
            await reportFailedSignIn(failure)
            let seconds = (wait + 999) / 1000
            var response = page(
                "sign-in",
                ["title": "Sign in", "error": "Too many failed sign-ins. Wait \(seconds) second\(seconds == 1 ? "" : "s") and try again."],
                status: .tooManyRequests)
            response.headers[.retryAfter] = String(seconds)
            return response
        }
        guard try await store.reviewer(token: token) != nil else {
            await reportFailedSignIn(failure)
            try? await Task.sleep(for: sessions.signIns.policy.failureAnswerDelay)
            return page("sign-in", ["title": "Sign in", "error": "That token is not known. Check it and try again."], status: .unauthorized)
        }
        sessions.signIns.succeeded(address: address, token: token)
        let session = sessions.open(token: token, now: now)
        var response = Self.redirect("/review")
        response.setCookie(
            Cookie(name: SessionStore.cookieName, value: session.id, maxAge: SessionStore.lifetimeSeconds, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    func signOut(_ request: Request) async throws -> Response {
        try checkSameOrigin(request)
        let fields = try await form(request)
        if let (session, _) = try await signedIn(request) {
            try checkCSRF(fields, session: session)
            sessions.close(id: session.id)
        }
        var response = Self.redirect("/review/sign-in")
        response.setCookie(Cookie(name: SessionStore.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    // MARK: Pages

    /// Renders page `name` as an HTML response with protective headers.
    func page(_ name: String, _ values: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let html = pages.render(values, withTemplate: name) ?? "<!doctype html><title>Steward</title><p>Page \(name) is missing.</p>"
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                // Not `no-referrer`: that makes browsers send `Origin: null` with this page's forms,
                // which the sign-in origin check must refuse. Other sites still get no Referer.
                HeaderName.contentTypeOptions: "nosniff", HeaderName.referrerPolicy: "same-origin",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// The values the page header needs.
    func chrome(_ title: String, session: WebSession, reviewer: Reviewer) -> [String: Any] {
        [
            "title": title, "signedIn": true, "csrf": session.csrf, "reviewerName": reviewer.name, "isOperator": reviewer.role == "operator",
            "reviewerCredentials": reviewer.credentials.isEmpty ? "no credentials" : reviewer.credentials.joined(separator: ", "),
        ]
    }

    /// An error as a page with the error's headers (401 sends the browser to the sign-in form instead).
    func problemPage(_ error: APIError, request: Request) -> Response {
        if error.status == .unauthorized { return Self.redirect("/review/sign-in") }
        let heading: String
        switch error.status {
        case .forbidden: heading = "Not allowed"
        case .notFound: heading = "Not found"
        case .conflict: heading = error.code == "claimed" ? "Claimed by someone else" : "Already decided"
        default: heading = "Something went wrong"
        }
        var response = page("problem", ["title": heading, "heading": heading, "message": error.message], status: error.status)
        // `Allow` on a 405, like the API's answer.
        for field in error.headers { response.headers.append(field) }
        return response
    }

    /// The queue: the reviewer's open tasks, filtered by the GET parameters `credential`,
    /// `customer`, `priority` and `template` and paged by `page` (`size` a page, 25 unless
    /// given), with their audit items below.
    func queuePage(_ request: Request) async throws -> Response {
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        let query = request.uri.queryParameters
        func parameter(_ name: String) -> String? {
            query[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        }
        let filter = DeskFilter(
            credential: parameter("credential"), customer: parameter("customer"), priority: parameter("priority"),
            template: parameter("template"), page: parameter("page").flatMap(Int.init) ?? 1,
            pageSize: parameter("size").flatMap(Int.init) ?? 25)
        let desk: DeskPage
        do {
            desk = try await self.desk.desk(for: reviewer, filter: filter)
        } catch let error as ReviewError {
            throw APIError.review(error)
        }
        let now = self.now
        var values = chrome("Review queue", session: session, reviewer: reviewer)
        values["tasks"] = desk.entries.map { entry in queueRow(entry, reviewer: reviewer, now: now, csrf: session.csrf) }
        values["hasTasks"] = !desk.entries.isEmpty
        values["total"] = desk.total
        values["taskWord"] = desk.total == 1 ? "task" : "tasks"
        values["matchWord"] = desk.total == 1 ? "matches" : "match"
        values["filtered"] = [desk.filter.credential, desk.filter.customer, desk.filter.priority, desk.filter.template].contains { $0 != nil }
        func options(_ all: [String], _ selected: String?) -> [[String: Any]] {
            all.map { ["value": $0, "selected": $0 == selected] }
        }
        values["credentialOptions"] = options(desk.credentials, desk.filter.credential)
        values["customerOptions"] = options(desk.customers, desk.filter.customer)
        values["priorityOptions"] = options(desk.priorities, desk.filter.priority)
        values["templateOptions"] = options(desk.templates, desk.filter.template)
        values["page"] = desk.filter.page
        values["pageCount"] = desk.pageCount
        values["paged"] = desk.pageCount > 1
        let kept = [
            ("credential", desk.filter.credential), ("customer", desk.filter.customer), ("priority", desk.filter.priority),
            ("template", desk.filter.template),
            ("size", parameter("size").flatMap(Int.init).map { _ in String(desk.filter.pageSize) }),
        ].compactMap { name, value in value.map { "\(name)=\(Self.queryEscape($0))" } }
        func pageLink(_ page: Int) -> String { "/review?" + (kept + ["page=\(page)"]).joined(separator: "&") }
        if desk.filter.page > 1 { values["previousPage"] = pageLink(desk.filter.page - 1) }
        if desk.filter.page < desk.pageCount { values["nextPage"] = pageLink(desk.filter.page + 1) }
        // "Next": the first task on this page nobody else holds.
        if let next = desk.entries.first(where: { $0.claim == nil || $0.claim?.reviewer == reviewer.id }) {
            values["nextTask"] = "/review/tasks/\(next.task.id)"
        }
        let audits = try await self.audits.audits(for: reviewer)
        values["audits"] = audits.map(auditRow)
        values["hasAudits"] = !audits.isEmpty
        values["auditCount"] = audits.count
        values["auditWord"] = audits.count == 1 ? "item" : "items"
        values["empty"] = desk.total == 0 && audits.isEmpty
        if let audited = parameter("audited").flatMap(Int64.init) {
            values["notice"] = "Audit \(audited): your verdict is recorded."
        }
        if let decided = parameter("decided").flatMap(Int64.init), let verb = parameter("as"), let decision = Decision(rawValue: verb) {
            let past = ["approve": "approved", "edit": "edited and approved", "reject": "rejected"][decision.rawValue] ?? verb
            values["notice"] = "Task \(decided) \(past)."
        }
        if let released = parameter("released").flatMap(Int64.init) {
            values["notice"] = "Task \(released) released: others may take it now."
        }
        return page("queue", values)
    }

    /// One queue row's values.
    func queueRow(_ entry: DeskEntry, reviewer: Reviewer, now: Int64, csrf: String) -> [String: Any] {
        let task = entry.task
        var row: [String: Any] = [
            "id": task.id, "summary": entry.summary, "template": task.template, "state": task.state, "credential": task.credential,
            "customer": task.customer ?? "no customer", "timeLeft": timeLeft(task.dueAt, now: now), "sla": entry.sla.rawValue,
            "slaText": Self.slaText(entry.sla), "csrf": csrf,
        ]
        if let priority = entry.priority {
            row["priority"] = priority
            row["priorityClass"] = Self.priorityClass(priority)
        }
        if let name = entry.customerName { row["customerName"] = name }
        if let due = task.dueAt {
            row["dueAt"] = isoTime(due)
            row["dueLocal"] = LocalTimeText.format(due, in: entry.timeZone)
        }
        if let claim = entry.claim {
            let mine = claim.reviewer == reviewer.id
            row["claimed"] = true
            row["claimedByMe"] = mine
            row["claimText"] = mine
                ? "Claimed by you until \(LocalTimeText.format(claim.until, in: entry.timeZone))"
                : "Claimed by \(entry.claimedBy ?? claim.reviewer) until \(LocalTimeText.format(claim.until, in: entry.timeZone))"
        } else {
            row["claimable"] = reviewer.credential(for: task) != nil
        }
        return row
    }

    /// "ok", "warning: close to the deadline", ...
    static func slaText(_ state: SLAState) -> String {
        switch state {
        case .ok: return "ok"
        case .warning: return "warning"
        case .breached: return "breached"
        case .none: return "no SLA"
        }
    }

    /// The style class of a priority badge: `p1`...`p4`, `pother` for anything else.
    static func priorityClass(_ priority: String) -> String {
        ["P1": "p1", "P2": "p2", "P3": "p3", "P4": "p4"][priority.uppercased()] ?? "pother"
    }

    /// Percent-encodes a query parameter value.
    static func queryEscape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    func taskPage(_ request: Request, id text: String) async throws -> Response {
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        let id = try taskID(text)
        let query = request.uri.queryParameters
        var notice: String?
        if query["claimed"] != nil { notice = "You hold this task now; others see it as claimed by you." }
        return try await renderTask(id, session: session, reviewer: reviewer, notice: notice)
    }

    /// The task page; after a refused decision, with each error shown beside the field or form
    /// that caused it and the reviewer's input kept.
    func renderTask(
        _ id: Int64, session: WebSession, reviewer: Reviewer, errors: [String: String] = [:], fieldErrors: [String: String] = [:],
        posted: [String: String] = [:], editText: String? = nil, reasonText: String? = nil, notice: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let context: ReviewContext
        do {
            context = try await desk.context(task: id, for: reviewer)
        } catch let error as ReviewError {
            throw APIError.review(error)
        }
        let task = context.task
        let now = self.now
        let zone = desk.timeZone(customer: task.customer)
        let names = try await desk.reviewerNames()
        let summary = TaskFacts.summary(input: context.input) ?? "\(task.template) at \(task.state)"
        var values = chrome("Task \(task.id): \(summary)", session: session, reviewer: reviewer)
        values["taskID"] = task.id
        values["summary"] = summary
        values["instanceID"] = task.instanceID
        values["template"] = task.template
        values["customer"] = task.customer ?? "no customer"
        if let name = TaskFacts.customerName(input: context.input) { values["customerName"] = name }
        values["state"] = task.state
        values["credential"] = task.credential
        values["openedLocal"] = LocalTimeText.format(task.openedAt, in: zone)
        values["openedAt"] = isoTime(task.openedAt)
        values["timeZone"] = LocalTimeText.name(zone)
        values["timeLeft"] = task.status == "open" ? timeLeft(task.dueAt, now: now) : "decided"
        if let due = task.dueAt {
            values["dueAt"] = isoTime(due)
            values["dueLocal"] = LocalTimeText.format(due, in: zone)
        }
        let state = try await engine.currentState(id: task.instanceID)
        let plan = state.flatMap { engine.plans.plan(template: $0.template, version: $0.templateVersion) }
        if let priority = TaskFacts.priority(data: state?.data ?? .null, plan: plan) {
            values["priority"] = priority
            values["priorityClass"] = Self.priorityClass(priority)
        }
        let sla = task.status == "open" ? SLAState.of(task, pending: try await store.pendingTimers(of: task.instanceID), now: now) : .none
        values["sla"] = sla.rawValue
        values["slaText"] = Self.slaText(sla)
        values["status"] = task.status
        values["open"] = task.status == "open"
        if task.status != "open" {
            let who = task.reviewer.map { names[$0] ?? $0 } ?? "?"
            values["decidedText"] = "Decided: \(task.decision ?? "?") by \(who)\(task.decidedAt.map { " at \(LocalTimeText.format($0, in: zone))" } ?? "")."
        }
        // The claim: who holds the task, and whether this reviewer may decide it now.
        var blocked = false
        if task.status == "open" {
            if let claim = try await desk.holdingClaims(tasks: [task.id])[task.id] {
                let until = LocalTimeText.format(claim.until, in: zone)
                if claim.reviewer == reviewer.id {
                    values["claimedByMe"] = true
                    values["claimText"] = "You hold this task until \(until)."
                } else {
                    blocked = true
                    values["claimedByOther"] = true
                    values["claimText"] = "Claimed by \(names[claim.reviewer] ?? claim.reviewer) until \(until). You can decide it once the claim lapses or is released."
                }
            } else if reviewer.credential(for: task) != nil {
                values["claimable"] = true
            }
        }
        values["canDecide"] = task.status == "open" && !blocked
        if let openedBecause = context.openedBecause { values["openedBecause"] = openedBecause }
        if let notice { values["notice"] = notice }
        values["canApprove"] = task.decisions.contains(.approve)
        values["canEdit"] = task.decisions.contains(.edit)
        values["canReject"] = task.decisions.contains(.reject)

        // What is under review, for people, and its edit form from the output contract.
        values["subjectPath"] = plan.flatMap { plan -> String? in
            if case .checkpoint(let checkpoint) = plan.state(task.state)?.kind { return checkpoint.subject }
            return nil
        } ?? "output"
        values["reviewed"] = OutputView.render(task.subject)
        let form = OutputForm(original: task.subject)
        values["fields"] = form.fields.enumerated().map { index, field -> [String: Any] in
            // Every key the template asks for is set, so Mustache never finds a page-level one instead.
            var item: [String: Any] = [
                "id": "field-\(index)", "name": field.name, "label": field.label, "isText": false, "isChoice": false, "isNumber": false,
                "isJSON": false, "error": false,
            ]
            let value = posted[field.name] ?? field.value
            switch field.control {
            case .text(let rows):
                item["isText"] = true
                item["rows"] = rows
                item["value"] = value
            case .choice(let options):
                item["isChoice"] = true
                item["options"] = options.map { ["value": $0, "label": $0, "selected": $0 == value] }
            case .number(let integer):
                item["isNumber"] = true
                item["step"] = integer ? "1" : "any"
                item["value"] = value
            case .boolean:
                item["isChoice"] = true
                item["options"] = [["value": "true", "label": "yes", "selected": value == "true"], ["value": "false", "label": "no", "selected": value == "false"]]
            case .json(let rows):
                item["isText"] = true
                item["isJSON"] = true
                item["rows"] = rows
                item["value"] = value
            }
            if let message = fieldErrors[field.name] { item["error"] = message }
            return item
        }
        values["editText"] = editText ?? task.subject.prettyJSONString
        values["rawOpen"] = editText != nil

        // The context a reviewer decides with.
        values["ticketSubject"] = context.input["subject"]?.stringValue ?? context.input["title"]?.stringValue ?? ""
        values["ticketBody"] = ["body", "text", "message"].lazy.compactMap { context.input[$0]?.stringValue }.first ?? ""
        values["hasTicket"] = !(values["ticketSubject"] as? String ?? "").isEmpty || !(values["ticketBody"] as? String ?? "").isEmpty
        if let channel = context.input["channel"]?.stringValue { values["channel"] = channel }
        values["input"] = context.input.prettyJSONString
        values["outputs"] = context.outputs.sorted { $0.key < $1.key }.map { name, value -> [String: Any] in
            var output: [String: Any] = ["name": name, "json": value.prettyJSONString]
            if let confidence = value["confidence"]?.doubleValue { output["confidence"] = String(format: "%.2f", confidence) }
            return output
        }
        let accounts = accountPanels(context.outputs)
        values["accounts"] = accounts
        values["hasAccount"] = !accounts.isEmpty
        let articles = suggestedArticles(context.outputs)
        values["articles"] = articles
        values["hasArticles"] = !articles.isEmpty
        if let aop = context.aop {
            values["aop"] = ["domain": aop.domain, "may": aop.may, "mayNot": aop.mayNot, "escalationTarget": aop.escalationTarget] as [String: Any]
        }
        values["history"] = context.history.map { entry -> [String: Any] in
            var item: [String: Any] = [
                "at": isoTime(entry.at), "local": LocalTimeText.format(entry.at, in: zone), "what": historyTitle(entry.kind),
                "actor": names[entry.actor] ?? entry.actor,
            ]
            let detail = historyDetail(entry, names: names)
            if !detail.isEmpty { item["detail"] = detail }
            return item
        }
        // "Next": the next task in this reviewer's queue that nobody else holds.
        if let next = try await desk.nextTask(after: task.id, for: reviewer) { values["nextTask"] = "/review/tasks/\(next.id)" }
        if let reasonText { values["reasonText"] = reasonText }
        for (key, message) in errors { values[key] = message }
        values["hasFieldErrors"] = !fieldErrors.isEmpty
        return page("task", values, status: status)
    }

    /// A JSON value as a short text: strings as they are, numbers plainly, objects as `key: value` pairs.
    static func plainText(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .object(let members): return members.sorted { $0.key < $1.key }.map { "\($0.key.replacingOccurrences(of: "_", with: " ")): \(plainText($0.value))" }.joined(separator: ", ")
        case .array(let items): return items.map(plainText).joined(separator: ", ")
        case .null: return "none"
        default: return value.jsonString
        }
    }

    func decisionForm(_ request: Request, id text: String) async throws -> Response {
        let fields = try await form(request)
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        try checkCSRF(fields, session: session)
        let id = try taskID(text)
        guard let decision = fields["decision"].flatMap(Decision.init(rawValue:)) else {
            return try await renderTask(id, session: session, reviewer: reviewer, errors: ["error": "Choose approve, edit or reject."], status: .badRequest)
        }
        let editText = fields["output"]
        let reasonText = fields["reason"]
        let posted = fields.filter { $0.key == "field" || $0.key.hasPrefix("field.") }
        // Where an error shows: beside the form that was sent.
        let errorKey = decision == .edit ? (editText != nil ? "rawError" : "editError") : (decision == .reject ? "rejectError" : "error")
        var output: JSONValue?
        if decision == .edit {
            if let editText {
                // The raw JSON editor.
                do {
                    output = try JSONValue.parse(editText)
                } catch {
                    return try await renderTask(
                        id, session: session, reviewer: reviewer, errors: [errorKey: "The edited output is not valid JSON: \(error)"],
                        editText: editText, reasonText: reasonText, status: .unprocessableContent)
                }
            } else {
                guard let task = try await store.task(id: id) else { throw APIError.notFound("no review task \(id)") }
                switch OutputForm.parse(posted, original: task.subject) {
                case .success(let value):
                    output = value
                case .failure(let problems):
                    return try await renderTask(
                        id, session: session, reviewer: reviewer, errors: [errorKey: "Correct the marked fields and save again."],
                        fieldErrors: problems.messages, posted: posted, reasonText: reasonText, status: .unprocessableContent)
                }
            }
        }
        do {
            _ = try await decide(task: id, by: reviewer, decision: decision, output: output, reason: decision == .reject ? reasonText : nil)
        } catch let error as APIError where error.status == .unprocessableContent || error.status == .conflict {
            return try await renderTask(
                id, session: session, reviewer: reviewer, errors: [errorKey: error.message], posted: posted, editText: editText,
                reasonText: reasonText, status: error.status)
        }
        return Self.redirect("/review?decided=\(id)&as=\(decision.rawValue)")
    }

    /// The claim form: claims the task (or renews the claim) and shows it; someone else's
    /// claim shows as a 409 page naming them.
    func claimForm(_ request: Request, id text: String) async throws -> Response {
        let fields = try await form(request)
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        try checkCSRF(fields, session: session)
        let id = try taskID(text)
        do {
            try await desk.claim(task: id, by: reviewer)
        } catch let error as ReviewError {
            throw APIError.review(error)
        }
        return Self.redirect("/review/tasks/\(id)?claimed=1")
    }

    /// The release form: gives the task back to the queue.
    func releaseForm(_ request: Request, id text: String) async throws -> Response {
        let fields = try await form(request)
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        try checkCSRF(fields, session: session)
        let id = try taskID(text)
        do {
            try await desk.release(task: id, by: reviewer)
        } catch let error as ReviewError {
            throw APIError.review(error)
        }
        return Self.redirect("/review?released=\(id)")
    }
}

/// Account panels from context-step outputs: any output object (or its `account` member) with
/// a `tier`, `health` or `recent_tickets` member, shown as it is: a part the output lacks is
/// left out, never made up.
func accountPanels(_ outputs: [String: JSONValue]) -> [[String: Any]] {
    outputs.sorted { $0.key < $1.key }.compactMap { name, value -> [String: Any]? in
        let account = value["account"]?.objectValue != nil ? value["account"]! : value
        guard account["tier"] != nil || account["health"] != nil || account["recent_tickets"] != nil else { return nil }
        var panel: [String: Any] = ["title": name.replacingOccurrences(of: "_", with: " ")]
        if let tier = account["tier"].map(StewardServer.plainText) { panel["tier"] = tier }
        if let health = account["health"].map(StewardServer.plainText) { panel["health"] = health }
        if let recent = account["recent_tickets"]?.arrayValue {
            panel["recent"] = recent.prefix(10).map { ticket -> [String: Any] in
                var line = ticket["subject"]?.stringValue ?? ticket["title"]?.stringValue ?? StewardServer.plainText(ticket)
                if let status = ticket["status"]?.stringValue { line += " (\(status))" }
                return ["text": line]
            }
            panel["hasRecent"] = !recent.isEmpty
        }
        return panel
    }
}

/// "2h 05m left", "overdue by 12m", or "no deadline".
func timeLeft(_ dueAt: Int64?, now: Int64) -> String {
    guard let dueAt else { return "no deadline" }
    let text = minutesText(Int((abs(dueAt - now) + 59_999) / 60_000))
    return dueAt >= now ? "\(text) left" : "overdue by \(text)"
}

/// A span of whole minutes as the pages write it: "12m", "3h 05m", "2d 4h" (from 48 hours).
func minutesText(_ minutes: Int) -> String {
    if minutes >= 48 * 60 { return "\(minutes / (24 * 60))d \((minutes % (24 * 60)) / 60)h" }
    if minutes >= 60 { return "\(minutes / 60)h \(String(format: "%02d", minutes % 60))m" }
    return "\(minutes)m"
}

/// Knowledge-base suggestions found in the step outputs: any `articles` (or `suggestions`)
/// array of objects with a `title`, also as the `results` of such an output (what the `kb`
/// plugin's `search` returns). Only http(s) links are made clickable.
func suggestedArticles(_ outputs: [String: JSONValue]) -> [[String: Any]] {
    var found: [[String: Any]] = []
    func collect(_ value: JSONValue) {
        for item in value.arrayValue ?? [] {
            guard let title = item["title"]?.stringValue ?? item["id"]?.stringValue else { continue }
            var article: [String: Any] = ["title": title]
            if let url = item["url"]?.stringValue, url.hasPrefix("https://") || url.hasPrefix("http://") { article["url"] = url }
            if let score = item["score"]?.doubleValue { article["score"] = String(format: "%.2f", score) }
            found.append(article)
        }
    }
    for (name, value) in outputs.sorted(by: { $0.key < $1.key }) {
        if name == "articles" || name == "suggestions" {
            collect(value)
            if let results = value["results"] { collect(results) }
        }
        for key in ["articles", "suggestions"] { if let list = value[key] { collect(list) } }
    }
    return Array(found.prefix(10))
}

/// One short line about a journal entry for the history list; reviewer ids in it read as
/// their names from `names`.
func historyDetail(_ entry: JournalEntry, names: [String: String] = [:]) -> String {
    let payload = entry.payload
    switch entry.kind {
    case "step_succeeded", "step_failed":
        return "\(payload["state"]?.stringValue ?? "?") attempt \(payload["attempt"]?.integerValue ?? 1)"
            + (payload["message"]?.stringValue.map { ": \($0)" } ?? "")
    case "checkpoint_decided":
        return "\(payload["decision"]?.stringValue ?? "?") at \(payload["state"]?.stringValue ?? "?")"
            + (payload["reason"]?.stringValue.map { " (\($0))" } ?? "")
    case "task_claimed":
        return payload["until"]?.integerValue.map { "until \(isoTime($0))" } ?? ""
    default:
        return ""
    }
}

/// A journal entry's kind as people say it: `step_succeeded` -> "Step succeeded".
func historyTitle(_ kind: String) -> String {
    let known = [
        "started": "Started", "step_succeeded": "Step done", "step_failed": "Step failed", "checkpoint_decided": "Review decided",
        "timer_fired": "Timer fired", "moved": "Moved", "cancelled": "Cancelled", "retried": "Retried", "event_received": "Event received",
        "branch_finished": "Branch finished", "task_claimed": "Claimed", "task_released": "Released", "decision_refused": "Decision refused",
    ]
    if let text = known[kind] { return text }
    let words = kind.replacingOccurrences(of: "_", with: " ")
    return words.prefix(1).uppercased() + words.dropFirst()
}
