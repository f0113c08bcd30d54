import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardMigration
import StewardReview
import StewardTemplates
import Testing

/// A template-version migration on the engine `steward serve` runs: new work is routed between
/// the two versions by the canary share, a state map that does not fit either version is refused
/// before anything moves, waiting instances move to the new version at their checkpoint (a new
/// review opens there, the old one ends as `moved`), instances the map does not cover stay, a
/// rollback with `moveWaiting` takes the candidate's waiting instances back by the inverse map,
/// and the journal replays and verifies throughout, also in a fresh engine.
@Suite(.serialized) struct TemplateMigrationTests {
    static let triage = "support-ticket-triage"

    /// A copy of `workflows/` with version 1.2.0 of the triage template beside 1.1.0: the same
    /// workflow whose review checkpoint is called `agent_review`.
    static func workspace(_ directory: URL) throws -> URL {
        let workflows = directory.appendingPathComponent("workflows")
        try FileManager.default.copyItem(at: Package.root.appendingPathComponent("workflows"), to: workflows)
        let current = try String(contentsOf: workflows.appendingPathComponent("\(triage).yaml"), encoding: .utf8)
        #expect(current.contains("version: 1.1.0"))
        let next = current.replacingOccurrences(of: "version: 1.1.0", with: "version: 1.2.0")
            .replacingOccurrences(of: "review_reply", with: "agent_review")
        try next.write(to: workflows.appendingPathComponent("\(triage)-next.yaml"), atomically: true, encoding: .utf8)
        return workflows
    }

    static func plan(_ states: String, name: String = "triage-1.2", share: String = "0.5") throws -> MigrationPlan {
        try TemplateParser.parseMigration(
            """
            migration: \(name)
            template: support-ticket-triage
            change:
              template: {from: 1.1.0, to: 1.2.0, states: {\(states)}}
            customers:
              pilot: [acme-bank]
            stages:
              - {name: canary, kind: canary, share: \(share)}
              - {name: full, kind: full}
            """, file: "\(name).yaml")
    }

    /// The located problems of a plan text (empty when it parses).
    static func diagnostics(_ text: String, file: String) -> [String] {
        let result = Result { () throws(TemplateErrors) -> MigrationPlan in try TemplateParser.parseMigration(text, file: file) }
        guard case .failure(let errors) = result else { return [] }
        return errors.diagnostics.map(\.description)
    }

    static let stolenCard: JSONValue = [
        "subject": "My card was stolen", "body": "Someone stole my wallet on the train this morning and my card was in it. Please block it right away.",
        "channel": "chat", "customer": ["name": "Jonas", "id": "cus-1002"],
    ]

    @Test(.timeLimit(.minutes(5)))
    func waitingInstancesMoveToTheNewVersionByTheStateMap() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-template-migration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("steward.db").path
        let assembly = try await ServerHarness.assemble(database: database, workflows: try Self.workspace(directory))
        let engine = assembly.engine
        let controller = MigrationController(assembly: assembly)
        #expect(assembly.plans.plan(template: Self.triage, version: nil)?.version == "1.2.0", "the new file is the newest version")

        // A map that does not fit the versions is refused with the reason, before anything starts.
        let typo = controller.problems(try Self.plan("review_reply: agent_reveiw"))
        #expect(typo.contains { $0.contains("'agent_reveiw', which is not a state of support-ticket-triage 1.2.0 (did you mean 'agent_review'?)") }, "\(typo)")
        let notACheckpoint = controller.problems(try Self.plan("classify: agent_review"))
        #expect(notACheckpoint.contains { $0.contains("'classify', which is not a checkpoint of support-ticket-triage 1.1.0") }, "\(notACheckpoint)")
        let toAnEnd = controller.problems(try Self.plan("review_reply: done"))
        #expect(toAnEnd.contains { $0.contains("an end state") }, "\(toAnEnd)")
        #expect(controller.problems(try Self.plan("review_reply: agent_review")).isEmpty)
        let shadow = """
            migration: s
            template: support-ticket-triage
            change:
              template: {from: 1.1.0, to: 1.2.0}
            customers: {pilot: [acme-bank]}
            stages:
              - {name: look, kind: shadow}
              - {name: full, kind: full}
            """
        let shadowProblems = Self.diagnostics(shadow, file: "s.yaml")
        #expect(shadowProblems.contains { $0.hasPrefix("s.yaml:7:") && $0.contains("changes the template version") }, "\(shadowProblems)")

        let plan = try Self.plan("review_reply: agent_review")
        try await controller.start(plan, actor: "olu")

        // Canary at half: each new ticket runs the version its bucket says, and nothing else.
        var waiting: [String: String] = [:]
        for index in 0..<24 {
            let id = "acme-\(index)"
            let state = try await engine.submit(template: Self.triage, customer: "acme-bank", input: Self.stolenCard, id: id)
            let expected = CanaryBucket.isCandidate(instance: id, migration: plan.name, share: 0.5) ? "1.2.0" : "1.1.0"
            #expect(state.templateVersion == expected && state.status == .waiting, "\(id): \(state.templateVersion) \(state.status)")
            #expect(state.current == (expected == "1.2.0" ? "agent_review" : "review_reply"))
            waiting[id] = expected
        }
        let old = waiting.filter { $0.value == "1.1.0" }.keys.sorted()
        #expect(old.count >= 4 && old.count <= 20, "\(old.count) of 24 on 1.1.0")
        // Another customer, not in the plan, gets the newest version.
        #expect(try await engine.submit(template: Self.triage, customer: "harbour-credit", input: Self.stolenCard, id: "harbour-1").templateVersion == "1.2.0")

        // Waiting instances move only once all of the customer's new work is on the candidate.
        await #expect(throws: MigrationError.self) { try await controller.move(plan.name, customer: "acme-bank", actor: "olu") }
        let steps = try await controller.advance(plan.name, actor: "olu")
        #expect(steps.map(\.verdict) == [.passed], "\(steps.map(\.evidence))")
        #expect(try await engine.submit(template: Self.triage, customer: "acme-bank", input: Self.stolenCard, id: "acme-full").templateVersion == "1.2.0")

        // A dry run reports, moves nothing.
        let dry = try await controller.move(plan.name, dryRun: true, actor: "olu")
        #expect(Set(dry.map(\.instance)) == Set(old) && dry.allSatisfy { !$0.moved && $0.to == "agent_review@1.2.0" }, "\(dry)")
        #expect(try await engine.currentState(id: old[0])?.templateVersion == "1.1.0")

        // The move: every 1.1.0 ticket waiting at review_reply is now at agent_review of 1.2.0.
        let moved = try await controller.move(plan.name, actor: "olu")
        #expect(Set(moved.filter(\.moved).map(\.instance)) == Set(old), "\(moved)")
        for id in old {
            let state = try #require(try await engine.currentState(id: id))
            #expect(state.templateVersion == "1.2.0" && state.current == "agent_review" && state.status == .waiting, "\(state)")
            #expect(state.templateHash == assembly.plans.snapshot(of: try #require(assembly.plans.plan(template: Self.triage, version: "1.2.0")))?.hash)
        }
        let tasks = try await assembly.store.openTasks(credentials: nil, limit: 500)
        #expect(tasks.filter { old.contains($0.instanceID) }.allSatisfy { $0.state == "agent_review" })
        #expect(Set(tasks.filter { old.contains($0.instanceID) }.map(\.instanceID)) == Set(old), "each moved ticket has one open review, at its new state")
        #expect(try await controller.move(plan.name, actor: "olu").filter(\.moved).isEmpty, "moving again moves nothing")

        // An unmapped state stays where it is; the reviewer's decision on the new task completes it on 1.2.0.
        let stays = try await engine.move(
            instance: "acme-full", version: "1.1.0", states: ["somewhere": "else"], bindings: [:], migration: plan.name, by: "olu")
        #expect(stays == .stayed("waits at agent_review, which the plan's state map does not map"), "\(stays)")
        let decided = try await engine.decide(
            instance: old[0], CheckpointDecision(state: "agent_review", decision: .approve, reviewer: "rv-1", credential: "support-agent"))
        #expect(decided.status == .completed && decided.output?["review"]?["decision"] == "approve", "\(String(describing: decided.output))")

        // Rollback with moveWaiting: new work back on 1.1.0 although 1.2.0 is the newest, and the
        // candidate's waiting tickets back at review_reply by the inverse map.
        let back = try await controller.rollback(plan.name, moveWaiting: true, actor: "olu")
        let candidates = waiting.filter { $0.value == "1.2.0" }.keys.sorted() + ["acme-full"] + old.dropFirst()
        #expect(Set(back.filter(\.moved).map(\.instance)) == Set(candidates), "\(back)")
        for id in candidates {
            let state = try #require(try await engine.currentState(id: id))
            #expect(state.templateVersion == "1.1.0" && state.current == "review_reply" && state.status == .waiting, "\(id): \(state)")
        }
        #expect(try await engine.submit(template: Self.triage, customer: "acme-bank", input: Self.stolenCard, id: "acme-after").templateVersion == "1.1.0")

        // The journal verifies, and a fresh engine on the same database replays every instance
        // to what the store holds, moves included.
        let report = try await assembly.auditor.verify()
        #expect(report.problems.isEmpty, "\(report.problems)")
        let entries = try await assembly.store.auditEntries(limit: 200)
        #expect(entries.filter { $0.kind == "migration_instances_moved" }.count == 2)
        let later = try await ServerHarness.assemble(database: database, workflows: directory.appendingPathComponent("workflows"))
        for id in candidates + [old[0]] {
            let replayed = try #require(try await later.engine.currentState(id: id))
            #expect(replayed == (try await engine.currentState(id: id)), "\(id)")
        }
        #expect(try await later.auditor.verify().problems.isEmpty)
        #expect(try await later.engine.submit(template: Self.triage, customer: "acme-bank", input: Self.stolenCard, id: "acme-later").templateVersion == "1.1.0")
    }

    @Test(.timeLimit(.minutes(5)))
    func aBindingRollbackCanRebindWaitingInstances() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-binding-rollback-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let assembly = try await ServerHarness.assemble(database: directory.appendingPathComponent("steward.db").path)
        let controller = MigrationController(assembly: assembly)
        let plan = try TemplateParser.parseMigration(
            """
            migration: to-v2
            template: support-ticket-triage
            change:
              binding: {role: classifier, from: banking-intent@1.0.0, to: banking-intent@2.0.0}
            customers: {pilot: [acme-bank]}
            stages:
              - {name: full, kind: full}
            """, file: "to-v2.yaml")
        try await controller.start(plan, actor: "olu")
        let onV2 = try await assembly.engine.submit(template: Self.triage, customer: "acme-bank", input: Self.stolenCard, id: "acme-v2")
        #expect(onV2.bindings["classifier"] == "banking-intent@2.0.0" && onV2.status == .waiting)
        let task = try #require(try await assembly.store.openTasks(credentials: nil, limit: 10).first { $0.instanceID == "acme-v2" })

        let back = try await controller.rollback(plan.name, customer: "acme-bank", moveWaiting: true, actor: "olu")
        #expect(back.map(\.instance) == ["acme-v2"] && back[0].moved, "\(back)")
        let rebound = try #require(try await assembly.engine.currentState(id: "acme-v2"))
        #expect(rebound.bindings["classifier"] == "banking-intent@1.0.0" && rebound.status == .waiting && rebound.current == "review_reply")
        // Re-binding keeps the review where it is: the same task is still open.
        #expect(try await assembly.store.task(id: task.id)?.status == "open")
        let done = try await assembly.engine.decide(
            instance: "acme-v2", CheckpointDecision(state: "review_reply", decision: .approve, reviewer: "rv-1", credential: "support-agent"))
        #expect(done.status == .completed)
        #expect(try await assembly.auditor.verify().problems.isEmpty)
    }

    @Test(.timeLimit(.minutes(5)))
    func aGateWaitsInTheReviewQueueForTheApproverCredential() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-migration-gate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let assembly = try await ServerHarness.assemble(database: directory.appendingPathComponent("steward.db").path)
        let controller = MigrationController(assembly: assembly)
        let store = assembly.store
        let plan = try TemplateParser.parseMigration(
            """
            migration: gated
            template: support-ticket-triage
            change:
              binding: {role: classifier, from: banking-intent@1.0.0, to: banking-intent@2.0.0}
            customers: {pilot: [acme-bank], rest: [harbour-credit]}
            approver: release-manager
            stages:
              - {name: canary, kind: canary, share: 0.2, min_observations: 50}
              - {name: full, kind: full}
            """, file: "gated.yaml")
        try await controller.start(plan, actor: "olu")

        // Too few observations: inconclusive, and a review task opens in the queue with the
        // gate's evidence, needing the plan's approver credential.
        let steps = try await controller.advance(plan.name, actor: "olu")
        #expect(steps.map(\.verdict) == [.inconclusive] && steps.map(\.state) == ["awaiting_approval"])
        let gateID = MigrationController.gateInstance(plan.name, customer: "acme-bank", stage: 0)
        let task = try #require(try await store.openTasks(credentials: nil, limit: 50).first { $0.instanceID == gateID })
        #expect(task.credential == "release-manager" && task.template == "migration-gate")
        #expect(task.subject["evidence"]?["min_observations"]?.integerValue == 50 && task.subject["verdict"] == "inconclusive", "\(task.subject)")
        let status = try await controller.status(plan.name)
        #expect(status["migrations"]?.arrayValue?.first?["customers"]?.arrayValue?.first?["gate_instance"]?.stringValue == gateID, "\(status)")

        // Someone without the credential is refused (and the refusal audited); the approver's
        // decision in the queue moves the customer on.
        let desk = ReviewDesk(engine: assembly.engine)
        let (agent, _) = try await store.addReviewer(name: "Ana", credentials: ["support-agent"], at: 1)
        let (manager, _) = try await store.addReviewer(name: "Mo", credentials: ["release-manager"], at: 1)
        await #expect(throws: ReviewError.self) { _ = try await desk.decide(task: task.id, by: agent, decision: .approve) }
        #expect(try await store.auditEntries(limit: 50).contains { $0.kind == "decision_refused" && $0.actor == agent.id })
        _ = try await desk.decide(task: task.id, by: manager, decision: .approve)
        try await controller.syncGates()
        let moved = try #require(try await store.migrationProgress(plan.name).first { $0.customer == "acme-bank" })
        #expect(moved.state == "running" && plan.stages[moved.stage].kind == .full && moved.share == 1, "\(moved)")
        #expect(try await store.auditEntries(limit: 50).contains { $0.kind == "migration_approved" && $0.actor == manager.id })

        // The full stage passes; harbour-credit starts, waits at its canary, and its approver rejects.
        _ = try await controller.advance(plan.name, customer: "acme-bank", actor: "olu")
        let harbour = try await controller.advance(plan.name, customer: "harbour-credit", actor: "olu")
        #expect(harbour.map(\.state) == ["awaiting_approval"], "\(harbour.map(\.state))")
        let harbourTask = try #require(try await store.openTasks(credentials: ["release-manager"], limit: 50).first {
            $0.instanceID == MigrationController.gateInstance(plan.name, customer: "harbour-credit", stage: 0)
        })
        await #expect(throws: ReviewError.self, "a rejection needs a reason") { _ = try await desk.decide(task: harbourTask.id, by: manager, decision: .reject) }
        _ = try await desk.decide(task: harbourTask.id, by: manager, decision: .reject, reason: "two days is not enough for harbour's volume")
        let stopped = try await controller.status(plan.name)
        let row = try #require(stopped["migrations"]?.arrayValue?.first?["customers"]?.arrayValue?.first { $0["customer"] == "harbour-credit" })
        #expect(row["state"] == "failed" && row["share"]?.doubleValue == 0, "\(row)")
        #expect(try await store.notifications(limit: 20).contains { $0.message.contains("rejected the canary gate") })
        #expect(try await assembly.engine.submit(template: Self.triage, customer: "harbour-credit", input: Self.stolenCard, id: "h-1").bindings["classifier"] == "banking-intent@1.0.0")
        #expect(try await assembly.auditor.verify().problems.isEmpty)
    }

    @Test(.timeLimit(.minutes(5)))
    func aRegressionGateReplaysTheCustomersRecentProductionInputs() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-migration-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let assembly = try await ServerHarness.assemble(database: directory.appendingPathComponent("steward.db").path)
        let controller = MigrationController(assembly: assembly)
        func plan(_ name: String) throws -> MigrationPlan {
            try TemplateParser.parseMigration(
                """
                migration: \(name)
                template: support-ticket-triage
                change:
                  binding: {role: classifier, from: banking-intent@1.0.0, to: banking-intent@2.0.0}
                customers: {pilot: [acme-bank]}
                stages:
                  - {name: regression, kind: regression, replay: 25, min_agreement: 0.05}
                  - {name: full, kind: full}
                """, file: "\(name).yaml")
        }
        #expect(Self.diagnostics("""
            migration: m
            template: t
            change: {binding: {role: r, from: a@1.0.0, to: a@2.0.0}}
            customers: {pilot: [c]}
            stages:
              - {name: regression, kind: regression, min_agreement: 0.5}
              - {name: canary, kind: canary, share: 0.1, replay: 5}
              - {name: full, kind: full}
            """, file: "m.yaml").filter { $0.contains("needs 'replay'") || $0.contains("'replay' applies to regression stages only") }.count == 2)

        // Nothing to replay yet: the golden half passes, the replay half leaves it to a person.
        try await controller.start(try plan("replay-early"), actor: "olu")
        let early = try #require(try await controller.advance("replay-early", actor: "olu").first)
        #expect(early.verdict == .inconclusive && early.evidence["replay"]?["cases"] == 0, "\(early.evidence)")
        try await controller.rollback("replay-early", actor: "olu")

        // Twelve production tickets: both classifiers replay them and mostly agree.
        let bodies = [
            "Someone stole my wallet on the train and my card was in it", "Where is my new card? It has not arrived", "I was charged twice for one coffee",
            "How do I change my PIN?", "My transfer has not reached my landlord", "Why was I charged a fee for a top up?",
        ]
        for index in 0..<12 {
            let input: JSONValue = ["subject": "Help", "body": .string(bodies[index % bodies.count]), "channel": "email", "customer": ["name": "Kim"]]
            _ = try await assembly.engine.submit(template: Self.triage, customer: "acme-bank", input: input, id: "acme-prod-\(index)")
        }
        try await controller.start(try plan("replay-later"), actor: "olu")
        let later = try #require(try await controller.advance("replay-later", actor: "olu").first)
        let replay = try #require(later.evidence["replay"])
        #expect(replay["cases"] == 12 && replay["compared_paths"]?.arrayValue?.contains("classification.label") == true, "\(replay)")
        let agreed = try #require(replay["agreed"]?.integerValue)
        #expect(agreed >= 6, "naive Bayes and logistic regression agree on most of these tickets: \(replay)")
        #expect(replay["agreement_ci_low"]?.doubleValue ?? 0 > 0.05)
        #expect(later.verdict == .passed, "\(later.evidence)")
        #expect(FileManager.default.fileExists(atPath: assembly.workspace.dataDirectory.appendingPathComponent("replays/replay-later-acme-bank-regression.jsonl").path))
    }

    @Test(.timeLimit(.minutes(5)))
    func aCanaryGatesOnTheCandidatesAuditedProductionAccuracy() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-migration-audits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // A customer on the naive Bayes classifier every unreviewed reply of which is audited once.
        let workflows = directory.appendingPathComponent("workflows")
        try FileManager.default.copyItem(at: Package.root.appendingPathComponent("workflows"), to: workflows)
        try """
            customer: audited
            templates:
              support-ticket-triage:
                bindings:
                  classifier: banking-intent@1.0.0
                sample: {review_reply: {rate: 1, double_review: 0}}
            """.write(to: workflows.appendingPathComponent("customers/audited.yaml"), atomically: true, encoding: .utf8)
        let assembly = try await ServerHarness.assemble(database: directory.appendingPathComponent("steward.db").path, workflows: workflows)
        let controller = MigrationController(assembly: assembly)
        let plan = try TemplateParser.parseMigration(
            """
            migration: audited-canary
            template: support-ticket-triage
            change:
              binding: {role: classifier, from: banking-intent@1.0.0, to: banking-intent@2.0.0}
            customers: {pilot: [audited]}
            stages:
              - {name: canary, kind: canary, share: 0.5, min_production_accuracy: 0.6}
              - {name: full, kind: full}
            """, file: "audited-canary.yaml")
        #expect(plan.stages[0].minimumProductionAccuracy == 0.6)
        try await controller.start(plan, actor: "olu")
        let routine = try JSONValue.parse(try String(contentsOf: Package.root.appendingPathComponent("workflows/examples/ticket-1.json"), encoding: .utf8))
        for index in 0..<24 {
            _ = try await assembly.engine.submit(template: Self.triage, customer: "audited", input: routine, id: "audited-\(index)")
        }
        // No verdict yet: nothing to judge the candidate by.
        let early = try #require(try await controller.advance(plan.name, actor: "olu").first)
        #expect(early.verdict == .inconclusive && early.evidence["note"] == "no audited candidate work yet", "\(early.evidence)")
        try await controller.rollback(plan.name, actor: "olu")

        // Auditors find the candidate's replies wrong and the current ones right: the gate fails.
        let again = try TemplateParser.parseMigration(plan.text.replacingOccurrences(of: "audited-canary", with: "audited-canary-2"), file: "again.yaml")
        try await controller.start(again, actor: "olu")
        for index in 0..<24 {
            _ = try await assembly.engine.submit(template: Self.triage, customer: "audited", input: routine, id: "audited-b-\(index)")
        }
        let (auditor, _) = try await assembly.store.addReviewer(name: "Au", credentials: ["support-agent"], at: 1)
        let items = try await assembly.store.auditItems(AuditQuery(template: Self.triage, customer: "audited"))
            .filter { $0.instanceID.hasPrefix("audited-b-") }
        let candidates = items.filter { $0.bindings["classifier"] == "banking-intent@2.0.0" }
        #expect(candidates.count >= 5, "\(candidates.count) of \(items.count) audited items on the candidate")
        for item in items {
            let onCandidate = item.bindings["classifier"] == "banking-intent@2.0.0"
            _ = try await AuditDesk(store: assembly.store, clock: assembly.engine.clock).giveVerdict(
                item: item.id, by: auditor,
                judgements: item.items.map { AuditJudgement(path: $0.path, correct: !onCandidate, correction: onCandidate ? "other" : nil) })
        }
        let judged = try #require(try await controller.advance(again.name, actor: "olu").first)
        #expect(judged.verdict == .failed, "\(judged.evidence)")
        let accuracy = judged.evidence["production_accuracy"]
        #expect(accuracy?["candidate"]?["correct"] == 0 && accuracy?["candidate"]?["audited"]?.integerValue == Int64(candidates.count), "\(judged.evidence) \(candidates.count) \(items.map(\.instanceID))")
        let current = items.count - candidates.count
        #expect(accuracy?["current"]?["audited"]?.integerValue == Int64(current) && (current == 0 || accuracy?["current"]?["accuracy"]?.doubleValue == 1))
    }
}
