import Foundation
import StewardJSON
import Testing

/// The operator console over plain HTTP: who may see it, filters and counts, paging, the
/// instance page, retry and cancel with CSRF, templates, plugins and the failed view.
@Suite struct ConsolePageTests {
    /// Submits an empty ticket (it fails at intake as invalid_input) and returns its id.
    static func failing(_ harness: ServerHarness) async throws -> String {
        let reply = try await harness.send(
            "POST", "/v1/instances", token: harness.operatorToken, json: ["template": "support-ticket-triage", "input": ["channel": "email"]])
        try #require(reply.status == 201, "\(reply.text)")
        return try #require(reply.json["id"]?.stringValue)
    }

    @Test(.timeLimit(.minutes(3)))
    func onlyOperatorsSeeTheConsole() async throws {
        let harness = try await ServerHarness.start()
        for path in ["/console/instances", "/console/templates", "/console/plugins", "/console/failed", "/console/instances/x"] {
            let anonymous = try await harness.send("GET", path)
            #expect(anonymous.status == 303 && anonymous.header("Location") == "/review/sign-in", "\(path): \(anonymous.status)")
        }
        let agent = try await WebPageTests.signIn(harness, token: harness.agentToken)
        let refused = try await harness.send("GET", "/console/instances", headers: ["Cookie": agent])
        #expect(refused.status == 403 && refused.text.contains("the operator console is for operators") && refused.text.contains("Not allowed"), "\(refused.text)")
        let queue = try await harness.send("GET", "/review", headers: ["Cookie": agent])
        #expect(!queue.text.contains("href=\"/console/instances\""), "no console link for an agent")

        let op = try await WebPageTests.signIn(harness, token: harness.operatorToken)
        let opQueue = try await harness.send("GET", "/review", headers: ["Cookie": op])
        #expect(opQueue.text.contains("<a href=\"/console/instances\">Operator console</a>"), "the header links operators to the console")
        let missing = try await harness.send("GET", "/console/instances/no-such-instance", headers: ["Cookie": op])
        #expect(missing.status == 404 && missing.text.contains("no instance"))
        // A retry form posted by an agent is refused before anything happens.
        let id = try await Self.failing(harness)
        #expect(try await harness.waitFor(id) { $0 != "running" } == "failed")
        let agentPage = try await harness.send("GET", "/review", headers: ["Cookie": agent]).text
        let agentRetry = try await harness.send(
            "POST", "/console/instances/\(id)/retry", body: WebPageTests.encode([("csrf", try WebPageTests.csrf(in: agentPage))]),
            headers: WebPageTests.form.merging(["Cookie": agent]) { $1 })
        #expect(agentRetry.status == 403)
        #expect(try await !harness.store.history(of: id).contains { $0.kind == "retried" })
        try await harness.stop()
    }

    @Test(.timeLimit(.minutes(5)))
    func filtersCountsAndPagingKeepTheFilters() async throws {
        let harness = try await ServerHarness.start()
        var failed: [String] = []
        for _ in 0..<52 { failed.append(try await Self.failing(harness)) }
        let (waiting, _) = try await harness.waitingTask()
        for id in failed { #expect(try await harness.waitFor(id) { $0 != "running" } == "failed") }
        let cookie = try await WebPageTests.signIn(harness, token: harness.operatorToken)
        func get(_ path: String) async throws -> Reply { try await harness.send("GET", path, headers: ["Cookie": cookie]) }

        let all = try await get("/console/instances")
        #expect(all.status == 200)
        #expect(all.text.contains("data-status=\"failed\">failed <strong>52</strong>") && all.text.contains("data-status=\"waiting\">waiting <strong>1</strong>"), "\(all.text)")
        #expect(all.text.contains("all <strong>53</strong>") && all.text.contains("Instances 1 to 50 of 53"))
        #expect(all.text.contains("href=\"/console/instances/\(waiting)\""), "the newest instance is on page 1")

        // The status filter keeps the other statuses' counts in view; the next page keeps the filters.
        let page1 = try await get("/console/instances?template=support-ticket-triage&status=failed&state=intake&older_than=0s")
        #expect(page1.text.contains("Instances 1 to 50 of 52") && page1.text.contains("waiting <strong>0</strong>"), "state=intake leaves the waiting one out")
        #expect(!page1.text.contains("/console/instances/\(waiting)\""))
        let next = "/console/instances?older_than=0s&amp;page=2&amp;state=intake&amp;status=failed&amp;template=support-ticket-triage"
        #expect(page1.text.contains("href=\"\(next)\""), "\(page1.text)")
        let page2 = try await get(next.replacingOccurrences(of: "&amp;", with: "&"))
        #expect(page2.text.contains("Instances 51 to 52 of 52") && page2.text.contains("Page 2 of 2") && page2.text.contains("rel=\"prev\""))
        #expect(page2.text.contains("href=\"/console/instances/\(failed[0])\"") && page2.text.contains("href=\"/console/instances/\(failed[1])\""), "the oldest are last")

        // Version and customer filters go to the store; a bad age is said beside the form.
        #expect(try await get("/console/instances?version=1.1.0").text.contains("of 53"))
        #expect(try await get("/console/instances?version=9.9.9").text.contains("No instance matches these filters."))
        #expect(try await get("/console/instances?customer=acme-bank").text.contains("No instance matches these filters."))
        let bad = try await get("/console/instances?older_than=soon")
        #expect(bad.status == 400 && bad.text.contains("older_than must be a duration like 30m, 2h or 7d, found &#39;soon&#39;"), "\(bad.text)")
        // The same filters through the API, version included.
        let api = try await harness.send("GET", "/v1/instances?version=1.1.0&status=waiting", token: harness.operatorToken)
        #expect(api.json["instances"]?.arrayValue?.map { $0["id"] } == [.string(waiting)], "\(api.text)")

        // The failed view groups the 52 in one group.
        let grouped = try await get("/console/failed")
        #expect(grouped.text.contains("data-count=\"52\" data-state=\"intake\" data-kind=\"invalid_input\""), "\(grouped.text.prefix(3000))")
        #expect(grouped.text.contains("a ticket needs a subject or a body") && grouped.text.contains("All 52 in the instance list"))

        // Templates: the version with its instances per status.
        let templates = try await get("/console/templates")
        #expect(templates.text.contains("support-ticket-triage") && templates.text.contains("data-version=\"1.1.0\""))
        #expect(templates.text.contains("failed <strong>52</strong>") && templates.text.contains("waiting <strong>1</strong>"), "\(templates.text)")
        try await harness.stop()
    }

    @Test(.timeLimit(.minutes(3)))
    func theInstancePageRetriesAndCancelsWithCSRF() async throws {
        let harness = try await ServerHarness.start()
        let id = try await Self.failing(harness)
        #expect(try await harness.waitFor(id) { $0 != "running" } == "failed")
        let (waiting, task) = try await harness.waitingTask()
        let cookie = try await WebPageTests.signIn(harness, token: harness.operatorToken)
        let headers = WebPageTests.form.merging(["Cookie": cookie]) { $1 }

        let page = try await harness.send("GET", "/console/instances/\(id)", headers: ["Cookie": cookie])
        #expect(page.status == 200)
        #expect(page.text.contains("<g class=\"node current failed\" data-state=\"intake\" id=\"current-node\">"), "the current state is highlighted")
        #expect(page.text.contains("now: failed") && page.text.contains("Failed at <strong>intake</strong> (invalid_input)"))
        #expect(page.text.contains("<details><summary>Payload</summary>") && page.text.contains("step_failed"))
        #expect(page.text.contains("Template text (SHA-256)") && !page.text.contains("not pinned by content"))
        #expect(page.text.contains("id=\"retry\"") && !page.text.contains("id=\"cancel\""), "a failed instance can be retried, not cancelled")

        // The waiting one: its path through the diagram, its pinned binaries, a cancel form.
        let waitingPage = try await harness.send("GET", "/console/instances/\(waiting)", headers: ["Cookie": cookie]).text
        #expect(waitingPage.contains("data-state=\"review_reply\" id=\"current-node\"") && waitingPage.contains("<g class=\"node visited\" data-state=\"classify\">"))
        #expect(waitingPage.contains("<g class=\"edge taken\" data-from=\"draft_reply\" data-to=\"review_reply\">"), "\(waitingPage)")
        #expect(waitingPage.contains("Path taken:</strong> intake → check_content → classify"))
        #expect(waitingPage.contains("classifier: <code>banking-intent@3.0.0</code>") && waitingPage.contains("intake: support 1.0.0, <code>"))
        #expect(waitingPage.contains("id=\"cancel\"") && !waitingPage.contains("id=\"retry\""))

        // Without the session's CSRF token nothing happens.
        let forged = try await harness.send("POST", "/console/instances/\(id)/retry", body: WebPageTests.encode([("csrf", "forged")]), headers: headers)
        #expect(forged.status == 403)
        #expect(try await !harness.store.history(of: id).contains { $0.kind == "retried" })
        let csrf = try WebPageTests.csrf(in: page.text)
        let retried = try await harness.send("POST", "/console/instances/\(id)/retry", body: WebPageTests.encode([("csrf", csrf)]), headers: headers)
        #expect(retried.status == 303 && retried.header("Location") == "/console/instances/\(id)?retried=1")
        #expect(try await harness.waitFor(id) { $0 != "running" } == "failed", "an empty ticket fails again")
        let history = try await harness.store.history(of: id)
        #expect(history.contains { $0.kind == "retried" && $0.actor != "engine" } && history.filter { $0.kind == "step_failed" }.count == 2)
        let shown = try await harness.send("GET", "/console/instances/\(id)?retried=1", headers: ["Cookie": cookie]).text
        #expect(shown.contains("Retried: the instance runs again"))

        // Cancel needs a reason; then the instance ends and its task closes.
        let noReason = try await harness.send(
            "POST", "/console/instances/\(waiting)/cancel", body: WebPageTests.encode([("csrf", csrf), ("reason", " ")]), headers: headers)
        #expect(noReason.status == 422 && noReason.text.contains("Say why the instance is cancelled"))
        let cancelled = try await harness.send(
            "POST", "/console/instances/\(waiting)/cancel", body: WebPageTests.encode([("csrf", csrf), ("reason", "duplicate ticket")]), headers: headers)
        #expect(cancelled.status == 303)
        #expect(try await harness.store.task(id: task)?.status == "cancelled")
        let again = try await harness.send(
            "POST", "/console/instances/\(waiting)/cancel", body: WebPageTests.encode([("csrf", csrf), ("reason", "again")]), headers: headers)
        #expect(again.status == 409 && again.text.contains("action-error"), "a second cancel is refused on the page: \(again.status)")
        let noRetry = try await harness.send("POST", "/console/instances/\(waiting)/retry", body: WebPageTests.encode([("csrf", csrf)]), headers: headers)
        #expect(noRetry.status == 409 && noRetry.text.contains("only a failed instance is retried"))

        // Plugins: versions, binaries, isolation and health.
        let plugins = try await harness.send("GET", "/console/plugins", headers: ["Cookie": cookie]).text
        #expect(plugins.contains("data-plugin=\"support\"") && plugins.contains("support.normalize") && plugins.contains("in-process"))
        #expect(plugins.contains("loaded in the engine process") && plugins.contains("Binary (SHA-256)"))
        try await harness.stop()
    }
}
