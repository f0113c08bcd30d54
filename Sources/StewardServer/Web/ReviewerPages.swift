import Foundation
import Hummingbird
import StewardJSON
import StewardReview
import StewardCore
import StewardEngine
import StewardTemplates

/// The reviewer web page: server-rendered HTML, forms that post back, no JavaScript.
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
                .contentSecurityPolicy: "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
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
        case .conflict: heading = "Already decided"
        default: heading = "Something went wrong"
        }
        var response = page("problem", ["title": heading, "heading": heading, "message": error.message], status: error.status)
        // `Allow` on a 405, like the API's answer.
        for field in error.headers { response.headers.append(field) }
        return response
    }

    func queuePage(_ request: Request) async throws -> Response {
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        let tasks = reviewer.role == "operator" ? try await store.openTasks(credentials: nil, limit: 200) : try await desk.queue(for: reviewer)
        let now = self.now
        var values = chrome("Review queue", session: session, reviewer: reviewer)
        values["tasks"] = tasks.map { task -> [String: Any] in
            var row: [String: Any] = [
                "id": task.id, "template": task.template, "customer": task.customer ?? "none", "state": task.state,
                "credential": task.credential, "openedAt": isoTime(task.openedAt), "timeLeft": timeLeft(task.dueAt, now: now),
                "overdue": (task.dueAt ?? Int64.max) < now,
            ]
            if let due = task.dueAt { row["dueAt"] = isoTime(due) }
            return row
        }
        let audits = try await self.audits.audits(for: reviewer)
        values["audits"] = audits.map(auditRow)
        let count = tasks.count + audits.count
        values["count"] = count
        values["taskWord"] = count == 1 ? "task" : "tasks"
        values["hasTasks"] = count > 0
        let query = request.uri.queryParameters
        if let audited = query["audited"].flatMap({ Int64(String($0)) }) {
            values["notice"] = "Audit \(audited): your verdict is recorded."
        }
        if let decided = query["decided"].flatMap({ Int64(String($0)) }), let verb = query["as"].map(String.init),
            let decision = Decision(rawValue: verb)
        {
            let past = ["approve": "approved", "edit": "edited and approved", "reject": "rejected"][decision.rawValue] ?? verb
            values["notice"] = "Task \(decided) \(past)."
        }
        return page("queue", values)
    }

    func taskPage(_ request: Request, id text: String) async throws -> Response {
        guard let (session, reviewer) = try await signedIn(request) else { return Self.redirect("/review/sign-in") }
        let id = try taskID(text)
        return try await renderTask(id, session: session, reviewer: reviewer)
    }

    /// The task page; after a refused decision, with the error shown beside the form that
    /// caused it and the reviewer's text kept.
    func renderTask(
        _ id: Int64, session: WebSession, reviewer: Reviewer, errors: [String: String] = [:], editText: String? = nil,
        reasonText: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let context: ReviewContext
        do {
            context = try await desk.context(task: id, for: reviewer)
        } catch let error as ReviewError {
            throw APIError.review(error)
        }
        let task = context.task
        let now = self.now
        var values = chrome("Task \(task.id)", session: session, reviewer: reviewer)
        values["taskID"] = task.id
        values["instanceID"] = task.instanceID
        values["template"] = task.template
        values["customer"] = task.customer ?? "none"
        values["state"] = task.state
        values["credential"] = task.credential
        values["openedAt"] = isoTime(task.openedAt)
        values["timeLeft"] = task.status == "open" ? timeLeft(task.dueAt, now: now) : "decided"
        values["overdue"] = task.status == "open" && (task.dueAt ?? Int64.max) < now
        values["status"] = task.status
        values["open"] = task.status == "open"
        if task.status != "open" {
            values["decidedText"] = "Decided: \(task.decision ?? "?") by \(task.reviewer ?? "?")\(task.decidedAt.map { " at \(isoTime($0))" } ?? "")."
        }
        if let openedBecause = context.openedBecause { values["openedBecause"] = openedBecause }
        values["canApprove"] = task.decisions.contains(.approve)
        values["canEdit"] = task.decisions.contains(.edit)
        values["canReject"] = task.decisions.contains(.reject)
        values["input"] = context.input.prettyJSONString
        values["outputs"] = context.outputs.sorted { $0.key < $1.key }.map { name, value -> [String: Any] in
            var output: [String: Any] = ["name": name, "json": value.prettyJSONString]
            if let confidence = value["confidence"]?.doubleValue { output["confidence"] = String(format: "%.2f", confidence) }
            return output
        }
        let articles = suggestedArticles(context.outputs)
        values["articles"] = articles
        values["hasArticles"] = !articles.isEmpty
        if let aop = context.aop {
            values["aop"] = ["domain": aop.domain, "may": aop.may, "mayNot": aop.mayNot, "escalationTarget": aop.escalationTarget] as [String: Any]
        }
        values["history"] = context.history.map { entry -> [String: Any] in
            var item: [String: Any] = ["at": isoTime(entry.at), "kind": entry.kind, "actor": entry.actor]
            let detail = historyDetail(entry)
            if !detail.isEmpty { item["detail"] = detail }
            return item
        }
        values["editText"] = editText ?? task.subject.prettyJSONString
        if let reasonText { values["reasonText"] = reasonText }
        for (key, message) in errors { values[key] = message }
        return page("task", values, status: status)
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
        // Where an error shows: beside the form that was sent.
        let errorKey = ["approve": "error", "edit": "editError", "reject": "rejectError"][decision.rawValue] ?? "error"
        var output: JSONValue?
        if decision == .edit {
            do {
                output = try JSONValue.parse(editText ?? "")
            } catch {
                return try await renderTask(
                    id, session: session, reviewer: reviewer, errors: [errorKey: "The edited output is not valid JSON: \(error)"],
                    editText: editText, reasonText: reasonText, status: .unprocessableContent)
            }
        }
        do {
            _ = try await decide(task: id, by: reviewer, decision: decision, output: output, reason: decision == .reject ? reasonText : nil)
        } catch let error as APIError where error.status == .unprocessableContent || error.status == .conflict {
            return try await renderTask(
                id, session: session, reviewer: reviewer, errors: [errorKey: error.message], editText: editText, reasonText: reasonText,
                status: error.status)
        }
        return Self.redirect("/review?decided=\(id)&as=\(decision.rawValue)")
    }
}

/// "2h 05m left", "overdue by 12m", or "no deadline".
func timeLeft(_ dueAt: Int64?, now: Int64) -> String {
    guard let dueAt else { return "no deadline" }
    let minutes = Int((abs(dueAt - now) + 59_999) / 60_000)
    let text: String
    if minutes >= 48 * 60 {
        text = "\(minutes / (24 * 60))d \((minutes % (24 * 60)) / 60)h"
    } else if minutes >= 60 {
        text = "\(minutes / 60)h \(String(format: "%02d", minutes % 60))m"
    } else {
        text = "\(minutes)m"
    }
    return dueAt >= now ? "\(text) left" : "overdue by \(text)"
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

/// One short line about a journal entry for the history list.
func historyDetail(_ entry: JournalEntry) -> String {
    let payload = entry.payload
    switch entry.kind {
    case "step_succeeded", "step_failed":
        return "\(payload["state"]?.stringValue ?? "?") attempt \(payload["attempt"]?.integerValue ?? 1)"
            + (payload["message"]?.stringValue.map { ": \($0)" } ?? "")
    case "checkpoint_decided":
        return "\(payload["decision"]?.stringValue ?? "?") at \(payload["state"]?.stringValue ?? "?")"
            + (payload["reason"]?.stringValue.map { " (\($0))" } ?? "")
    default:
        return ""
    }
}
