import Foundation
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
        let page = try await harness.send("GET", "/review/tasks/\(task)", headers: ["Cookie": cookie])
        #expect(page.status == 200)
        for expected in [
            instance, "Someone stole my wallet", "confidence", "Promise refunds, reversals or fee waivers.", "Classify, route and prioritise tickets.",
            "step_succeeded", "<label for=\"output\">", "<label for=\"reason\">", "id=\"approve\"", "<h2 id=\"context-heading\">",
            "Suggested articles",
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

        let noReason = try await harness.send("POST", path, body: Self.encode([("csrf", csrf), ("decision", "reject"), ("reason", " ")]), headers: headers)
        #expect(noReason.status == 422)
        #expect(noReason.text.contains("reason-error"))
        #expect(try await harness.store.task(id: task)?.status == "open", "nothing was decided")

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
