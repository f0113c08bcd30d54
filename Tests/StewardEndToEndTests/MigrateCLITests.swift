import Foundation
import StewardCore
import StewardJSON
import Testing

/// The shipped migration end to end through `steward migrate`: the regression gate passes for
/// v1 -> v2, a canary puts its share of new tickets on v2, an inconclusive gate waits for a
/// credentialed approver, rollback sends the next ticket to v1 while a v2 ticket waiting at its
/// checkpoint completes on v2, a reverse plan (a worse candidate) is stopped by its gate, and
/// the journal verifies throughout.
@Suite(.serialized) struct MigrateCLITests {
    static func steward(_ arguments: [String]) async throws -> StewardCLITests.Run { try await StewardCLITests.stewardAsync(arguments) }

    @Test(.timeLimit(.minutes(10)))
    func theShippedMigrationAndItsRollback() async throws {
        // The shipped plugins, built once by the suite: a fresh clone has none until then.
        try await StewardCLITests.requirePlugins()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-migrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let db = ["--db", scratch.appendingPathComponent("steward.db").path]
        func token(_ name: String, _ credential: String) async throws -> String {
            let added = try await Self.steward(["reviewers", "add", name, "--credential", credential] + db)
            let line = try #require(added.stdout.split(separator: "\n").first { $0.hasPrefix("token: ") }, "\(added)")
            return String(line.dropFirst("token: ".count))
        }
        func ticket(_ id: String, example: Int) async throws -> JSONValue {
            let run = try await Self.steward([
                "run", "workflows/support-ticket-triage.yaml", "--input", "workflows/examples/ticket-\(example).json", "--customer", "acme-bank",
                "--id", id, "--quiet",
            ] + db)
            #expect(run.status == 0, "\(run)")
            let shown = try await Self.steward(["instances", "show", id] + db)
            return try JSONValue.parse(shown.stdout)
        }
        func verify() async throws {
            let audit = try await Self.steward(["audit", "verify"] + db)
            #expect(audit.status == 0, "\(audit)")
        }

        let plan = "migrations/banking-intent-v2.yaml"
        let validated = try await Self.steward(["migrate", "validate", plan] + db)
        #expect(validated.status == 0 && validated.stdout.contains("ok    \(plan)"), "\(validated)")
        #expect(try await Self.steward(["migrate", "start", plan, "--by", "olu"] + db).status == 0)
        #expect(try await Self.steward(["migrate", "start", plan] + db).status != 0, "a migration name is used once")

        // Regression: both classifiers on acme-bank's golden set; v2 is better, so the gate passes.
        let regression = try await Self.steward(["migrate", "advance", "banking-intent-v2"] + db)
        #expect(regression.status == 0 && regression.stdout.contains("acme-bank: regression gate passed -> running"), "\(regression)")

        // Canary at 20%: tickets whose bucket is under 0.2 run on v2, the others on v1.
        let inBucket = try #require((0..<200).map { "acme-\($0)" }.first { CanaryBucket.isCandidate(instance: $0, migration: "banking-intent-v2", share: 0.2) })
        let outOfBucket = try #require((0..<200).map { "acme-\($0)" }.first { !CanaryBucket.isCandidate(instance: $0, migration: "banking-intent-v2", share: 0.2) })
        let onCandidate = try await ticket(inBucket, example: 2)  // a stolen card: P1, waits at review_reply
        #expect(onCandidate["bindings"]?["classifier"] == "banking-intent@2.0.0")
        #expect(onCandidate["status"] == "waiting")
        #expect(try await ticket(outOfBucket, example: 1)["bindings"]?["classifier"] == "banking-intent@1.0.0")
        try await verify()

        // Two finished tickets are too few for the canary's 200: inconclusive, so a person decides.
        let canary = try await Self.steward(["migrate", "advance", "banking-intent-v2"] + db)
        #expect(canary.stdout.contains("acme-bank: canary gate inconclusive -> awaiting_approval"), "\(canary)")
        let waiting = try JSONValue.parse(try await Self.steward(["migrate", "status", "banking-intent-v2", "--json"] + db).stdout)
        let evidence = waiting["migrations"]?.arrayValue?.first?["customers"]?.arrayValue?.first?["evidence"]
        #expect(evidence?["candidate"]?["finished"]?.integerValue == 0 && evidence?["current"]?["finished"]?.integerValue == 1, "\(String(describing: evidence))")
        #expect(evidence?["reviews"]?["candidate"]?["approve"]?.integerValue == 0, "reviewer decisions are part of the canary's evidence")
        let agent = try await token("Ana", "support-agent")
        let refused = try await Self.steward(["migrate", "approve", "banking-intent-v2", "--customer", "acme-bank", "--token", agent] + db)
        #expect(refused.status != 0 && refused.stderr.contains("lacks the credential 'migration-approver'"), "\(refused)")
        let approver = try await token("Mo", "migration-approver")
        #expect(try await Self.steward(["migrate", "approve", "banking-intent-v2", "--customer", "acme-bank", "--token", approver] + db).status == 0)
        let status = try JSONValue.parse(try await Self.steward(["migrate", "status", "banking-intent-v2", "--json"] + db).stdout)
        let acme = try #require(status["migrations"]?.arrayValue?.first?["customers"]?.arrayValue?.first { $0["customer"] == "acme-bank" })
        #expect(acme["stage"] == "full" && acme["share"]?.doubleValue == 1, "\(acme)")
        #expect(try await ticket("acme-full", example: 1)["bindings"]?["classifier"] == "banking-intent@2.0.0")

        // Rollback: the next ticket is on v1 at once, even one the canary had put on v2 ...
        #expect(try await Self.steward(["migrate", "rollback", "banking-intent-v2", "--customer", "acme-bank", "--by", "olu"] + db).status == 0)
        #expect(try await ticket(inBucket + "-again", example: 1)["bindings"]?["classifier"] == "banking-intent@1.0.0")
        // ... while the v2 ticket waiting at its checkpoint completes on v2.
        let tasks = try await Self.steward(["review", "list"] + db)
        let taskLine = try #require(tasks.stdout.split(separator: "\n").first { $0.contains(inBucket) }, "\(tasks)")
        let taskID = String(taskLine.prefix { $0.isNumber })
        let approved = try await Self.steward(["review", "approve", taskID, "--token", agent] + db)
        #expect(approved.status == 0, "\(approved)")
        let finished = try JSONValue.parse(try await Self.steward(["instances", "show", inBucket] + db).stdout)
        #expect(finished["status"] == "completed" && finished["bindings"]?["classifier"] == "banking-intent@2.0.0", "\(finished)")
        #expect(finished["data"]?["classification"]?["adapter"] == "banking-intent@2.0.0")
        try await verify()

        // A reverse plan to the worse classifier is stopped by its regression gate.
        let reverse = scratch.appendingPathComponent("reverse.yaml")
        try """
            migration: back-to-naive-bayes
            template: support-ticket-triage
            change:
              binding: {role: classifier, from: banking-intent@2.0.0, to: banking-intent@1.0.0}
            customers:
              pilot: [harbour-credit]
            stages:
              - {name: regression, kind: regression}
              - {name: full, kind: full}
            """.write(to: reverse, atomically: true, encoding: .utf8)
        #expect(try await Self.steward(["migrate", "start", reverse.path] + db).status == 0)
        let stopped = try await Self.steward(["migrate", "advance", "back-to-naive-bayes"] + db)
        #expect(stopped.status == 1 && stopped.stdout.contains("harbour-credit: regression gate failed -> failed"), "\(stopped)")
        let reverseStatus = try JSONValue.parse(try await Self.steward(["migrate", "status", "back-to-naive-bayes", "--json"] + db).stdout)
        let harbour = try #require(reverseStatus["migrations"]?.arrayValue?.first?["customers"]?.arrayValue?.first)
        #expect(harbour["share"]?.doubleValue == 0 && harbour["state"] == "failed")
        let failedMetrics = harbour["evidence"]?["metrics"]?.arrayValue ?? []
        #expect(failedMetrics.contains { $0["name"] == "intent_accuracy" && $0["passed"] == false }, "\(harbour)")
        let told = try await Self.steward(["notifications"] + db)
        #expect(told.stdout.contains("support-lead") && told.stdout.contains("Migration back-to-naive-bayes stopped for harbour-credit"), "\(told)")
        try await verify()
    }
    @Test(.timeLimit(.minutes(5)))
    func aShadowStageComparesTheCandidateOnLiveTicketsWithoutTouchingThem() async throws {
        // The shipped plugins, built once by the suite: a fresh clone has none until then.
        try await StewardCLITests.requirePlugins()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-shadow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let db = ["--db", scratch.appendingPathComponent("steward.db").path]
        let plan = scratch.appendingPathComponent("shadow.yaml")
        try """
            migration: shadow-v2
            template: support-ticket-triage
            change:
              binding: {role: classifier, from: banking-intent@1.0.0, to: banking-intent@2.0.0}
            customers:
              pilot: [harbour-credit]
            stages:
              - {name: shadow, kind: shadow, min_observations: 3, min_agreement: 0.1, max_error_rate: 0.7, max_latency_p95_ms: 60000}
              - {name: full, kind: full}
            """.write(to: plan, atomically: true, encoding: .utf8)
        #expect(try await Self.steward(["migrate", "start", plan.path] + db).status == 0)
        let early = try await Self.steward(["migrate", "advance", "shadow-v2"] + db)
        #expect(early.stdout.contains("harbour-credit: shadow gate inconclusive -> awaiting_approval"), "no observation yet: \(early)")
        // Back to running: a person lets it go on only after looking; here, start again with a new name.
        let again = scratch.appendingPathComponent("shadow2.yaml")
        try String(contentsOf: plan, encoding: .utf8).replacingOccurrences(of: "migration: shadow-v2", with: "migration: shadow-v2b")
            .write(to: again, atomically: true, encoding: .utf8)
        #expect(try await Self.steward(["migrate", "rollback", "shadow-v2"] + db).status == 0)
        #expect(try await Self.steward(["migrate", "start", again.path] + db).status == 0)
        for (index, example) in [1, 2, 1].enumerated() {
            let id = "harbour-\(index)"
            let run = try await Self.steward([
                "run", "workflows/support-ticket-triage.yaml", "--input", "workflows/examples/ticket-\(example).json", "--customer", "harbour-credit",
                "--id", id, "--quiet",
            ] + db)
            #expect(run.status == 0, "\(run)")
            let shown = try JSONValue.parse(try await Self.steward(["instances", "show", id] + db).stdout)
            #expect(shown["bindings"]?["classifier"] == "banking-intent@1.0.0", "a shadowed instance stays on the current binding")
            #expect(shown["data"]?["classification"]?["adapter"] == "banking-intent@1.0.0")
        }
        let gate = try await Self.steward(["migrate", "advance", "shadow-v2b"] + db)
        #expect(gate.status == 0 && gate.stdout.contains("harbour-credit: shadow gate passed -> running"), "\(gate)")
        let status = try JSONValue.parse(try await Self.steward(["migrate", "status", "shadow-v2b", "--json"] + db).stdout)
        let harbour = try #require(status["migrations"]?.arrayValue?.first?["customers"]?.arrayValue?.first)
        #expect(harbour["stage"] == "full" && harbour["share"]?.doubleValue == 1, "\(harbour)")
        let audit = try await Self.steward(["audit", "verify"] + db)
        #expect(audit.status == 0, "\(audit)")
    }

    @Test(.timeLimit(.minutes(5)))
    func waitingTicketsMoveOntoTheCandidateAndBackThroughTheCLI() async throws {
        // The shipped plugins, built once by the suite: a fresh clone has none until then.
        try await StewardCLITests.requirePlugins()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-move-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let db = ["--db", scratch.appendingPathComponent("steward.db").path]
        func stolenCard(_ id: String) async throws {
            let run = try await Self.steward([
                "run", "workflows/support-ticket-triage.yaml", "--input", "workflows/examples/ticket-2.json", "--customer", "acme-bank", "--id", id, "--quiet",
            ] + db)
            #expect(run.status == 0, "\(run)")
        }
        func binding(_ id: String) async throws -> String? {
            try JSONValue.parse(try await Self.steward(["instances", "show", id] + db).stdout)["bindings"]?["classifier"]?.stringValue
        }
        try await stolenCard("before")  // on v1, waiting at review_reply
        let plan = scratch.appendingPathComponent("to-v2.yaml")
        try """
            migration: to-v2
            template: support-ticket-triage
            change:
              binding: {role: classifier, from: banking-intent@1.0.0, to: banking-intent@2.0.0}
            customers:
              pilot: [acme-bank]
            stages:
              - {name: full, kind: full}
            """.write(to: plan, atomically: true, encoding: .utf8)
        #expect(try await Self.steward(["migrate", "start", plan.path] + db).status == 0)
        let dry = try await Self.steward(["migrate", "move", "to-v2", "--dry-run", "--json"] + db)
        let planned = try JSONValue.parse(dry.stdout)["instances"]?.arrayValue ?? []
        #expect(dry.status == 0 && planned.count == 1 && planned.first?["instance"] == "before" && planned.first?["moved"] == false, "\(dry)")
        let shapes = try CLIJSONShapeTests.document()
        #expect(try CLIJSONShapeTests.problems(dry, "migrate move", in: shapes).isEmpty)
        #expect(try await binding("before") == "banking-intent@1.0.0")
        let moved = try await Self.steward(["migrate", "move", "to-v2"] + db)
        #expect(moved.status == 0 && moved.stdout.contains("moved  before") && moved.stdout.contains("1 moved, 0 not moved"), "\(moved)")
        #expect(try await binding("before") == "banking-intent@2.0.0")
        try await stolenCard("during")  // on v2 by the full stage
        let back = try await Self.steward(["migrate", "rollback", "to-v2", "--move-waiting", "--json"] + db)
        let movedBack = try JSONValue.parse(back.stdout)["instances"]?.arrayValue ?? []
        #expect(back.status == 0 && movedBack.filter { $0["moved"] == true }.count == 2, "\(back)")
        #expect(try CLIJSONShapeTests.problems(back, "migrate rollback", in: shapes).isEmpty)
        #expect(try await binding("before") == "banking-intent@1.0.0")
        #expect(try await binding("during") == "banking-intent@1.0.0")
        let audit = try await Self.steward(["audit", "verify"] + db)
        #expect(audit.status == 0, "\(audit)")
    }
}
