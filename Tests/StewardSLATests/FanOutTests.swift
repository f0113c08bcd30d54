import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates
import StewardTesting
import Testing

/// `map` and `parallel` states on the engine `steward` runs: branches are child instances
/// (their own checkpoints included), at most `max_concurrency` run at once, outputs join in
/// order, `fail_fast` cancels the rest, `collect` gathers the failures, a cancelled parent
/// cancels its branches, and a parent a crash left between commits is reconciled by `resume`.
@Suite struct FanOutTests {
    static let template = """
        template: clause-check
        version: 1.0.0
        vertical: customer-support
        description: Scans every clause of a contract; a person reviews the ones with fraud language.
        aop:
          domain: Contract review.
          inputs: [A contract with clauses.]
          outputs: [A verdict per clause.]
          human_touchpoints:
            - review_clause, when the keyword scan finds fraud language in a clause.
          failure_modes: [Passing a clause with fraud language unread.]
          escalation_target: support-lead
          may: [Scan clauses.]
          may_not: [Pass a risky clause without a person.]
        plugins: [keywords]
        start: check
        states:
          check:
            kind: map
            items: input.clauses
            input: {text: item, position: index, contract: input.contract}
            max_concurrency: 5
            failure: FAILURE
            output: verdicts
            on_error: broken
            start: scan
            states:
              scan:
                kind: step
                step: keywords.classify
                input: {text: input.text}
                output: scan
                next: review_clause
              review_clause:
                kind: checkpoint
                credential: support-agent
                when: scan.category == "fraud"
                subject: scan
                decisions: {approve: passed, reject: refused}
              passed:
                kind: end
                status: completed
                output: {position: input.position, category: scan.category}
              refused:
                kind: end
                status: rejected
                output: {position: input.position, refused: true}
            next: finish
          broken:
            kind: end
            status: failed
            output: {error: errors.check}
          finish:
            kind: end
            status: completed
            output: {verdicts: verdicts, contract: input.contract}
        """

    static func open(_ directory: URL, failure: String = "collect") async throws -> EngineAssembly {
        let file = directory.appendingPathComponent("clause-check.yaml")
        try Self.template.replacingOccurrences(of: "FAILURE", with: failure).write(to: file, atomically: true, encoding: .utf8)
        let (plugins, libraries) = try SLAEngineTests.plugins.get()
        let assembly = try await EngineAssembly.assemble(EngineOptions(
            workspace: Workspace(root: SLAEngineTests.root), workflows: SLAEngineTests.root.appendingPathComponent("workflows").path,
            database: directory.appendingPathComponent("steward.db").path, pluginDirectories: [plugins.path], libraryDirectories: [libraries.path],
            buildPlugins: false, extraTemplate: file.path, clock: ManualEngineClock(milliseconds: SLAEngineTests.milliseconds("2026-12-01T15:00:00Z")),
            sleeper: RecordingSleeper()))
        #expect(assembly.problems.isEmpty, "\(assembly.problems)")
        return assembly
    }

    static func directory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-fanout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Twelve clauses, two with fraud language.
    static let clauses: JSONValue = .array((0..<12).map { index -> JSONValue in
        index == 3 || index == 8 ? .string("clause \(index): any unauthorised charge is fraud") : .string("clause \(index): payment is due monthly")
    })

    @Test func branchesRunAsChildrenWithTheirOwnCheckpointsAndJoinInOrder() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let assembly = try await Self.open(directory)
        let engine = assembly.engine
        let store = assembly.store
        let parent = try await engine.submit(
            template: "clause-check", customer: "acme-bank", input: ["clauses": Self.clauses, "contract": "C-7"], id: "contract-7")
        #expect(parent.status == .waiting && parent.current == "check", "\(parent)")
        let progress = try #require(parent.fanOut)
        #expect(progress.total == 12 && progress.started == 12 && progress.running.sorted() == [3, 8], "\(progress)")
        // The two risky clauses wait for a person, each as its own review task of its own instance.
        let tasks = try await store.openTasks(credentials: ["support-agent"], limit: 10)
        #expect(Set(tasks.map(\.instanceID)) == ["contract-7.check.1.3", "contract-7.check.1.8"], "\(tasks.map(\.instanceID))")
        let child = try #require(try await engine.currentState(id: "contract-7.check.1.3"))
        #expect(child.template == "clause-check:check" && child.parent == BranchLink(instance: "contract-7", state: "check", visit: 1, index: 3))
        #expect(child.data["input"] == ["text": Self.clauses.arrayValue?[3] ?? .null, "position": 3, "contract": "C-7"])
        // A parent waiting for its branches cannot be moved by a migration.
        let stayed = try? await engine.move(
            instance: "contract-7", version: nil, states: [:], bindings: ["x": "y@1.0.0"], migration: "m", by: "operator")
        if case .moved? = stayed { Issue.record("a fan-out parent was moved") }

        _ = try await engine.decide(
            instance: "contract-7.check.1.8", CheckpointDecision(state: "review_clause", decision: .reject, reason: "needs legal", reviewer: "rev-1", credential: "support-agent"))
        #expect(try await engine.currentState(id: "contract-7")?.fanOut?.running == [3])
        _ = try await engine.decide(
            instance: "contract-7.check.1.3", CheckpointDecision(state: "review_clause", decision: .approve, reviewer: "rev-1", credential: "support-agent"))
        let done = try #require(try await engine.currentState(id: "contract-7"))
        #expect(done.status == .completed && done.fanOut == nil, "\(done)")
        let verdicts = try #require(done.output?["verdicts"]?.arrayValue)
        #expect(verdicts.count == 12)
        #expect(verdicts.enumerated().allSatisfy { $0.element["position"]?.integerValue == Int64($0.offset) }, "in item order: \(verdicts)")
        #expect(verdicts[8] == ["position": 8, "refused": true] && verdicts[3]["category"] == "fraud" && verdicts[0]["category"] != "fraud")
        let history = try await store.history(of: "contract-7").map(\.kind)
        #expect(history.filter { $0 == "branch_finished" }.count == 12, "\(history)")
        let verification = try await assembly.auditor.verify()
        #expect(verification.problems.isEmpty, "\(verification.problems)")
    }

    @Test func failFastCancelsTheRunningBranchesAndCollectGathersFailures() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A clause that is not text fails its scan (invalid input): under fail_fast the fan-out
        // fails at once, the branches still running are cancelled, and on_error gets why.
        var clauses = Self.clauses.arrayValue ?? []
        clauses[5] = 42
        let fast = try await Self.open(directory, failure: "fail_fast")
        let failed = try await fast.engine.submit(
            template: "clause-check", customer: "acme-bank", input: ["clauses": .array(clauses), "contract": "C-8"], id: "contract-8")
        #expect(failed.status == .failed && failed.current == "broken", "\(failed)")
        #expect(failed.output?["error"]?["kind"] == "branch_failed" && failed.output?["error"]?["branch"] == "5", "\(String(describing: failed.output))")
        let risky = try #require(try await fast.engine.currentState(id: "contract-8.check.1.3"))
        #expect(risky.status == .cancelled, "the waiting branch is cancelled: \(risky.status)")
        #expect(try await fast.store.openTasks(credentials: ["support-agent"], limit: 10).isEmpty, "its review task is withdrawn")
        #expect(try await fast.engine.currentState(id: "contract-8.check.1.11") == nil, "branches not yet started never start")

        let collectDirectory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: collectDirectory) }
        let collect = try await Self.open(collectDirectory)
        clauses[3] = "clause 3: payment is due monthly"
        clauses[8] = "clause 8: payment is due monthly"
        let gathered = try await collect.engine.submit(
            template: "clause-check", customer: "acme-bank", input: ["clauses": .array(clauses), "contract": "C-9"], id: "contract-9")
        #expect(gathered.status == .completed, "\(gathered)")
        let verdicts = try #require(gathered.output?["verdicts"]?.arrayValue)
        #expect(verdicts.count == 12 && verdicts[5] == .null && verdicts[6]["position"] == 6)
        let errors = try #require(gathered.data["errors"]?["check"]?.arrayValue)
        #expect(errors.count == 1 && errors[0]["index"] == 5 && errors[0]["status"] == "failed", "\(errors)")
    }

    @Test func cancellingTheParentCancelsItsBranches() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let assembly = try await Self.open(directory)
        _ = try await assembly.engine.submit(
            template: "clause-check", customer: "acme-bank", input: ["clauses": Self.clauses, "contract": "C-10"], id: "contract-10")
        let cancelled = try await assembly.engine.cancel(instance: "contract-10", reason: "contract withdrawn", by: "operator")
        #expect(cancelled.status == .cancelled)
        for index in [3, 8] {
            let child = try #require(try await assembly.engine.currentState(id: "contract-10.check.1.\(index)"))
            #expect(child.status == .cancelled && child.data["cancelled"]?["reason"]?.stringValue?.contains("contract withdrawn") == true, "\(child.data)")
        }
        #expect(try await assembly.store.openTasks(credentials: ["support-agent"], limit: 10).isEmpty)
        #expect(try await assembly.auditor.verify().problems.isEmpty)
    }

    @Test func aRestartStartsTheBranchesACrashLeftUnstarted() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let assembly = try await Self.open(directory)
        // Committed, then "crashed" before any branch started (the effects were never performed).
        let parent = try await assembly.engine.submit(
            template: "clause-check", customer: "acme-bank", input: ["clauses": Self.clauses, "contract": "C-11"], id: "contract-11", drive: false)
        #expect(parent.fanOut?.started == 5 && parent.fanOut?.ended == 0)
        #expect(try await assembly.engine.currentState(id: "contract-11.check.1.0") == nil)
        let restarted = try await Self.open(directory)
        _ = try await restarted.engine.resume()
        let state = try #require(try await restarted.engine.currentState(id: "contract-11"))
        #expect(state.fanOut?.running.sorted() == [3, 8] && state.fanOut?.started == 12, "\(String(describing: state.fanOut))")
        // A second resume changes nothing: every start finds its child.
        _ = try await restarted.engine.resume()
        #expect(try await restarted.store.history(of: "contract-11").filter { $0.kind == "branch_finished" }.count == 10)
    }

    @Test func aParallelStateRunsNamedAndInlineBranches() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let parallel = """
            template: clause-pair
            version: 1.0.0
            vertical: customer-support
            description: Checks one contract two ways at once.
            aop:
              domain: Contract review.
              inputs: [A contract with clauses.]
              outputs: [Both checks.]
              human_touchpoints: [none]
              failure_modes: [Missing a risky clause.]
              escalation_target: support-lead
              may: [Scan clauses.]
              may_not: [Approve risky clauses alone.]
            plugins: [keywords]
            start: both
            states:
              both:
                kind: parallel
                branches:
                  clauses: {template: clause-check}
                  title:
                    states:
                      scan: {kind: step, step: keywords.classify, input: {text: input.title}, output: scan, next: done}
                      done: {kind: end, status: completed, output: {category: scan.category}}
                output: checks
                next: done
              done:
                kind: end
                status: completed
                output: checks
            """
        try parallel.write(to: directory.appendingPathComponent("clause-pair.yaml"), atomically: true, encoding: .utf8)
        let file = directory.appendingPathComponent("clause-check.yaml")
        try Self.template.replacingOccurrences(of: "FAILURE", with: "collect").write(to: file, atomically: true, encoding: .utf8)
        let (plugins, libraries) = try SLAEngineTests.plugins.get()
        let assembly = try await EngineAssembly.assemble(EngineOptions(
            workspace: Workspace(root: SLAEngineTests.root), workflows: directory.path,
            database: directory.appendingPathComponent("steward.db").path, pluginDirectories: [plugins.path], libraryDirectories: [libraries.path],
            buildPlugins: false, sleeper: RecordingSleeper()))
        #expect(assembly.problems.isEmpty, "\(assembly.problems)")
        let clauses: JSONValue = ["payment is due monthly", "notice period is thirty days"]
        let done = try await assembly.engine.submit(
            template: "clause-pair", input: ["clauses": clauses, "contract": "C-12", "title": "my card was stolen"], id: "pair-1")
        #expect(done.status == .completed, "\(done)")
        #expect(done.output?["clauses"]?["contract"] == "C-12" && done.output?["clauses"]?["verdicts"]?.arrayValue?.count == 2, "\(String(describing: done.output))")
        #expect(done.output?["title"]?["category"] == "card_lost", "\(String(describing: done.output))")
        let named = try #require(try await assembly.engine.currentState(id: "pair-1.both.1.0"))
        #expect(named.template == "clause-check" && named.status == .completed)
    }

    static func problems(_ text: String) -> [String] {
        let result = Result { () throws(TemplateErrors) -> Plan in try Plan(validating: try TemplateParser.parse(text, file: "f.yaml"), catalog: nil) }
        guard case .failure(let errors) = result else { return [] }
        return errors.diagnostics.map(\.description)
    }

    @Test func aMisstatedFanOutIsRefusedWithItsLocation() {
        let valid = Self.template.replacingOccurrences(of: "FAILURE", with: "collect")
        #expect(Self.problems(valid).isEmpty, "\(Self.problems(valid))")
        #expect(Self.problems(valid.replacingOccurrences(of: "failure: collect", with: "failure: colect")).contains {
            $0.contains("unknown failure policy 'colect'") && $0.contains("did you mean 'collect'")
        })
        #expect(Self.problems(valid.replacingOccurrences(of: "items: input.clauses", with: "items: clauzes")).contains {
            $0.contains("'items' of map state 'check' reads 'clauzes'")
        })
        // A mistake inside the branch is located in the branch.
        let inner = Self.problems(valid.replacingOccurrences(of: "decisions: {approve: passed, reject: refused}", with: "decisions: {approve: pased, reject: refused}"))
        #expect(inner.contains { $0.contains("f.yaml:") && $0.contains("unknown state 'pased'") && $0.contains("did you mean 'passed'") }, "\(inner)")
        let both = Self.problems(valid.replacingOccurrences(of: "    start: scan\n", with: "    template: other\n    start: scan\n"))
        #expect(both.contains { $0.contains("has both 'template' and 'states'") }, "\(both)")
        // The branch's checkpoint is one of the template's touchpoints.
        let unnamed = Self.problems(valid.replacingOccurrences(of: "review_clause, when", with: "review, when"))
        #expect(unnamed.contains { $0.contains("review_clause") }, "\(unnamed)")
    }
}
