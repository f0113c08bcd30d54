import Foundation
import StewardJSON
import Testing

/// `steward review audits|audit|accuracy|agreement|labels` on a store where a customer's
/// overlay samples every unreviewed triage reply for a double review.
extension StewardCLITests {
    @Test("a sampled ticket is audited by two agents from the CLI; accuracy, agreement and labels follow from their verdicts")
    func auditsFromTheCommandLine() async throws {
        try await Self.requirePlugins()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-audit-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        // The shipped workflows plus a customer who audits every reply that skips review, twice.
        let workflows = scratch.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.packageRoot.appendingPathComponent("workflows"), to: workflows)
        try """
            customer: audited
            templates:
              support-ticket-triage:
                sample: {review_reply: {rate: 1, double_review: 1}}
            """.write(to: workflows.appendingPathComponent("customers/audited.yaml"), atomically: true, encoding: .utf8)
        let database = scratch.appendingPathComponent("s.db").path
        let store = ["--db", database]

        let shown = try await Self.stewardAsync(["template", "show", "support-ticket-triage", "--customer", "audited", "--workflows", workflows.path] + store)
        #expect(shown.status == 0, "\(shown)")
        let sampling = try JSONValue.parse(shown.stdout)["sampling"]?["review_reply"]
        #expect(sampling?["rate"] == 1 && sampling?["double_review"] == 1 && sampling?["overridden"] == true, "\(shown)")

        let ticket = try await Self.stewardAsync([
            "run", workflows.appendingPathComponent("support-ticket-triage.yaml").path, "--input", "workflows/examples/ticket-1.json",
            "--customer", "audited", "--id", "audit-1", "--quiet", "--workflows", workflows.path,
        ] + store)
        #expect(ticket.status == 0, "\(ticket)")
        #expect(try JSONValue.parse(ticket.stdout)["status"] == "completed", "the sampled ticket is not held up: \(ticket)")

        func token(_ name: String) async throws -> String {
            let added = try await Self.stewardAsync(["reviewers", "add", name, "--credential", "support-agent"] + store)
            let line = try #require(added.stdout.split(separator: "\n").first { $0.hasPrefix("token: ") }, "\(added)")
            return String(line.dropFirst("token: ".count))
        }
        let ana = try await token("Ana")
        let bo = try await token("Bo")
        let lee = try await Self.stewardAsync(["reviewers", "add", "Lee", "--credential", "attorney"] + store)
        let leeToken = String(lee.stdout.split(separator: "\n").first { $0.hasPrefix("token: ") }?.dropFirst("token: ".count) ?? "")

        let listed = try await Self.stewardAsync(["review", "audits", "--token", ana] + store)
        #expect(listed.status == 0 && listed.stdout.hasPrefix("1  support-agent  support-ticket-triage  audited  audit-1  at review_reply  audit (1 of 2 reviews)  judges classification.label, routing.priority"), "\(listed)")
        #expect(try await Self.stewardAsync(["review", "audits", "--token", leeToken] + store).stdout == "no open audit items\n")

        let refused = try await Self.stewardAsync(["review", "audit", "1", "--token", leeToken, "--item", "classification.label=correct", "--item", "routing.priority=correct"] + store)
        #expect(refused.status != 0 && refused.stderr.contains("forbidden: audit item 1 needs credential 'support-agent'"), "\(refused)")
        let malformed = try await Self.stewardAsync(["review", "audit", "1", "--token", ana, "--item", "classification.label=wrong", "--item", "routing.priority=correct"] + store)
        #expect(malformed.status != 0 && malformed.stderr.contains("invalid: a 'wrong' verdict on 'classification.label' needs the correct value"), "\(malformed)")
        let unparsed = try await Self.stewardAsync(["review", "audit", "1", "--token", ana, "--item", "classification.label"] + store)
        #expect(unparsed.status != 0 && unparsed.stderr.contains("expected PATH=correct or PATH=wrong:VALUE"), "\(unparsed)")

        let first = try await Self.stewardAsync(["review", "audit", "1", "--token", ana, "--item", "classification.label=correct", "--item", "routing.priority=wrong:P2"] + store)
        #expect(first.status == 0, "\(first)")
        let afterFirst = try JSONValue.parse(first.stdout)
        #expect(afterFirst["reviews_given"] == 1 && afterFirst["status"] == "open")
        #expect(afterFirst["verdicts"]?.arrayValue?.first?["items"]?.arrayValue?.last == ["path": "routing.priority", "verdict": "wrong", "value": "P2"])

        let blind = try JSONValue.parse(try await Self.stewardAsync(["review", "audits", "--json", "--token", bo] + store).stdout)
        #expect(blind["audits"]?.arrayValue?.first?["second_review"] == true)
        #expect(blind["audits"]?.arrayValue?.first?["verdicts"] == [], "the second reviewer does not see the first verdict")

        let again = try await Self.stewardAsync(["review", "audit", "1", "--token", ana, "--item", "classification.label=correct", "--item", "routing.priority=correct"] + store)
        #expect(again.status != 0 && again.stderr.contains("already reviewed audit item 1"), "\(again)")
        let second = try await Self.stewardAsync(["review", "audit", "1", "--token", bo, "--item", "classification.label=correct", "--item", "routing.priority=wrong:\"P3\""] + store)
        #expect(second.status == 0, "\(second)")
        #expect(try JSONValue.parse(second.stdout)["verdicts"]?.arrayValue?.count == 2, "complete: both verdicts are shown")

        let accuracy = try await Self.stewardAsync(["review", "accuracy", "support-ticket-triage", "--customer", "audited", "--json"] + store)
        let group = try JSONValue.parse(accuracy.stdout)["groups"]?.arrayValue?.first
        #expect(group?["customer"] == "audited" && group?["bindings"] == ["classifier": "banking-intent@3.0.0"], "\(accuracy)")
        #expect(group?["items"]?.arrayValue?.map { $0["estimate"]?["correct"] } == [1, 0], "the first review's figures: \(accuracy)")
        let text = try await Self.stewardAsync(["review", "accuracy", "support-ticket-triage"] + store)
        #expect(text.stdout.contains("  classification.label  1.000 (95% CI 0.207-1.000), 1/1"), "\(text)")

        let agreement = try JSONValue.parse(try await Self.stewardAsync(["review", "agreement", "support-ticket-triage", "--json"] + store).stdout)
        #expect(agreement["double_reviewed"] == 1)
        #expect(agreement["items"]?.arrayValue?.last?["agreement"]?["agreed"] == 0, "P2 against P3")

        let file = scratch.appendingPathComponent("labels.jsonl").path
        let labels = try await Self.stewardAsync(["review", "labels", "support-ticket-triage", "--out", file] + store)
        #expect(labels.status == 0 && labels.stdout == "wrote 1 labelled example(s) to \(file)\n", "\(labels)")
        let line = try JSONValue.parse(String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .newlines))
        #expect(line["id"] == "audit-1")
        #expect(line["input"]?["subject"] != nil)
        #expect(line["expected"] == ["classification": ["label": "card_payment_fee_charged"], "routing": ["priority": "P2"]])

        let verify = try await Self.stewardAsync(["audit", "verify", "--workflows", workflows.path] + store)
        #expect(verify.status == 0 && verify.stdout.contains("intact"), "\(verify)")
    }
}
