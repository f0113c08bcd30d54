import Foundation
import StewardJSON
import Testing

/// `steward eval` as an operator and a CI job run it: the shipped template, the real plugins,
/// the documented JSON shape and exit codes.
@Suite(.serialized) struct EvalCLITests {
    /// A temp copy of the first `count` shipped banking77 held-out cases, and a database.
    struct Scratch {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-eval-cli-\(UUID().uuidString)")
        var database: String { directory.appendingPathComponent("steward.db").path }

        init() throws { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }

        func dataset(_ name: String, lines: [String]) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        func shipped(_ count: Int) throws -> [String] {
            let text = try String(contentsOfFile: StewardCLITests.packageRoot.appendingPathComponent("evals/support-ticket-triage/banking77-heldout.jsonl").path, encoding: .utf8)
            return Array(text.split(separator: "\n").prefix(count).map(String.init))
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test func aRunPrintsTheDocumentedJSONAndItsFiguresAreTheCasesOwn() async throws {
        // The shipped plugins, built once by the suite: a fresh clone has none until then.
        try await StewardCLITests.requirePlugins()
        let scratch = try Scratch()
        defer { scratch.remove() }
        let dataset = try scratch.dataset("golden.jsonl", lines: try scratch.shipped(120))
        let run = try await StewardCLITests.stewardAsync(["eval", "run", "support-ticket-triage", "--dataset", dataset, "--json", "--db", scratch.database])
        #expect(run.status == 0 || run.status == 1, "\(run)")
        let document = try JSONValue.parse(run.stdout)
        #expect(document["run"]?.integerValue == 1)
        #expect(document["passed"]?.boolValue != nil)
        let metrics = try #require(document["metrics"]?.arrayValue)
        for key in ["name", "kind", "path", "value", "n", "ci_low", "ci_high", "threshold", "passed"] {
            #expect(metrics.allSatisfy { $0[key] != nil }, "every metric has \(key)")
        }
        let cases = try #require(document["cases"]?.arrayValue)
        #expect(cases.count == 120)
        for key in ["id", "passed", "reviewed", "outputs"] { #expect(cases.allSatisfy { $0[key] != nil }, "every case has \(key)") }
        // The accuracy is the share of cases whose output label is the expected one, recomputed here.
        let labelled = try scratch.shipped(120).map { try JSONValue.parse($0) }
        let expected = Dictionary(uniqueKeysWithValues: labelled.map { ($0["id"]!.stringValue!, $0["expected"]!["classification"]!["label"]!) })
        let right = cases.filter { $0["outputs"]?["classification"]?["label"] == expected[$0["id"]!.stringValue!] }.count
        let accuracy = try #require(metrics.first { $0["name"]?.stringValue == "intent_accuracy" })
        #expect(accuracy["value"]?.doubleValue == Double(right) / 120)
        #expect(accuracy["n"]?.integerValue == 120)
        // Nothing left the sandbox: no instance was stored.
        let instances = try await StewardCLITests.stewardAsync(["instances", "list", "--db", scratch.database])
        #expect(!instances.stdout.contains("support-ticket-triage"), "\(instances)")
    }

    @Test func aGateAboveWhatTheModelReachesExitsOneAndBadInputExitsTwo() async throws {
        // The shipped plugins, built once by the suite: a fresh clone has none until then.
        try await StewardCLITests.requirePlugins()
        let scratch = try Scratch()
        defer { scratch.remove() }
        let dataset = try scratch.dataset("golden.jsonl", lines: try scratch.shipped(60))
        // A copy of the shipped template whose accuracy gate no model reaches.
        let workflows = scratch.directory.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        let template = try String(contentsOfFile: StewardCLITests.packageRoot.appendingPathComponent("workflows/support-ticket-triage.yaml").path, encoding: .utf8)
            .replacingOccurrences(of: "kind: accuracy, path: classification.label, min: 0.85", with: "kind: accuracy, path: classification.label, min: 0.999")
        try template.write(to: workflows.appendingPathComponent("support-ticket-triage.yaml"), atomically: true, encoding: .utf8)
        let failing = try await StewardCLITests.stewardAsync([
            "eval", "run", "support-ticket-triage", "--dataset", dataset, "--workflows", workflows.path, "--db", scratch.database,
            "--bind", "classifier=banking-intent@1.0.0",
        ])
        #expect(failing.status == 1, "\(failing)")
        #expect(failing.stdout.contains("FAILED") && failing.stdout.contains("below min 0.999"), "\(failing.stdout)")

        var broken = try scratch.shipped(3)
        broken.insert(#"{"id": "x", "input": {"body": "hi"}"#, at: 2)
        let malformed = try await StewardCLITests.stewardAsync(["eval", "run", "support-ticket-triage", "--dataset", try scratch.dataset("broken.jsonl", lines: broken), "--db", scratch.database])
        #expect(malformed.status == 2, "\(malformed)")
        #expect(malformed.stderr.contains("broken.jsonl:3: error: not JSON"), "\(malformed.stderr)")

        let unbound = try await StewardCLITests.stewardAsync(["eval", "run", "support-ticket-triage", "--dataset", dataset, "--db", scratch.database, "--bind", "classifier=banking-intent@9.0.0"])
        #expect(unbound.status == 2 && unbound.stderr.contains("adapter banking-intent@9.0.0 is not loaded"), "\(unbound)")
        // Golden cases the template breaks on (tickets fed to the account-health template): no
        // metric labels them, but the run does not pass.
        let breaks = try await StewardCLITests.stewardAsync(["eval", "run", "account-health-review", "--dataset", dataset, "--db", scratch.database])
        #expect(breaks.status == 1 && breaks.stdout.contains("60 cases FAILED"), "\(breaks)")
        let unknown = try await StewardCLITests.stewardAsync(["eval", "run", "no-such-template", "--dataset", dataset, "--db", scratch.database])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown template 'no-such-template'"), "\(unknown)")
    }
}
