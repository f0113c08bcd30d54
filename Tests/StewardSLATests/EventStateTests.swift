import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates
import StewardTesting
import Testing

/// `event` states on the engine `steward` runs: an instance waits for a customer's reply with a
/// business-hours timeout, a payload that breaks the contract is refused naming the field, an
/// event sent twice with one idempotency key is applied once, a sender who knows only the
/// ticket finds the instance by its correlation key, and the timeout fires (once, from a fresh
/// engine after a restart) when no reply comes.
@Suite struct EventStateTests {
    static let template = """
        template: customer-reply
        version: 1.0.0
        vertical: customer-support
        description: Asks the customer whether the fix worked and waits for the answer.
        aop:
          domain: Support follow-ups.
          inputs: [A ticket id.]
          outputs: [The customer's answer, or a chase when none came.]
          human_touchpoints: [none]
          failure_modes: [Closing a ticket the customer did not confirm.]
          escalation_target: support-lead
          may: [Wait for the customer.]
          may_not: [Close unconfirmed tickets.]
        plugins: []
        start: ask
        states:
          ask:
            kind: event
            event: customer_reply
            payload: {text: string, satisfied: boolean?}
            output: reply
            correlate: input.ticket
            credential: crm-webhook
            timeout: 2h
            business: true
            on_timeout: chase
            next: done
          chase:
            kind: end
            status: completed
            output: {chased: input.ticket}
          done:
            kind: end
            status: completed
            output: {reply: reply}
        """

    static func open(_ directory: URL, at iso: String) async throws -> (EngineAssembly, ManualEngineClock) {
        let file = directory.appendingPathComponent("customer-reply.yaml")
        if !FileManager.default.fileExists(atPath: file.path) { try Self.template.write(to: file, atomically: true, encoding: .utf8) }
        let (plugins, libraries) = try SLAEngineTests.plugins.get()
        let clock = ManualEngineClock(milliseconds: SLAEngineTests.milliseconds(iso))
        let assembly = try await EngineAssembly.assemble(EngineOptions(
            workspace: Workspace(root: SLAEngineTests.root), workflows: SLAEngineTests.root.appendingPathComponent("workflows").path,
            database: directory.appendingPathComponent("steward.db").path, pluginDirectories: [plugins.path], libraryDirectories: [libraries.path],
            buildPlugins: false, extraTemplate: file.path, clock: clock, sleeper: RecordingSleeper()))
        #expect(assembly.problems.isEmpty, "\(assembly.problems)")
        return (assembly, clock)
    }

    @Test func aReplyArrivesOnceAndATimeoutFiresWhenNoneComes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-events-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Friday 16:00 in New York: the two business hours end Monday at 10:00 (15:00 UTC).
        let (assembly, _) = try await Self.open(directory, at: "2026-12-04T21:00:00Z")
        let engine = assembly.engine
        let store = assembly.store
        for ticket in ["T-1", "T-2", "T-3"] {
            let state = try await engine.submit(template: "customer-reply", customer: "acme-bank", input: ["ticket": .string(ticket)], id: "r-\(ticket)")
            #expect(state.status == .waiting && state.current == "ask")
        }
        let timers = try await store.pendingTimers(of: "r-T-1")
        #expect(timers.map(\.kind) == [TimerFired.eventTimeout] && SLAEngineTests.iso(timers.first?.dueAt) == "2026-12-07T15:00:00Z", "\(timers)")
        #expect(try await store.instancesWaiting(forEvent: "customer_reply", key: "T-1") == ["r-T-1"])

        // A payload that breaks the contract is refused, naming the field, and changes nothing.
        for (payload, expected) in [
            (["text": 5] as JSONValue, "payload.text: expected a string, found number"),
            (["satisfied": true], "payload.text: required (string), missing"),
            (["text": "ok", "mood": "great"], "payload.mood: unknown field"),
        ] {
            do {
                _ = try await engine.deliver(EventDelivery(name: "customer_reply", payload: payload, by: "crm"), to: "r-T-1")
                Issue.record("\(payload) was delivered")
            } catch let error as EngineError {
                #expect(!error.isConflict && error.description.contains(expected), "\(error)")
            }
        }
        #expect(try await engine.currentState(id: "r-T-1")?.status == .waiting)

        // The reply, sent twice with one idempotency key: applied once.
        let reply = EventDelivery(name: "customer_reply", payload: ["text": "It works now", "satisfied": true], idempotencyKey: "crm-881", by: "crm")
        let done = try await engine.deliver(reply, to: "r-T-1")
        #expect(done.status == .completed && done.output?["reply"]?["text"] == "It works now", "\(done)")
        #expect(try await engine.deliver(reply, to: "r-T-1") == done)
        #expect(try await store.history(of: "r-T-1").filter { $0.kind == "event_received" }.count == 1)
        do {
            _ = try await engine.deliver(EventDelivery(name: "customer_reply", payload: ["text": "again"], by: "crm"), to: "r-T-1")
            Issue.record("a finished instance took an event")
        } catch let error as EngineError {
            #expect(error.isConflict, "\(error)")
        }
        #expect(try await store.pendingTimers(of: "r-T-1").isEmpty, "the reply cancelled the timeout")
        #expect(try await store.instancesWaiting(forEvent: "customer_reply", key: "T-1").isEmpty)

        // A sender who knows only the ticket.
        let reached = try await engine.deliver(EventDelivery(name: "customer_reply", payload: ["text": "thanks"], by: "crm"), correlatedBy: "T-3")
        #expect(reached.map(\.id) == ["r-T-3"] && reached.first?.status == .completed)
        #expect(try await engine.deliver(EventDelivery(name: "customer_reply", payload: ["text": "?"], by: "crm"), correlatedBy: "T-404").isEmpty)

        // No reply for T-2: the engine is down over the weekend; a fresh one fires the timeout once.
        let (later, clock) = try await Self.open(directory, at: "2026-12-08T09:00:00Z")
        let fired = try await TimerService(engine: later.engine).fireDue(now: clock.nowMilliseconds())
        #expect(fired.map(\.instanceID) == ["r-T-2"], "\(fired)")
        let chased = try #require(try await later.engine.currentState(id: "r-T-2"))
        #expect(chased.status == .completed && chased.current == "chase" && chased.output?["chased"] == "T-2", "\(chased)")
        #expect(try await TimerService(engine: later.engine).fireDue(now: clock.nowMilliseconds() + 1).isEmpty)
        #expect(try await later.auditor.verify().problems.isEmpty)
    }

    static func problems(_ replacement: String) -> [String] {
        let text = Self.template.replacingOccurrences(of: "    timeout: 2h\n    business: true\n    on_timeout: chase\n", with: replacement)
        let result = Result { () throws(TemplateErrors) -> Template in try TemplateParser.parse(text, file: "e.yaml") }
        guard case .failure(let errors) = result else { return [] }
        return errors.diagnostics.map(\.description)
    }

    @Test func aMisstatedEventStateIsRefusedWithItsLocation() {
        #expect(Self.problems("    timeout: 2h\n").contains { $0.contains("has a 'timeout' but no 'on_timeout'") })
        #expect(Self.problems("    on_timeout: chase\n").contains { $0.contains("'on_timeout' of state 'ask' needs a 'timeout'") })
        #expect(Self.problems("").isEmpty, "without a timeout the state is fine")
        let text = Self.template.replacingOccurrences(of: "satisfied: boolean?", with: "satisfied: bool?")
        let result = Result { () throws(TemplateErrors) -> Template in try TemplateParser.parse(text, file: "e.yaml") }
        guard case .failure(let errors) = result else {
            Issue.record("an unknown payload type parsed")
            return
        }
        #expect(errors.diagnostics.contains { $0.description.hasPrefix("e.yaml:20:") && $0.description.contains("unknown type 'bool' for payload field 'satisfied'") }, "\(errors)")
    }

    static let buffering = """
        template: early-reply
        version: 1.0.0
        vertical: customer-support
        description: An agent answers, then the instance waits for the customer; an early reply is kept.
        aop:
          domain: Support follow-ups.
          inputs: [A ticket id.]
          outputs: [The customer's answer.]
          human_touchpoints:
            - answer, always, so an agent writes every answer.
          failure_modes: [Losing a reply that came before the answer was sent.]
          escalation_target: support-lead
          may: [Wait for the customer.]
          may_not: [Drop a customer's reply.]
        plugins: []
        start: answer
        states:
          answer:
            kind: checkpoint
            credential: support-agent
            subject: input
            decisions: {approve: await_reply}
          await_reply:
            kind: event
            event: customer_reply
            payload: {text: string}
            output: reply
            credential: crm-webhook
            buffer: true
            next: done
          done:
            kind: end
            status: completed
            output: {reply: reply}
        """

    @Test func anEventSentEarlyIsKeptWhenItsStateDeclaresBuffering() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-buffer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("early-reply.yaml")
        try Self.buffering.write(to: file, atomically: true, encoding: .utf8)
        let (plugins, libraries) = try SLAEngineTests.plugins.get()
        let assembly = try await EngineAssembly.assemble(EngineOptions(
            workspace: Workspace(root: SLAEngineTests.root), workflows: SLAEngineTests.root.appendingPathComponent("workflows").path,
            database: directory.appendingPathComponent("steward.db").path, pluginDirectories: [plugins.path], libraryDirectories: [libraries.path],
            buildPlugins: false, extraTemplate: file.path, sleeper: RecordingSleeper()))
        #expect(assembly.problems.isEmpty, "\(assembly.problems)")
        let engine = assembly.engine
        let waiting = try await engine.submit(template: "early-reply", customer: "acme-bank", input: ["ticket": "T-1"], id: "early-1")
        #expect(waiting.status == .waiting && waiting.current == "answer")
        // The customer answers before the agent: a reply that breaks the contract is still refused...
        do {
            _ = try await engine.deliver(EventDelivery(name: "customer_reply", payload: ["text": 1], by: "crm"), to: "early-1")
            Issue.record("a bad early payload was kept")
        } catch let error as EngineError {
            #expect(!error.isConflict && error.description.contains("payload.text"), "\(error)")
        }
        // ...a good one is kept, once for its idempotency key, and the checkpoint stays open.
        let reply = EventDelivery(name: "customer_reply", payload: ["text": "never mind, it works"], idempotencyKey: "crm-1", by: "crm")
        let kept = try await engine.deliver(reply, to: "early-1")
        #expect(kept.status == .waiting && kept.current == "answer" && kept.buffered == [reply], "\(kept)")
        #expect(try await engine.deliver(reply, to: "early-1").buffered.count == 1)
        #expect(try await assembly.store.openTasks(credentials: ["support-agent"], limit: 5).count == 1)
        // Once the agent approves, the instance reaches the event state and takes the kept reply.
        let done = try await engine.decide(
            instance: "early-1", CheckpointDecision(state: "answer", decision: .approve, reviewer: "agent-1", credential: "support-agent"))
        #expect(done.status == .completed && done.output?["reply"]?["text"] == "never mind, it works" && done.buffered.isEmpty, "\(done)")
        #expect(try await assembly.auditor.verify().problems.isEmpty)
        // Without buffering, an early event is refused as a conflict (the other template's tests).
        #expect(Self.problems("    buffer: maybe\n").contains { $0.contains("'buffer' of state 'ask'") })
    }
}
