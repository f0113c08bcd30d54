import Foundation
import StewardJSON
import Testing

/// The operator console in headless Chromium: an operator opens every console page, reads the
/// counts, the diagram and the groups, finds a failed instance in the failed view, retries it
/// and sees it run to completion. Screenshots of each page are kept (their paths are printed).
@Suite struct ConsoleBrowserTests {
    /// A template whose one step reads a knowledge-base file that the test writes only later:
    /// its instances fail until the file is there, and a retry then completes them.
    static func lookupTemplate(articles: String) -> String {
        """
        template: kb-lookup
        version: 1.0.0
        vertical: customer-support
        description: Looks a question up in a knowledge-base file.
        aop:
          domain: Support answers.
          inputs: [A question.]
          outputs: [The best article.]
          human_touchpoints: [none]
          failure_modes: [Answering from a missing knowledge base.]
          escalation_target: support-lead
          may: [Search the knowledge base.]
          may_not: [Invent articles.]
        plugins: [kb]
        start: search
        states:
          search:
            kind: step
            step: kb.search
            input: {query: input.question, k: 1}
            config: {articles: "\(articles)"}
            retry: {max_attempts: 1}
            output: found
            next: done
          done:
            kind: end
            status: completed
            output: {found: found}
        """
    }

    @Test(.enabled(if: Browser.availability.available, "\(Browser.availability.reason)"), .timeLimit(.minutes(5)))
    func anOperatorFindsAFailedInstanceAndRetriesItInARealBrowser() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-console-kb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let articles = scratch.appendingPathComponent("articles.json")
        let shots = FileManager.default.temporaryDirectory.appendingPathComponent("steward-console-screenshots-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)

        let harness = try await ServerHarness.start(extraTemplates: ["kb-lookup.yaml": Self.lookupTemplate(articles: articles.path)])
        var lookups: [String] = []
        for question in ["How do I reset my password?", "Where is my card?"] {
            let reply = try await harness.send(
                "POST", "/v1/instances", token: harness.operatorToken, json: ["template": "kb-lookup", "input": ["question": .string(question)]])
            try #require(reply.status == 201, "\(reply.text)")
            lookups.append(try #require(reply.json["id"]?.stringValue))
        }
        var empties: [String] = []
        for _ in 0..<3 { empties.append(try await ConsolePageTests.failing(harness)) }
        for id in lookups + empties { #expect(try await harness.waitFor(id) { $0 != "running" } == "failed") }
        let (waiting, _) = try await harness.waitingTask()

        try await BrowserTests.withBrowser { browser in
            func shoot(_ name: String) async throws {
                let file = shots.appendingPathComponent("\(name).png")
                try await browser.screenshot().write(to: file)
                let bytes = try Data(contentsOf: file)
                #expect(bytes.count > 1_000 && bytes.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "\(name) is a PNG")
                print("screenshot of the console's \(name) page: \(file.path)")
            }
            try await browser.go(harness.base.appendingPathComponent("review"))
            try await browser.type("#token", harness.operatorToken + "\u{E007}")
            _ = try await browser.waitForURL(endingWith: "/review")
            try await browser.click("a[href=\"/console/instances\"]")
            #expect(try await browser.waitForURL(endingWith: "/console/instances").hasSuffix("/console/instances"))

            // Instances: counts per status, every row a link.
            #expect(try await browser.script("return document.querySelector('[data-status=failed] strong').textContent") == "5")
            #expect(try await browser.script("return document.querySelector('[data-status=waiting] strong').textContent") == "1")
            #expect(try await browser.script("return document.querySelectorAll('#instances tbody tr a').length") == 6)
            let unlabeled = try await browser.script(
                "return [...document.querySelectorAll('input:not([type=hidden]), textarea, select')].filter(e => !e.id || !document.querySelector('label[for=\"' + e.id + '\"]')).length")
            #expect(unlabeled == 0, "every filter has a label")
            try await shoot("instances")
            // Filter with the form: failed instances of kb-lookup.
            _ = try await browser.script("document.querySelector('#f-template').value = 'kb-lookup'; document.querySelector('#f-status').value = 'failed'; return true")
            try await browser.click("#apply-filters")
            #expect(try await browser.waitForURL(endingWith: "older_than=").contains("template=kb-lookup"))
            #expect(try await browser.script("return document.querySelectorAll('#instances tbody tr').length") == 2)

            // The waiting ticket: the diagram marks where it is, in the box's text too.
            try await browser.go(harness.base.appendingPathComponent("console/instances/\(waiting)"))
            #expect(try await browser.script("return document.querySelector('#state-diagram #current-node').dataset.state") == "review_reply")
            #expect(try await browser.script("return document.querySelector('#current-node .mark').textContent") == "now: waiting")
            #expect(try await browser.script("return document.querySelectorAll('#state-diagram .node.visited').length") == 7, "intake to draft_reply")
            #expect(try await browser.script("return document.querySelectorAll('#state-diagram .edge.taken').length") == 7)
            #expect(try await browser.script("return document.querySelector('#timeline details pre') !== null && !document.querySelector('#timeline details').open") == true)
            try await shoot("instance-waiting")

            try await browser.go(harness.base.appendingPathComponent("console/templates"))
            let templates = try await browser.source()
            #expect(templates.contains("kb-lookup") && templates.contains("support-ticket-triage") && templates.contains("failed <strong>3</strong>"))
            try await shoot("templates")
            try await browser.go(harness.base.appendingPathComponent("console/plugins"))
            #expect(try await browser.script("return document.querySelectorAll('section.plugin').length").integerValue ?? 0 >= 4)
            #expect(try await browser.source().contains("kb.search"))
            try await shoot("plugins")

            // The failed view: two groups, the larger first; the lookups' group names the missing file.
            try await browser.go(harness.base.appendingPathComponent("console/failed"))
            let counts = try await browser.script("return [...document.querySelectorAll('.failure-group')].map(g => g.dataset.count + ' ' + g.dataset.state)")
            #expect(counts == ["3 intake", "2 search"], "\(counts)")
            #expect(try await browser.source().contains("knowledge base articles file"))
            try await shoot("failed")

            // The file arrives; the operator retries one lookup from the failed view and watches it complete.
            try #"[{"id": "faq-1", "title": "Reset your password", "answers": ["Use the Forgot password link on the sign-in page."]}]"#
                .write(to: articles, atomically: true, encoding: .utf8)
            try await browser.click("form[action=\"/console/instances/\(lookups[0])/retry\"] button")
            #expect(try await browser.waitForURL(endingWith: "?retried=1").hasSuffix("/console/instances/\(lookups[0])?retried=1"))
            #expect(try await browser.source().contains("Retried: the instance runs again"))
            #expect(try await harness.waitFor(lookups[0]) { $0 != "running" } == "completed")
            try await browser.go(harness.base.appendingPathComponent("console/instances/\(lookups[0])"))
            #expect(try await browser.script("return document.querySelector('#instance-status').textContent") == "completed")
            #expect(try await browser.script("return document.querySelector('#current-node').dataset.state") == "done")
            #expect(try await browser.script("return document.querySelectorAll('#state-diagram .edge.taken').length") == 1)
            let timeline = try await browser.script("return [...document.querySelectorAll('#timeline > li > strong')].map(e => e.textContent)")
            #expect(timeline == ["started", "step_failed", "retried", "step_succeeded"], "\(timeline)")
            try await shoot("instance-retried")

            // It has left the failed view.
            try await browser.go(harness.base.appendingPathComponent("console/failed"))
            #expect(try await browser.script("return [...document.querySelectorAll('.failure-group')].map(g => g.dataset.count + ' ' + g.dataset.state)") == ["3 intake", "1 search"])
        }
        let retried = try await harness.store.history(of: lookups[0]).first { $0.kind == "retried" }
        #expect(retried?.actor != nil && retried?.actor != "engine", "journalled with the operator: \(String(describing: retried?.actor))")
        try await harness.stop()
    }
}
