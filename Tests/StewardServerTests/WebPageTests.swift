import Foundation
import StewardEngine
import StewardJSON
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The reviewer page over plain HTTP: sessions, cookies, CSRF, inline errors.
@Suite struct WebPageTests {
    static let form = ["Content-Type": "application/x-www-form-urlencoded"]

    /// The form headers a browser sends from one of the server's own pages (sign-in and
    /// sign-out refuse forms without this server's `Origin`).
    static func sameOriginForm(_ harness: ServerHarness) -> [String: String] {
        form.merging(["Origin": origin(harness)]) { $1 }
    }

    /// The server's own origin, as a browser on one of its pages sends it.
    static func origin(_ harness: ServerHarness) -> String {
        "http://127.0.0.1:\(harness.base.port ?? 0)"
    }

    /// Signs in and returns the session cookie (`name=value`).
    static func signIn(_ harness: ServerHarness, token: String) async throws -> String {
        let reply = try await harness.send("POST", "/review/sign-in", body: Data("token=\(token)".utf8), headers: sameOriginForm(harness))
        try #require(reply.status == 303, "\(reply.status) \(reply.text)")
        let cookie = try #require(reply.header("Set-Cookie"))
        return String(cookie.split(separator: ";")[0])
    }

    static func csrf(in html: String) throws -> String {
        let marker = "name=\"csrf\" value=\""
        let start = try #require(html.range(of: marker)).upperBound
        return String(html[start...].prefix { $0 != "\"" })
    }

    static func encode(_ fields: [(String, String)]) -> Data {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Data(fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&").utf8)
    }

    @Test func signInSetsAStrictHttpOnlyCookieAndSignOutEndsIt() async throws {
        let harness = try await ServerHarness.start()
        let anonymous = try await harness.send("GET", "/review")
        #expect(anonymous.status == 303)
        #expect(anonymous.header("Location") == "/review/sign-in")
        let form = try await harness.send("GET", "/review/sign-in")
        #expect(form.status == 200)
        #expect(form.text.contains("<label for=\"token\">"))

        let wrong = try await harness.send("POST", "/review/sign-in", body: Data("token=stw_wrong".utf8), headers: Self.sameOriginForm(harness))
        #expect(wrong.status == 401)
        #expect(wrong.text.contains("not known"))
        #expect(wrong.header("Set-Cookie") == nil)

        let reply = try await harness.send("POST", "/review/sign-in", body: Data("token=\(harness.agentToken)".utf8), headers: Self.sameOriginForm(harness))
        #expect(reply.status == 303)
        let setCookie = try #require(reply.header("Set-Cookie"))
        #expect(setCookie.contains("HttpOnly"))
        #expect(setCookie.contains("SameSite=Strict"))
        #expect(!setCookie.contains(harness.agentToken), "the cookie holds a session id, not the token")
        let cookie = String(setCookie.split(separator: ";")[0])

        let queue = try await harness.send("GET", "/review", headers: ["Cookie": cookie])
        #expect(queue.status == 200)
        #expect(queue.text.contains("Ana Agent"))
        #expect(queue.header("Content-Security-Policy")?.contains("default-src 'none'") == true)

        let token = try Self.csrf(in: queue.text)
        let forged = try await harness.send("POST", "/review/sign-out", body: Data("csrf=forged".utf8), headers: Self.sameOriginForm(harness).merging(["Cookie": cookie]) { $1 })
        #expect(forged.status == 403, "sign-out needs the session's CSRF token")
        let out = try await harness.send("POST", "/review/sign-out", body: Data("csrf=\(token)".utf8), headers: Self.sameOriginForm(harness).merging(["Cookie": cookie]) { $1 })
        #expect(out.status == 303)
        #expect(out.header("Set-Cookie")?.contains("Max-Age=0") == true)
        #expect(try await harness.send("GET", "/review", headers: ["Cookie": cookie]).status == 303, "the session is gone")
        try await harness.stop()
    }

    @Test func queueAndTaskPageShowTheContext() async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()
        let cookie = try await Self.signIn(harness, token: harness.agentToken)
        let queue = try await harness.send("GET", "/review", headers: ["Cookie": cookie]).text
        #expect(queue.contains("href=\"/review/tasks/\(task)\""))
        #expect(!queue.contains("no deadline"), "the P1 task has its SLA deadline: the server runs the SLA clock, as steward serve does")
        // The row reads as a desk: subject, priority as text on its colour, the person, the due
        // time with its zone, the SLA state, and a claim button.
        for expected in [
            "class=\"task-link\">My card was stolen</a>", "<span class=\"prio p1\">P1</span>", "Jonas", " UTC</span>", "<span class=\"sla ok\">ok</span>",
            "id=\"claim-\(task)\"", "<label for=\"filter-priority\">Priority</label>", "<option value=\"P1\">P1</option>",
        ] {
            #expect(queue.contains(expected), "the queue shows \(expected)")
        }
        let page = try await harness.send("GET", "/review/tasks/\(task)", headers: ["Cookie": cookie])
        #expect(page.status == 200)
        for expected in [
            instance, "Someone stole my wallet", "confidence", "Promise refunds, reversals or fee waivers.", "Classify, route and prioritise tickets.",
            "<strong>Step done</strong>", "<label for=\"output\">", "<label for=\"reason\">", "id=\"approve\"", "<h2 id=\"context-heading\">",
            "Suggested articles", "<h1>My card was stolen <span class=\"muted\">(task \(task))</span></h1>",
            "The ticket, as the customer wrote it", "(times in UTC)",
            // The reply as text, and its form generated from the contract: a field per member.
            "<h3 class=\"part-label\">Subject</h3>", "<label for=\"field-0\">Subject</label>", "name=\"field.subject\"",
            "<label for=\"field-1\">Body</label>", "name=\"field.body\"", "<summary id=\"raw-toggle\">Edit as raw JSON</summary>",
            "<kbd>a</kbd> approve",
        ] {
            #expect(page.text.contains(expected), "the task page shows \(expected)")
        }
        // Reviewers without the credential get a refusal page, not the context.
        let outsider = try await Self.signIn(harness, token: harness.outsiderToken)
        let refused = try await harness.send("GET", "/review/tasks/\(task)", headers: ["Cookie": outsider])
        #expect(refused.status == 403)
        #expect(!refused.text.contains("Someone stole my wallet"))
        try await harness.stop()
    }

    @Test func anEditThroughTheGeneratedFormReplacesTheReplyWithRealLineBreaks() async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()
        let cookie = try await Self.signIn(harness, token: harness.agentToken)
        let csrf = try Self.csrf(in: try await harness.send("GET", "/review/tasks/\(task)", headers: ["Cookie": cookie]).text)
        let body = "Hi Jonas,\r\n\r\nWe blocked the card.\r\nThe Support Team"
        let saved = try await harness.send(
            "POST", "/review/tasks/\(task)/decision",
            body: Self.encode([("csrf", csrf), ("decision", "edit"), ("field.subject", "Re: Your stolen card"), ("field.body", body)]),
            headers: Self.form.merging(["Cookie": cookie]) { $1 })
        #expect(saved.status == 303 && saved.header("Location") == "/review?decided=\(task)&as=edit", "\(saved.status) \(saved.text.prefix(400))")
        #expect(try await harness.waitFor(instance) { $0 == "completed" } == "completed")
        let shown = try await harness.send("GET", "/v1/instances/\(instance)", token: harness.operatorToken)
        #expect(shown.json["output"]?["reply"] == ["subject": "Re: Your stolen card", "body": "Hi Jonas,\n\nWe blocked the card.\nThe Support Team"])
        try await harness.stop()
    }

    /// A claim over the API and the pages: the claimer holds the task, others see who holds it
    /// until when and get 409 for a claim or a decision, only the claimer releases it.
    @Test func aClaimedTaskIsReservedToItsClaimerUntilReleased() async throws {
        let harness = try await ServerHarness.start()
        let (_, task) = try await harness.waitingTask()
        let bo = try await harness.store.addReviewer(name: "Bo Agent", credentials: ["support-agent"], at: SystemEngineClock().nowMilliseconds())
        let claimed = try await harness.send("POST", "/v1/tasks/\(task)/claim", token: harness.agentToken)
        #expect(claimed.status == 200, "\(claimed.text)")
        #expect(claimed.json["reviewer"]?.stringValue == harness.agentID && claimed.json["reviewer_name"] == "Ana Agent")
        let until = try #require(claimed.json["until"]?.stringValue)
        #expect(until > (claimed.json["claimed_at"]?.stringValue ?? ""), "the claim lasts a while")

        let context = try await harness.send("GET", "/v1/tasks/\(task)", token: bo.token)
        #expect(context.json["claim"]?["reviewer_name"] == "Ana Agent" && context.json["claim"]?["until"]?.stringValue == until, "the API shows the claim")
        let taken = try await harness.send("POST", "/v1/tasks/\(task)/claim", token: bo.token)
        #expect(taken.status == 409 && taken.json["error"]?["code"] == "claimed")
        #expect(taken.json["error"]?["message"]?.stringValue?.hasPrefix("task \(task) is claimed by Ana Agent until ") == true, "\(taken.text)")
        let decided = try await harness.send("POST", "/v1/tasks/\(task)/decision", token: bo.token, json: ["decision": "approve"])
        #expect(decided.status == 409 && decided.json["error"]?["code"] == "claimed")
        #expect(try await harness.send("DELETE", "/v1/tasks/\(task)/claim", token: bo.token).status == 403, "only the claimer releases")

        // Bo's pages say who holds it and offer no decision.
        let cookie = try await Self.signIn(harness, token: bo.token)
        let queue = try await harness.send("GET", "/review", headers: ["Cookie": cookie]).text
        #expect(queue.contains("Claimed by Ana Agent until "), "\(queue)")
        #expect(!queue.contains("id=\"claim-\(task)\""), "no claim button on a held task")
        let page = try await harness.send("GET", "/review/tasks/\(task)", headers: ["Cookie": cookie]).text
        #expect(page.contains("Claimed by Ana Agent until ") && !page.contains("id=\"approve\""))
        let csrf = try Self.csrf(in: page)
        let headers = Self.form.merging(["Cookie": cookie]) { $1 }
        let claimForm = try await harness.send("POST", "/review/tasks/\(task)/claim", body: Self.encode([("csrf", csrf)]), headers: headers)
        #expect(claimForm.status == 409 && claimForm.text.contains("Claimed by someone else"))

        // Ana releases; Bo claims through the page and holds it.
        #expect(try await harness.send("DELETE", "/v1/tasks/\(task)/claim", token: harness.agentToken).status == 204)
        #expect(try await harness.send("GET", "/v1/tasks/\(task)", token: bo.token).json["claim"] == .null, "released: no claim")
        let mine = try await harness.send("POST", "/review/tasks/\(task)/claim", body: Self.encode([("csrf", csrf)]), headers: headers)
        #expect(mine.status == 303 && mine.header("Location") == "/review/tasks/\(task)?claimed=1")
        let held = try await harness.send("GET", "/review/tasks/\(task)?claimed=1", headers: ["Cookie": cookie]).text
        #expect(held.contains("You hold this task until ") && held.contains("id=\"release\"") && held.contains("id=\"approve\""))
        #expect(try await harness.send("POST", "/v1/tasks/\(task)/decision", token: harness.agentToken, json: ["decision": "approve"]).status == 409)
        let released = try await harness.send("POST", "/review/tasks/\(task)/release", body: Self.encode([("csrf", csrf)]), headers: headers)
        #expect(released.status == 303 && released.header("Location") == "/review?released=\(task)")
        #expect(try await harness.send("POST", "/v1/tasks/\(task)/decision", token: harness.agentToken, json: ["decision": "approve"]).status == 200)
        try await harness.stop()
    }

    /// The filters are GET parameters; pages keep them.
    @Test func theQueueFiltersByPriorityAndPagesKeepTheFilter() async throws {
        let harness = try await ServerHarness.start()
        _ = try await harness.waitingTask(key: "one")
        _ = try await harness.waitingTask(key: "two")
        let cookie = try await Self.signIn(harness, token: harness.agentToken)
        let first = try await harness.send("GET", "/review?priority=P1&size=1", headers: ["Cookie": cookie]).text
        #expect(first.contains("2 open tasks match the filter") && first.contains("Page 1 of 2"), "\(first)")
        #expect(first.contains("href=\"/review?priority=P1&amp;size=1&amp;page=2\" rel=\"next\""), "the next page keeps the filter")
        #expect(first.contains("<option value=\"P1\" selected>P1</option>"))
        let second = try await harness.send("GET", "/review?priority=P1&size=1&page=2", headers: ["Cookie": cookie]).text
        #expect(second.contains("Page 2 of 2") && second.contains("rel=\"prev\""))
        let none = try await harness.send("GET", "/review?priority=P4", headers: ["Cookie": cookie]).text
        #expect(none.contains("0 open tasks match the filter") && none.contains("Nothing is waiting for you."))
        let refused = try await harness.send("GET", "/review?credential=attorney", headers: ["Cookie": cookie])
        #expect(refused.status == 403)

        // A customer with a business calendar: its due time reads in its own zone, named.
        let submitted = try await harness.send(
            "POST", "/v1/instances", token: harness.operatorToken,
            json: ["template": .string(ServerHarness.triage), "customer": "acme-bank", "input": try ServerHarness.ticket(2)])
        let acme = try #require(submitted.json["id"]?.stringValue)
        #expect(try await harness.waitFor(acme) { $0 != "running" } == "waiting")
        let acmeQueue = try await harness.send("GET", "/review?customer=acme-bank", headers: ["Cookie": cookie]).text
        #expect(acmeQueue.contains("1 open task matches the filter"), "\(acmeQueue)")
        #expect(acmeQueue.contains(" (America/New_York)</span>"), "the due time names the customer's zone")
        #expect(acmeQueue.contains("<option value=\"acme-bank\" selected>acme-bank</option>"))
        try await harness.stop()
    }

    @Test func formErrorsAreShownInlineAndKeepTheEdit() async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()
        let cookie = try await Self.signIn(harness, token: harness.agentToken)
        let page = try await harness.send("GET", "/review/tasks/\(task)", headers: ["Cookie": cookie]).text
        let csrf = try Self.csrf(in: page)
        let headers = Self.form.merging(["Cookie": cookie]) { $1 }
        let path = "/review/tasks/\(task)/decision"

        let noCSRF = try await harness.send("POST", path, body: Self.encode([("decision", "approve")]), headers: headers)
        #expect(noCSRF.status == 403)

        let broken = "{\"subject\": \"Re: card\", \"body\": <oops>"
        let invalid = try await harness.send("POST", path, body: Self.encode([("csrf", csrf), ("decision", "edit"), ("output", broken)]), headers: headers)
        #expect(invalid.status == 422)
        #expect(invalid.text.contains("not valid JSON"))
        #expect(invalid.text.contains("{&quot;subject&quot;: &quot;Re: card&quot;, &quot;body&quot;: &lt;oops&gt;"), "the edit is kept, escaped")
        #expect(invalid.text.contains("aria-describedby=\"output-error\""))

        let wrongShape = try await harness.send(
            "POST", path, body: Self.encode([("csrf", csrf), ("decision", "edit"), ("output", "{\"subject\": \"only this\"}")]), headers: headers)
        #expect(wrongShape.status == 422)
        #expect(wrongShape.text.contains("missing field &#39;body&#39;"), "\(wrongShape.text)")

        // The generated form: an emptied body comes back with the message beside the body field,
        // every typed value kept, and nothing decided.
        let emptied = try await harness.send(
            "POST", path, body: Self.encode([("csrf", csrf), ("decision", "edit"), ("field.subject", "Re: <new> subject"), ("field.body", " ")]),
            headers: headers)
        #expect(emptied.status == 422)
        #expect(emptied.text.contains("<p class=\"error field-error\" id=\"field-1-error\">Body cannot be empty.</p>"), "\(emptied.text)")
        #expect(emptied.text.contains("aria-invalid=\"true\" aria-describedby=\"field-1-error\">"), "the body field points at its message")
        #expect(emptied.text.contains(">Re: &lt;new&gt; subject</textarea>"), "the reviewer's subject is kept")
        #expect(!emptied.text.contains("id=\"field-0-error\""), "only the wrong field is marked")

        let noReason = try await harness.send("POST", path, body: Self.encode([("csrf", csrf), ("decision", "reject"), ("reason", " ")]), headers: headers)
        #expect(noReason.status == 422)
        #expect(noReason.text.contains("reason-error"))
        #expect(try await harness.store.task(id: task)?.status == "open", "nothing was decided")

        // The reply reads as text with its real line breaks, not JSON escapes.
        #expect(page.contains("<p class=\"text\">Hi Jonas,\n\n"), "the body shows its line breaks")
        #expect(!page.contains("<p class=\"text\">Hi Jonas,\\n"), "no JSON escapes in the text")

        let rejected = try await harness.send(
            "POST", path, body: Self.encode([("csrf", csrf), ("decision", "reject"), ("reason", "Wrong tone & promise")]), headers: headers)
        #expect(rejected.status == 303)
        #expect(rejected.header("Location") == "/review?decided=\(task)&as=reject")
        #expect(try await harness.waitFor(instance) { $0 != "running" } == "rejected")
        let again = try await harness.send("POST", path, body: Self.encode([("csrf", csrf), ("decision", "approve")]), headers: headers)
        #expect(again.status == 409)
        try await harness.stop()
    }
}
