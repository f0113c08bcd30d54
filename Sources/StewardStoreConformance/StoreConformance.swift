import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates

/// A check of the store conformance suite failed: what was expected and what the store did.
public struct ConformanceFailure: Error, Sendable, CustomStringConvertible {
    /// The check's name and what went wrong.
    public let description: String
}

/// The contract every store backend must keep, written once and run against each (the SQLite
/// store's tests run it; the PostgreSQL store must pass it unchanged). Each check gets a new,
/// empty store and drives it only through the `EngineStore` protocols.
///
/// ```swift
/// @Test(arguments: StoreConformance.checks)
/// func conforms(_ check: StoreConformance.Check) async throws {
///     try await check.run(makeEmptyStore())
/// }
/// ```
public enum StoreConformance {
    /// One named check.
    public struct Check: Sendable, CustomStringConvertible {
        /// What it checks, for test names.
        public let name: String
        let body: @Sendable (any EngineStore) async throws -> Void

        /// Runs the check against an empty store.
        /// - Throws: `ConformanceFailure` naming what the store did wrong, or the store's error.
        public func run(_ store: any EngineStore) async throws { try await body(store) }

        /// The name.
        public var description: String { name }
    }

    /// Every check, in a stable order.
    public static let checks: [Check] = [
        Check(name: "a commit applies only on the next sequence; a conflict changes nothing", body: sequenceIsChecked),
        Check(name: "a client key is used once and finds its instance", body: clientKeys),
        Check(name: "a running instance is its snapshot plus the events after it", body: snapshotAndTail),
        Check(name: "recovery pages through running instances in id order", body: runnableInstances),
        Check(name: "a checkpoint opens a task with its deadline and timers; a decision closes it and cancels them", body: tasksAndTimers),
        Check(name: "a fired timer fires once; a discarded one never", body: timersFireOnce),
        Check(name: "a task's claim is replaced only over the claim the writer saw, and only while the task is open", body: claims),
        Check(name: "escalation reassigns the open task and records notifications", body: escalation),
        Check(name: "a reviewer's edit keeps a labelled example", body: labelledExamples),
        Check(name: "configs and template texts are stored once by hash", body: pinnedContent),
        Check(name: "reviewers are added and removed with an audit entry, found by token hash", body: reviewers),
        Check(name: "the journal chains instance events and audit entries and verifies intact", body: journal),
        Check(name: "the journal head names the newest row, its hash and the authority tables' sizes", body: journalHead),
        Check(name: "reviewers and review tasks written through commits verify intact", body: authorityVerifies),
        Check(name: "instance lists, counts and queue depths", body: queries),
        Check(name: "instance pages and counts per template version and status follow every filter", body: pagesAndCounts),
        Check(name: "concurrent commits of many instances all land, exactly once", body: concurrentCommits),
        Check(name: "a commit records the audit items it samples; a second one for the same visit is a conflict", body: auditSamples),
        Check(name: "verdicts complete an audit item in order; a reviewer reviews an item once; a complete item takes no more", body: auditVerdicts),
        Check(name: "audit items filter by open, credential, template and customer", body: auditQueries),
        Check(name: "audit items and verdicts are journalled and verify intact", body: auditVerifies),
        Check(name: "eval runs are immutable records; a due time yields one run; blocks and notifications land with it", body: evalRuns),
        Check(name: "migrations and their customers' progress are stored and moved with journal entries", body: migrations),
        Check(name: "a move withdraws the open task, opens the new one at the same state name, follows the version and verifies", body: moves),
        Check(name: "an instance waiting for an event is found by its correlation key until it leaves the state", body: eventWaits),
        Check(name: "the notification outbox routes each notification once per channel and keeps each delivery's log", body: outbox),
    ]

    // MARK: Helpers

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String, line: Int = #line) throws {
        guard condition else { throw ConformanceFailure(description: "line \(line): \(message())") }
    }

    static func state(_ id: String, sequence: Int, status: InstanceStatus = .running, current: String = "work") -> InstanceState {
        var state = InstanceState(id: id, template: "conformance", templateVersion: "1.0.0", customer: "acme")
        state.sequence = sequence
        state.status = status
        state.current = current
        state.attempt = status == .running ? 1 : 0
        state.data = ["input": ["n": .integer(Int64(sequence))]]
        return state
    }

    static func started(_ id: String, status: InstanceStatus = .running, current: String = "work", clientKey: String? = nil) -> InstanceCommit {
        InstanceCommit(
            state: state(id, sequence: 1, status: status, current: current), event: .started(input: ["n": 1]), actor: "engine", at: 1_000,
            clientKey: clientKey)
    }

    static func step(_ id: String, sequence: Int, status: InstanceStatus = .running, current: String = "work") -> InstanceCommit {
        InstanceCommit(
            state: state(id, sequence: sequence, status: status, current: current),
            event: .stepSucceeded(state: "work", attempt: 1, output: ["step": .integer(Int64(sequence))]), actor: "engine",
            at: 1_000 + Int64(sequence))
    }

    static func conflicts(_ body: () async throws -> Void) async throws -> Bool {
        do {
            try await body()
            return false
        } catch is StoreConflict {
            return true
        }
    }

    /// An instance waiting at checkpoint `review` with an open task, a deadline and two timers.
    static func waiting(_ id: String, in store: any EngineStore) async throws {
        try await store.commit(started(id))
        var commit = step(id, sequence: 2, status: .waiting, current: "review")
        commit.openedCheckpoint = CheckpointRequest(
            state: "review", credential: "support-agent", subject: ["draft": "hello"], decisions: [.approve, .edit, .reject])
        commit.schedule = CheckpointSchedule(dueAt: 9_000, timers: [
            ScheduledTimer(kind: TimerFired.slaWarning, at: 5_000, payload: ["priority": "P1"]),
            ScheduledTimer(kind: TimerFired.slaBreach, at: 9_000, payload: ["priority": "P1"]),
        ])
        try await store.commit(commit)
    }

    /// An instance that passed checkpoint `review` unreviewed, finished, with an audit item
    /// of two judged paths needing `needed` reviews.
    static func sampled(
        _ id: String, needed: Int = 1, credential: String = "support-agent", customer: String = "acme", template: String = "conformance",
        in store: any EngineStore
    ) async throws {
        var commit = started(id, status: .completed, current: "done")
        commit.state.customer = customer
        commit.state.template = template
        commit.state.bindings = ["classifier": "banking-intent@2.0.0"]
        commit.auditSamples = [
            AuditRequest(
                state: "review", visit: 1, credential: credential,
                items: [AuditedValue(path: "classification.label", value: "card_arrival"), AuditedValue(path: "routing.priority", value: "P3")],
                neededReviews: needed, rate: 0.05, bindings: commit.state.bindings, input: ["text": .string("ticket \(id)")])
        ]
        try await store.commit(commit)
    }

    static func verdict(_ reviewer: String, at: Int64, labelCorrect: Bool = true) -> AuditVerdict {
        AuditVerdict(
            reviewer: reviewer, credential: "support-agent", at: at,
            judgements: [
                AuditJudgement(path: "classification.label", correct: labelCorrect, correction: labelCorrect ? nil : "card_delivery_estimate"),
                AuditJudgement(path: "routing.priority", correct: true),
            ])
    }

    // MARK: Checks

    static func sequenceIsChecked(_ store: any EngineStore) async throws {
        try await store.commit(started("a"))
        try expect(try await conflicts { try await store.commit(started("a")) }, "a second start of the same id is a conflict")
        try expect(try await conflicts { try await store.commit(step("a", sequence: 3)) }, "skipping a sequence is a conflict")
        try expect(try await conflicts { try await store.commit(step("missing", sequence: 2)) }, "an unknown instance is a conflict")
        try await store.commit(step("a", sequence: 2))
        try expect(try await conflicts { try await store.commit(step("a", sequence: 2)) }, "the same sequence twice is a conflict")
        let (_, tail) = try await store.instanceWithTail(id: "a") ?? (state("a", sequence: 0), [])
        try expect(tail.count == 1, "one event after the creation snapshot, found \(tail.count)")
        let history = try await store.history(of: "a")
        try expect(history.map(\.kind) == ["started", "step_succeeded"], "history is \(history.map(\.kind))")
        try expect(history.map(\.sequence) == [1, 2], "sequences are \(history.map(\.sequence))")
    }

    static func clientKeys(_ store: any EngineStore) async throws {
        try await store.commit(started("k1", clientKey: "order-7"))
        try expect(
            try await conflicts { try await store.commit(started("k2", clientKey: "order-7")) }, "a used client key is a conflict")
        try expect(try await store.instance(clientKey: "order-7")?.id == "k1", "the client key finds its instance")
        try expect(try await store.instance(clientKey: "nope") == nil, "an unknown client key finds nothing")
        try expect(try await store.instance(id: "k2") == nil, "the refused instance was not stored")
    }

    static func snapshotAndTail(_ store: any EngineStore) async throws {
        try await store.commit(started("s"))
        try await store.commit(step("s", sequence: 2))
        try await store.commit(step("s", sequence: 3))
        guard let (snapshot, tail) = try await store.instanceWithTail(id: "s") else { throw ConformanceFailure(description: "no instance s") }
        try expect(snapshot.sequence + tail.count == 3, "snapshot \(snapshot.sequence) + \(tail.count) events must make 3")
        // At rest the snapshot is exact.
        try await store.commit(step("s", sequence: 4, status: .completed, current: "done"))
        guard let (rest, restTail) = try await store.instanceWithTail(id: "s") else { throw ConformanceFailure(description: "no instance s") }
        try expect(restTail.isEmpty && rest.sequence == 4 && rest.status == .completed, "a finished instance's snapshot is exact")
        try expect(try await store.instance(id: "s")?.status == .completed, "instance(id:) reads the snapshot")
    }

    static func runnableInstances(_ store: any EngineStore) async throws {
        for index in 0..<5 { try await store.commit(started("r\(index)")) }
        try await store.commit(started("w", status: .waiting, current: "review"))
        let first = try await store.runnableInstances(after: nil, limit: 3)
        try expect(first.map(\.0.id) == ["r0", "r1", "r2"], "first page is \(first.map(\.0.id))")
        let second = try await store.runnableInstances(after: "r2", limit: 3)
        try expect(second.map(\.0.id) == ["r3", "r4"], "second page is \(second.map(\.0.id)); waiting instances are not runnable")
    }

    static func tasksAndTimers(_ store: any EngineStore) async throws {
        try await waiting("t", in: store)
        let tasks = try await store.openTasks(credentials: ["support-agent"], limit: 10)
        try expect(tasks.count == 1, "one open task, found \(tasks.count)")
        guard let task = tasks.first else { return }
        try expect(task.dueAt == 9_000 && task.state == "review" && task.decisions == [.approve, .edit, .reject], "task is \(task)")
        try expect(task.subject == ["draft": "hello"] && task.instanceID == "t" && task.template == "conformance", "task is \(task)")
        try expect(try await store.openTasks(credentials: ["attorney"], limit: 10).isEmpty, "other credentials see nothing")
        try expect(try await store.task(id: task.id)?.status == "open", "task(id:) finds it")
        let pending = try await store.pendingTimers(of: "t")
        try expect(pending.map(\.kind) == [TimerFired.slaWarning, TimerFired.slaBreach], "pending timers are \(pending.map(\.kind))")
        try expect(try await store.dueTimers(now: 4_999, limit: 10).isEmpty, "nothing is due before the warning")
        let due = try await store.dueTimers(now: 5_000, limit: 10)
        try expect(due.map(\.kind) == [TimerFired.slaWarning] && due.first?.state == "review" && due.first?.task == task.id, "due: \(due)")
        var decide = step("t", sequence: 3, status: .completed, current: "done")
        decide.event = .checkpointDecided(CheckpointDecision(state: "review", decision: .approve, reviewer: "rv-1", credential: "support-agent"))
        decide.closedTask = TaskClosure(state: "review", decision: .approve, reviewer: "rv-1")
        decide.cancelTimersOf = "review"
        try await store.commit(decide)
        let closed = try await store.task(id: task.id)
        try expect(closed?.status == "decided" && closed?.decision == "approve" && closed?.reviewer == "rv-1", "closed task is \(String(describing: closed))")
        try expect(try await store.openTasks(credentials: nil, limit: 10).isEmpty, "no open task is left")
        try expect(try await store.pendingTimers(of: "t").isEmpty, "leaving the checkpoint cancels its timers")
        try expect(try await store.dueTimers(now: 100_000, limit: 10).isEmpty, "cancelled timers are never due")
    }

    static func claims(_ store: any EngineStore) async throws {
        try await waiting("k", in: store)
        guard let task = try await store.openTasks(credentials: nil, limit: 10).first else { throw ConformanceFailure(description: "no open task") }
        try expect(try await store.claims(tasks: [task.id]).isEmpty, "a new task has no claim")
        let ana = ReviewClaim(task: task.id, reviewer: "rv-ana", claimedAt: 1_000, until: 2_000)
        let bo = ReviewClaim(task: task.id, reviewer: "rv-bo", claimedAt: 1_500, until: 2_500)
        try expect(try await store.replaceClaim(task: task.id, expected: nil, with: ana), "the first claim lands")
        try expect(try await store.claims(tasks: [task.id, 999]) == [task.id: ana], "the claim is read back, unknown tasks have none")
        try expect(!(try await store.replaceClaim(task: task.id, expected: nil, with: bo)), "a writer that saw no claim loses to the one that claimed")
        try expect(try await store.claims(tasks: [task.id])[task.id] == ana, "the refused claim changed nothing")
        // Each of two writers that saw Ana's claim tries to take it over: exactly one wins.
        let carl = ReviewClaim(task: task.id, reviewer: "rv-carl", claimedAt: 2_100, until: 3_100)
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for claim in [bo, carl] { group.addTask { try await store.replaceClaim(task: task.id, expected: ana, with: claim) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try expect(wins == 1, "exactly one of two racing claims wins, \(wins) did")
        guard let held = try await store.claims(tasks: [task.id])[task.id] else { throw ConformanceFailure(description: "the claim vanished") }
        try expect(held == bo || held == carl, "the winner's claim is stored, found \(held)")
        try expect(try await store.replaceClaim(task: task.id, expected: held, with: nil), "the holder releases it")
        try expect(try await store.claims(tasks: [task.id]).isEmpty, "a released claim is gone")
        var decide = step("k", sequence: 3, status: .completed, current: "done")
        decide.event = .checkpointDecided(CheckpointDecision(state: "review", decision: .approve, reviewer: "rv-1", credential: "support-agent"))
        decide.closedTask = TaskClosure(state: "review", decision: .approve, reviewer: "rv-1")
        decide.cancelTimersOf = "review"
        try await store.commit(decide)
        try expect(!(try await store.replaceClaim(task: task.id, expected: nil, with: ana)), "a decided task takes no claim")
        try expect(!(try await store.replaceClaim(task: 999_999, expected: nil, with: ana)), "an unknown task takes no claim")
        try expect(try await store.verifyJournal().problems.isEmpty, "claims leave the journal's authority tables as they were")
    }

    static func timersFireOnce(_ store: any EngineStore) async throws {
        try await waiting("f", in: store)
        let due = try await store.dueTimers(now: 10_000, limit: 10)
        try expect(due.count == 2, "two timers due, found \(due.count)")
        guard due.count == 2 else { return }
        var fire = step("f", sequence: 3, status: .waiting, current: "review")
        fire.event = .timerFired(TimerFired(timer: due[0].id, kind: due[0].kind, state: "review", dueAt: due[0].dueAt, payload: due[0].payload))
        fire.firedTimer = due[0].id
        try await store.commit(fire)
        var again = step("f", sequence: 4, status: .waiting, current: "review")
        again.event = fire.event
        again.firedTimer = due[0].id
        try expect(try await conflicts { try await store.commit(again) }, "a timer that fired cannot fire again")
        try expect(try await store.instanceWithTail(id: "f").map { $0.0.sequence + $0.1.count } == 3, "the refused firing wrote nothing")
        try await store.discardTimer(id: due[1].id, at: 10_000)
        try expect(try await store.dueTimers(now: 100_000, limit: 10).isEmpty, "a discarded timer is never due")
        var late = step("f", sequence: 4, status: .waiting, current: "review")
        late.firedTimer = due[1].id
        try expect(try await conflicts { try await store.commit(late) }, "a discarded timer cannot fire")
        let events = try await store.history(of: "f").map(\.kind)
        try expect(events.filter { $0 == "timer_fired" }.count == 1, "one timer_fired event, history \(events)")
    }

    static func escalation(_ store: any EngineStore) async throws {
        try await waiting("e", in: store)
        guard let timer = try await store.dueTimers(now: 5_000, limit: 10).first else { throw ConformanceFailure(description: "no due timer") }
        var fire = step("e", sequence: 3, status: .waiting, current: "review")
        fire.firedTimer = timer.id
        fire.escalation = TaskEscalation(state: "review", level: 1, assigned: "senior-agent")
        fire.notifications = [NewNotification(recipient: "senior-agent", message: "task is close to its deadline", task: timer.task)]
        try await store.commit(fire)
        let task = try await store.openTasks(credentials: ["senior-agent"], limit: 10)
        try expect(task.first?.assigned == "senior-agent" && task.first?.escalationLevel == 1, "the task is reassigned: \(task)")
        let notifications = try await store.notifications(limit: 10)
        try expect(
            notifications.map(\.recipient) == ["senior-agent"] && notifications.first?.instance == "e", "notifications: \(notifications)")
        let depths = try await store.queueDepths(now: 10_000)
        try expect(depths == [QueueDepth(credential: "support-agent", open: 1, overdue: 1)], "queue depths: \(depths)")
    }

    static func labelledExamples(_ store: any EngineStore) async throws {
        try await waiting("l", in: store)
        var decide = step("l", sequence: 3, status: .completed, current: "done")
        decide.closedTask = TaskClosure(state: "review", decision: .edit, reviewer: "rv-2")
        decide.labelledExample = LabelledExample(
            state: "review", template: "conformance", input: ["n": 1], modelOutput: ["draft": "hello"], humanOutput: ["draft": "Hello!"],
            reviewer: "rv-2")
        try await store.commit(decide)
        let examples = try await store.labelledExamples(template: "conformance")
        try expect(examples.count == 1, "one labelled example, found \(examples.count)")
        try expect(
            examples.first?["human_output"] == ["draft": "Hello!"] && examples.first?["model_output"] == ["draft": "hello"]
                && examples.first?["instance"] == "l",
            "example: \(String(describing: examples.first))")
        try expect(try await store.labelledExamples(template: "other").isEmpty, "examples filter by template")
    }

    static func pinnedContent(_ store: any EngineStore) async throws {
        let snapshot = TemplateSnapshot(name: "conformance", version: "1.0.0", text: "template: conformance\n", prompts: ["v/p@1": "Hi {{name}}"])
        for id in ["p1", "p2"] {
            var commit = started(id)
            commit.state.configHash = "cfg-1"
            commit.state.templateHash = snapshot.hash
            commit.pinnedConfig = ["threshold": 0.7]
            commit.pinnedTemplate = snapshot
            try await store.commit(commit)
        }
        try expect(try await store.config(hash: "cfg-1") == ["threshold": 0.7], "the pinned config is stored by hash")
        try expect(try await store.config(hash: "cfg-x") == nil, "an unknown config hash finds nothing")
        try expect(try await store.template(hash: snapshot.hash) == snapshot, "the pinned template is stored whole")
        let all = try await store.templates()
        try expect(all == [snapshot], "one stored template, found \(all.count)")
        try expect(
            try await store.instance(id: "p2")?.templateHash == snapshot.hash, "the instance records the hash of its template text")
    }

    static func reviewers(_ store: any EngineStore) async throws {
        let ana = Reviewer(id: "rv-ana", name: "Ana", credentials: ["support-agent"], role: "reviewer", createdAt: 7)
        try await store.insertReviewer(ana, tokenHash: "hash-ana", by: "operator")
        try expect(try await store.reviewer(tokenHash: "hash-ana") == ana, "found by token hash")
        try expect(try await store.reviewer(tokenHash: "hash-x") == nil, "an unknown hash finds no one")
        try expect(try await store.reviewers() == [ana], "listed")
        try expect(try await store.deleteReviewer(id: "rv-ana", by: "operator", at: 8), "removed")
        try expect(!(try await store.deleteReviewer(id: "rv-ana", by: "operator", at: 9)), "a second removal finds no one")
        try expect(try await store.reviewer(tokenHash: "hash-ana") == nil, "a removed reviewer's token stops working")
        let audit = try await store.auditEntries(limit: 10).map(\.kind)
        try expect(audit == ["reviewer_removed", "reviewer_added"], "audit, newest first: \(audit)")
    }

    static func journal(_ store: any EngineStore) async throws {
        try await store.commit(started("j"))
        try await store.appendAudit(kind: "decision_refused", actor: "rv-9", payload: ["task": 1], at: 2_000, instance: "j")
        try await store.commit(step("j", sequence: 2, status: .completed, current: "done"))
        let history = try await store.history(of: "j")
        try expect(history.map(\.kind) == ["started", "decision_refused", "step_succeeded"], "history: \(history.map(\.kind))")
        try expect(history[1].sequence == nil && history[1].actor == "rv-9", "an audit entry has no sequence")
        let verification = try await store.verifyJournal()
        try expect(verification.problems.isEmpty && verification.rowsChecked == 3, "verification: \(verification)")
        let replay = try await store.instancesWithEvents(after: nil, limit: 10)
        try expect(replay.count == 1 && replay.first?.1.count == 2, "instancesWithEvents gives every event of j")
    }

    static func journalHead(_ store: any EngineStore) async throws {
        let empty = try await store.journalHead()
        try expect(empty == JournalHead(lastID: 0, lastHash: String(repeating: "0", count: 64), rows: 0, reviewers: 0, tasks: 0), "empty: \(empty)")
        try await waiting("h", in: store)
        let ana = Reviewer(id: "rv-ana", name: "Ana", credentials: ["support-agent"], role: "reviewer", createdAt: 7)
        try await store.insertReviewer(ana, tokenHash: "hash-ana", by: "operator")
        let head = try await store.journalHead()
        try expect(head.lastID == 3 && head.rows == 3 && head.reviewers == 1 && head.tasks == 1, "head: \(head)")
        try expect(head.lastHash.count == 64 && head.lastHash != empty.lastHash, "the head's hash is hex: \(head.lastHash)")
        try expect(try await store.journalHash(id: 3) == head.lastHash, "journalHash(id:) of the newest row is the head's hash")
        let second = try await store.journalHash(id: 2)
        try expect(second != nil && second != head.lastHash, "an older row has its own hash")
        try expect(try await store.journalHash(id: 4) == nil, "a row past the end has no hash")
    }

    static func moves(_ store: any EngineStore) async throws {
        try await waiting("m", in: store)
        let old = try await store.openTasks(credentials: nil, limit: 10).first { $0.instanceID == "m" }
        // Moved to version 2.0.0, waiting again at a state of the same name: a new task opens.
        var move = step("m", sequence: 3, status: .waiting, current: "review")
        move.state.templateVersion = "2.0.0"
        move.event = .moved(InstanceMove(
            migration: "to-2", from: "review", fromVersion: "1.0.0", to: "review", templateVersion: "2.0.0", templateHash: nil, configHash: nil,
            by: "olu"))
        move.withdrawnTask = TaskWithdrawal(state: "review", status: "moved")
        move.cancelTimersOf = "review"
        move.openedCheckpoint = CheckpointRequest(state: "review", credential: "support-agent", subject: ["draft": "hello again"], decisions: [.approve])
        try await store.commit(move)
        let withdrawn = try await store.task(id: old?.id ?? -1)
        try expect(withdrawn?.status == "moved", "the old task is \(String(describing: withdrawn?.status))")
        let open = try await store.openTasks(credentials: nil, limit: 10).filter { $0.instanceID == "m" }
        try expect(open.count == 1 && open.first?.id != old?.id && open.first?.subject == ["draft": "hello again"], "open tasks: \(open)")
        try expect(try await store.pendingTimers(of: "m").isEmpty, "the old state's timers are cancelled")
        let listed = try await store.instances(status: .waiting, template: "conformance", customer: "acme", limit: 10).first { $0.id == "m" }
        try expect(listed?.version == "2.0.0", "the listing's version follows the move: \(String(describing: listed?.version))")
        let events = try await store.instanceWithTail(id: "m")
        try expect(events?.0.templateVersion == "2.0.0", "the snapshot is the moved state")
        let verification = try await store.verifyJournal()
        try expect(verification.problems.isEmpty, "a withdrawn task and a new one verify: \(verification.problems)")
    }

    static func eventWaits(_ store: any EngineStore) async throws {
        try await store.commit(started("e1"))
        try await store.commit(started("e2"))
        for id in ["e1", "e2"] {
            var wait = step(id, sequence: 2, status: .waiting, current: "ask")
            wait.eventWait = EventWait(state: "ask", event: "customer_reply", key: "T-1")
            try await store.commit(wait)
        }
        try expect(try await store.instancesWaiting(forEvent: "customer_reply", key: "T-1") == ["e1", "e2"], "both wait, oldest first")
        try expect(try await store.instancesWaiting(forEvent: "customer_reply", key: "T-2").isEmpty, "another key finds none")
        try expect(try await store.instancesWaiting(forEvent: "other", key: "T-1").isEmpty, "another event finds none")
        var leave = step("e1", sequence: 3, status: .completed, current: "done")
        leave.cancelTimersOf = "ask"
        try await store.commit(leave)
        try expect(try await store.instancesWaiting(forEvent: "customer_reply", key: "T-1") == ["e2"], "leaving the state forgets the wait")
    }

    static func outbox(_ store: any EngineStore) async throws {
        var commit = started("n1")
        commit.notifications = [NewNotification(recipient: "lead", message: "one", task: nil), NewNotification(recipient: "lead", message: "two", task: nil)]
        try await store.commit(commit)
        let all = try await store.notifications(after: 0, limit: 10)
        try expect(all.map(\.message) == ["one", "two"] && all.allSatisfy { $0.instance == "n1" && $0.customer == "acme" }, "notifications: \(all)")
        try expect(try await store.latestNotifications(limit: 1).map(\.message) == ["two"], "newest first")
        try expect(try await store.deliveryCursor(channel: "ops") == 0, "a new channel starts at 0")
        try await store.enqueueDeliveries(channel: "ops", notifications: all.map(\.id), cursor: all[1].id, at: 100)
        try await store.enqueueDeliveries(channel: "ops", notifications: all.map(\.id), cursor: all[0].id, at: 100)
        try expect(try await store.deliveryCursor(channel: "ops") == all[1].id, "the cursor never moves back")
        var due = try await store.dueDeliveries(now: 100, limit: 10)
        try expect(due.count == 2 && due.allSatisfy { $0.status == "pending" && $0.attempts == 0 }, "routing twice queues once: \(due)")
        var first = due[0]
        first.attempts = 1
        first.nextAttemptAt = 500
        first.lastError = "HTTP 500"
        first.lastStatus = 500
        try await store.updateDelivery(first)
        due = try await store.dueDeliveries(now: 499, limit: 10)
        try expect(due.map(\.notification) == [all[1].id], "a delivery waits for its backoff")
        try expect(try await store.deliveries(notification: first.notification, limit: 10) == [first], "the log keeps the attempt")
        try expect(try await store.retryDeliveries(notification: first.notification, now: 600).map(\.attempts) == [0], "a retry gives a fresh budget")
    }

    static func authorityVerifies(_ store: any EngineStore) async throws {
        try await waiting("v", in: store)
        try await waiting("w", in: store)
        var escalate = step("v", sequence: 3, status: .waiting, current: "review")
        escalate.escalation = TaskEscalation(state: "review", level: 1, assigned: "team-lead")
        try await store.commit(escalate)
        var decide = step("w", sequence: 3, status: .completed, current: "done")
        decide.event = .checkpointDecided(CheckpointDecision(state: "review", decision: .reject, reviewer: "rv-1", credential: "support-agent"))
        decide.closedTask = TaskClosure(state: "review", decision: .reject, reviewer: "rv-1")
        try await store.commit(decide)
        let lou = Reviewer(id: "rv-lou", name: "Lou", credentials: ["attorney"], role: "operator", createdAt: 8)
        try await store.insertReviewer(lou, tokenHash: "hash-lou", by: "operator")
        try await store.insertReviewer(Reviewer(id: "rv-x", name: "X", credentials: [], role: "reviewer", createdAt: 9), tokenHash: "hash-x", by: "operator")
        _ = try await store.deleteReviewer(id: "rv-x", by: "operator", at: 10)
        let verification = try await store.verifyJournal()
        try expect(verification.problems.isEmpty, "escalated, decided, added and removed: \(verification.problems)")
    }

    static func queries(_ store: any EngineStore) async throws {
        try await store.commit(started("q1"))
        try await store.commit(started("q2", status: .waiting, current: "review"))
        try await store.commit(step("q1", sequence: 2, status: .completed, current: "done"))
        let counts = try await store.countByStatus()
        try expect(counts[.completed] == 1 && counts[.waiting] == 1, "counts: \(counts)")
        let waiting = try await store.instances(status: .waiting, template: nil, customer: nil, limit: 10)
        try expect(waiting.map(\.id) == ["q2"], "waiting: \(waiting.map(\.id))")
        let newest = try await store.instances(status: nil, template: "conformance", customer: "acme", limit: 10)
        try expect(newest.map(\.id) == ["q2", "q1"], "newest first: \(newest.map(\.id))")
        try expect(try await store.instances(status: nil, template: nil, customer: "other", limit: 10).isEmpty, "customer filter")
    }

    static func pagesAndCounts(_ store: any EngineStore) async throws {
        // p1..p5 of 1.0.0 (p5 failed, p4 waiting), v1 of 2.0.0 (failed), created at 1_000.
        for id in ["p1", "p2", "p3"] { try await store.commit(started(id)) }
        try await store.commit(started("p4", status: .waiting, current: "review"))
        try await store.commit(started("p5", status: .failed, current: "work"))
        var other = started("v1", status: .failed, current: "work")
        other.state.templateVersion = "2.0.0"
        try await store.commit(other)

        let page1 = try await store.instances(InstanceQuery(template: "conformance", version: "1.0.0", limit: 2))
        let page2 = try await store.instances(InstanceQuery(template: "conformance", version: "1.0.0", limit: 2, offset: 2))
        let page3 = try await store.instances(InstanceQuery(template: "conformance", version: "1.0.0", limit: 2, offset: 4))
        try expect(page1.map(\.id) == ["p5", "p4"] && page2.map(\.id) == ["p3", "p2"] && page3.map(\.id) == ["p1"], "pages: \(page1.map(\.id)) \(page2.map(\.id)) \(page3.map(\.id))")
        try expect(try await store.instances(InstanceQuery(version: "2.0.0")).map(\.id) == ["v1"], "version filter")
        try expect(try await store.instances(InstanceQuery(createdBefore: 999)).isEmpty, "age filter")

        let all = try await store.instanceCounts(InstanceQuery())
        try expect(
            all == [
                InstanceCount(template: "conformance", version: "1.0.0", status: .failed, count: 1),
                InstanceCount(template: "conformance", version: "1.0.0", status: .running, count: 3),
                InstanceCount(template: "conformance", version: "1.0.0", status: .waiting, count: 1),
                InstanceCount(template: "conformance", version: "2.0.0", status: .failed, count: 1),
            ], "counts: \(all)")
        let failedAtWork = try await store.instanceCounts(InstanceQuery(status: .failed, state: "work", limit: 1))
        try expect(failedAtWork.map(\.count) == [1, 1] && failedAtWork.map(\.version) == ["1.0.0", "2.0.0"], "filtered counts ignore limit: \(failedAtWork)")
        try expect(try await store.instanceCounts(InstanceQuery(customer: "other")).isEmpty, "no instance, no count")
    }

    static func concurrentCommits(_ store: any EngineStore) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<64 {
                group.addTask {
                    try await store.commit(started("c\(index)"))
                    for sequence in 2...4 { try await store.commit(step("c\(index)", sequence: sequence)) }
                }
            }
            try await group.waitForAll()
        }
        try expect(try await store.countByStatus()[.running] == 64, "64 running instances")
        let verification = try await store.verifyJournal()
        try expect(verification.rowsChecked == 256 && verification.problems.isEmpty, "verification: \(verification)")
    }

    static func auditSamples(_ store: any EngineStore) async throws {
        try await sampled("a1", needed: 2, in: store)
        let items = try await store.auditItems(AuditQuery())
        try expect(items.count == 1, "one audit item, found \(items.count)")
        guard let item = items.first else { return }
        try expect(
            item.instanceID == "a1" && item.template == "conformance" && item.templateVersion == "1.0.0" && item.customer == "acme"
                && item.checkpoint == "review" && item.visit == 1 && item.credential == "support-agent" && item.neededReviews == 2
                && item.rate == 0.05 && item.createdAt == 1_000,
            "item: \(item)")
        try expect(
            item.items == [AuditedValue(path: "classification.label", value: "card_arrival"), AuditedValue(path: "routing.priority", value: "P3")],
            "judged values in order: \(item.items)")
        try expect(item.bindings == ["classifier": "banking-intent@2.0.0"] && item.input == ["text": "ticket a1"], "bindings and input: \(item)")
        try expect(item.verdicts.isEmpty && !item.isComplete && item.status == "open", "a new item is open")
        try expect(try await store.auditItem(id: item.id) == item, "auditItem(id:) finds it")
        try expect(try await store.auditItem(id: item.id + 100) == nil, "an unknown id finds nothing")
        try expect(try await store.instance(id: "a1")?.status == .completed, "the sampled instance finished in the same commit")
        // The same visit sampled again (another commit of the instance) is refused whole.
        var again = step("a1", sequence: 2, status: .completed, current: "done")
        again.auditSamples = [AuditRequest(state: "review", visit: 1, credential: "x", items: [], neededReviews: 1, rate: 1, bindings: [:], input: .null)]
        try expect(try await conflicts { try await store.commit(again) }, "a second item for the same visit is a conflict")
        try expect(try await store.auditItems(AuditQuery()).count == 1, "the refused commit wrote no item")
        try expect(try await store.instanceWithTail(id: "a1").map { $0.0.sequence + $0.1.count } == 1, "nor its event")
    }

    static func auditVerdicts(_ store: any EngineStore) async throws {
        try await sampled("v1", needed: 2, in: store)
        guard let id = try await store.auditItems(AuditQuery()).first?.id else { throw ConformanceFailure(description: "no audit item") }
        try await store.recordVerdict(verdict("rv-ana", at: 2_000, labelCorrect: false), item: id)
        try expect(try await conflicts { try await store.recordVerdict(verdict("rv-ana", at: 2_500), item: id) }, "the same reviewer twice is a conflict")
        var item = try await store.auditItem(id: id)
        try expect(item?.verdicts.count == 1 && item?.isComplete == false, "one of two reviews: \(String(describing: item))")
        try expect(item?.verdicts.first == verdict("rv-ana", at: 2_000, labelCorrect: false), "the verdict is stored whole: \(String(describing: item?.verdicts))")
        try await store.recordVerdict(verdict("rv-bo", at: 3_000), item: id)
        item = try await store.auditItem(id: id)
        try expect(item?.verdicts.map(\.reviewer) == ["rv-ana", "rv-bo"] && item?.isComplete == true, "first review first: \(String(describing: item))")
        try expect(item?.verdicts.first?.judgement(of: "classification.label")?.correction == "card_delivery_estimate", "the correction is kept")
        try expect(try await conflicts { try await store.recordVerdict(verdict("rv-cy", at: 4_000), item: id) }, "a complete item takes no more")
        do {
            try await store.recordVerdict(verdict("rv-cy", at: 4_000), item: id + 100)
            throw ConformanceFailure(description: "a verdict on an unknown item was accepted")
        } catch is AuditItemMissing {}
        let history = try await store.history(of: "v1").map(\.kind)
        try expect(history == ["started", "audit_verdict", "audit_verdict"], "verdicts are journalled with the instance: \(history)")
        let entry = try await store.history(of: "v1").last
        try expect(entry?.actor == "rv-bo" && entry?.payload["item"]?.integerValue == id, "the entry names the reviewer and item: \(String(describing: entry))")
    }

    static func auditQueries(_ store: any EngineStore) async throws {
        try await sampled("q1", in: store)
        try await sampled("q2", credential: "attorney", in: store)
        try await sampled("q3", customer: "harbour", in: store)
        try await sampled("q4", template: "other", in: store)
        let all = try await store.auditItems(AuditQuery())
        try expect(all.map(\.instanceID) == ["q1", "q2", "q3", "q4"], "oldest first: \(all.map(\.instanceID))")
        try await store.recordVerdict(verdict("rv-ana", at: 2_000), item: all[0].id)
        let open = try await store.auditItems(AuditQuery(open: true))
        try expect(open.map(\.instanceID) == ["q2", "q3", "q4"], "open: \(open.map(\.instanceID))")
        let complete = try await store.auditItems(AuditQuery(open: false))
        try expect(complete.map(\.instanceID) == ["q1"], "complete: \(complete.map(\.instanceID))")
        let agents = try await store.auditItems(AuditQuery(open: true, credentials: ["support-agent"]))
        try expect(agents.map(\.instanceID) == ["q3", "q4"], "by credential: \(agents.map(\.instanceID))")
        try expect(try await store.auditItems(AuditQuery(credentials: [])).isEmpty, "no credentials, no items")
        let triage = try await store.auditItems(AuditQuery(template: "conformance", customer: "acme"))
        try expect(triage.map(\.instanceID) == ["q1", "q2"], "by template and customer: \(triage.map(\.instanceID))")
        try expect(try await store.auditItems(AuditQuery(limit: 2)).map(\.instanceID) == ["q1", "q2"], "limit")
    }

    static func auditVerifies(_ store: any EngineStore) async throws {
        try await sampled("j1", needed: 2, in: store)
        try await sampled("j2", in: store)
        let items = try await store.auditItems(AuditQuery())
        try await store.recordVerdict(verdict("rv-ana", at: 2_000), item: items[0].id)
        try await store.recordVerdict(verdict("rv-bo", at: 2_100, labelCorrect: false), item: items[0].id)
        try await store.recordVerdict(verdict("rv-ana", at: 2_200), item: items[1].id)
        let verification = try await store.verifyJournal()
        try expect(verification.problems.isEmpty && verification.rowsChecked == 5, "verification: \(verification)")
    }
}
