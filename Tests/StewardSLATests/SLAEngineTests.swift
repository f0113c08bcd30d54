import Foundation
import StewardCalendar
import StewardJSON
import StewardReview
import StewardCore
import StewardEngine
import StewardReview
import StewardSLA
import StewardStoreSQLite
import StewardTemplates
import StewardTesting
import StewardBootstrap
import StewardPlugins
import Testing

/// The SLA clock end to end: a checkpoint opening computes its deadline in the customer's
/// business hours, timers fire once (also after a restart), the escalation ladder notifies
/// and reassigns, and deciding the task stops its timers.
@Suite struct SLAEngineTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func milliseconds(_ iso: String) -> Int64 {
        let formatter = ISO8601DateFormatter()
        return Int64(formatter.date(from: iso)!.timeIntervalSince1970 * 1000)
    }

    static func iso(_ milliseconds: Int64?) -> String? {
        guard let milliseconds else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// The shipped plugins, built once per test process.
    static let plugins: Result<(plugins: URL, libraries: URL), PluginBuildError> = {
        do throws(PluginBuildError) {
            return .success(try PluginBuilder.buildShipped(
                root: root, into: FileManager.default.temporaryDirectory.appendingPathComponent("steward-sla-plugins-\(UUID().uuidString)")))
        } catch {
            return .failure(error)
        }
    }()

    /// The engine `steward` runs (`EngineAssembly`: the shipped templates, overlays, calendars
    /// and plugins), with its plugin calls answered by a script like a P1 ticket and a manual clock.
    struct Fixture {
        let store: any EngineStore
        let engine: Engine
        let clock: ManualEngineClock
        let directory: URL

        init(startingAt iso: String) async throws {
            let (plugins, libraries) = try SLAEngineTests.plugins.get()
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-sla-\(UUID().uuidString)")
            clock = ManualEngineClock(milliseconds: SLAEngineTests.milliseconds(iso))
            let invoker = ScriptedStepInvoker([
                "support.normalize": [.output(["text": "My card was stolen", "subject": "Stolen", "channel": "chat", "word_count": 4])],
                "model:banking-intent@3.0.0": [.output(["label": "lost_or_stolen_card", "confidence": 0.99])],
                "model:banking-intent@1.0.0": [.output(["label": "lost_or_stolen_card", "confidence": 0.97])],
                "keywords.classify": [.output(["category": "card_lost", "confidence": 1.0])],
                "kb.search": [.output(["results": []])],
                "support.route": [.output(["queue": "cards-urgent", "priority": "P1", "category": "lost_or_stolen_card"])],
                "support.draft_reply": [.output(["subject": "Re: Stolen", "body": "We froze your card."])],
                "support.send_reply": [.output(["sent": true])],
            ])
            var options = EngineOptions(
                workspace: Workspace(root: SLAEngineTests.root), workflows: SLAEngineTests.root.appendingPathComponent("workflows").path,
                database: directory.appendingPathComponent("sla.db").path, pluginDirectories: [plugins.path],
                libraryDirectories: [libraries.path], buildPlugins: false, clock: clock, sleeper: RecordingSleeper())
            options.wrapInvoker = { _ in invoker }
            let assembly = try await EngineAssembly.assemble(options)
            #expect(assembly.problems.isEmpty, "\(assembly.problems)")
            store = assembly.store
            engine = assembly.engine
        }

        func submit(customer: String?) async throws -> InstanceState {
            try await engine.submit(template: "support-ticket-triage", customer: customer, input: ["subject": "Stolen"], id: UUID().uuidString)
        }
    }

    // Deadlines hand-computed from the customers' calendars (acme-bank: New York, Mon-Fri
    // 09:00-17:00; harbour-credit: Sydney, split days, Friday closes 16:00).
    @Test(arguments: [
        // New York, Friday 16:50 EST: 10 minutes Friday, 5 Monday -> Mon 09:05 EST (14:05Z);
        // the warning (25% of 15 min left = 11m15s used) is Mon 09:01:15 EST.
        ("acme-bank", "2026-11-20T21:50:00Z", "2026-11-23T14:05:00Z", "2026-11-23T14:01:15Z"),
        // New York across the fall-back (Sun 2026-11-01): Friday 16:55 EDT (20:55Z) ->
        // 5 min Friday, 10 min Monday from 09:00 EST -> 09:10 EST = 14:10Z.
        ("acme-bank", "2026-10-30T20:55:00Z", "2026-11-02T14:10:00Z", "2026-11-02T14:06:15Z"),
        // New York, Thanksgiving (Thu 2026-11-26) is a holiday: Wed 16:55 EST -> Fri 09:10 EST.
        ("acme-bank", "2026-11-25T21:55:00Z", "2026-11-27T14:10:00Z", "2026-11-27T14:06:15Z"),
        // Sydney across spring-forward (Sun 2026-10-04): Friday 15:50 AEST (05:50Z) -> 10 min
        // Friday, 5 min Monday from 08:30 AEDT (+11) -> 08:35 AEDT = Sun 21:35Z.
        ("harbour-credit", "2026-10-02T05:50:00Z", "2026-10-04T21:35:00Z", "2026-10-04T21:31:15Z"),
        // Sydney over lunch: Tuesday 12:25 AEDT (01:25Z) -> 5 min before lunch, 10 after 13:30 -> 13:40 = 02:40Z.
        ("harbour-credit", "2026-11-24T01:25:00Z", "2026-11-24T02:40:00Z", "2026-11-24T02:36:15Z"),
        // No customer: the SLA counts wall-clock time (24x7 UTC).
        ("", "2026-11-20T21:50:00Z", "2026-11-20T22:05:00Z", "2026-11-20T22:01:15Z"),
    ])
    func deadlineFollowsTheCustomersBusinessHours(customer: String, start: String, due: String, warning: String) async throws {
        let fixture = try await Fixture(startingAt: start)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let state = try await fixture.submit(customer: customer.isEmpty ? nil : customer)
        #expect(state.status == .waiting)
        let task = try #require(try await fixture.store.openTasks().first)
        #expect(Self.iso(task.dueAt) == due.replacingOccurrences(of: ".000", with: ""))
        let timers = try await fixture.store.pendingTimers(of: state.id)
        #expect(timers.map(\.kind) == ["sla_warning", "sla_breach"])
        #expect(Self.iso(timers.first?.dueAt) == warning)
        #expect(Self.iso(timers.last?.dueAt) == due)
    }

    @Test func timersFireOnceEscalateAndStopWhenDecided() async throws {
        let fixture = try await Fixture(startingAt: "2026-11-20T21:50:00Z")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let state = try await fixture.submit(customer: "acme-bank")
        let service = TimerService(engine: fixture.engine)

        // Before the warning nothing fires.
        #expect(try await service.fireDue(now: Self.milliseconds("2026-11-23T14:00:00Z")).isEmpty)

        // At the warning: one timer, the journal says so, senior-agent is notified and assigned.
        let warned = try await service.fireDue(now: Self.milliseconds("2026-11-23T14:02:00Z"))
        #expect(warned.map(\.kind) == ["sla_warning"])
        var task = try #require(try await fixture.store.openTasks().first)
        #expect(task.assigned == "senior-agent")
        #expect(task.escalationLevel == 1)
        #expect(try await fixture.store.notifications().first?.recipient == "senior-agent")

        // A restarted service does not fire it again (engine down, then up).
        let again = TimerService(engine: fixture.engine)
        #expect(try await again.fireDue(now: Self.milliseconds("2026-11-23T14:03:00Z")).isEmpty)

        // The breach, due while "down", fires once on the next start and climbs to support-lead.
        let breached = try await again.fireDue(now: Self.milliseconds("2026-11-23T15:00:00Z"))
        #expect(breached.map(\.kind) == ["sla_breach"])
        task = try #require(try await fixture.store.openTasks().first)
        #expect(task.assigned == "support-lead")
        #expect(task.escalationLevel == 2)
        // Time is an event: each firing is one `timer_fired` event of the instance, in its sequence.
        let history = try await fixture.store.history(of: state.id)
        let firings = history.filter { $0.kind == "timer_fired" }
        #expect(firings.map { $0.payload["kind"]?.stringValue } == ["sla_warning", "sla_breach"])
        #expect(firings.allSatisfy { $0.sequence != nil }, "timer firings are instance events, not loose audit rows")
        let waiting = try #require(try await fixture.engine.currentState(id: state.id))
        #expect(waiting.escalation == Escalation(level: 2, assigned: "support-lead", fired: ["sla_warning", "sla_breach"]))
        #expect(try await fixture.store.notifications().map(\.recipient) == ["support-lead", "senior-agent"])

        // The support lead may now decide it (the task's own credential still may too).
        let (lead, _) = try await fixture.store.addReviewer(name: "Lee Lead", credentials: ["support-lead"], at: 0)
        let (outsider, _) = try await fixture.store.addReviewer(name: "Olga", credentials: ["attorney"], at: 0)
        let desk = ReviewDesk(engine: fixture.engine)
        #expect(try await desk.queue(for: lead).map(\.id) == [task.id])
        await #expect(throws: ReviewError.self) { try await desk.decide(task: task.id, by: outsider, decision: .approve) }
        let final = try await desk.decide(task: task.id, by: lead, decision: .approve)
        #expect(final.status == .completed)
        #expect(final.data["reviews"]?["review_reply"]?["credential"] == "support-lead")

        // The audit trail, with the timers and the escalation, is intact and replays.
        let report = try await Auditor(engine: fixture.engine).verify()
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    @Test func decidingATaskCancelsItsTimers() async throws {
        let fixture = try await Fixture(startingAt: "2026-11-23T15:00:00Z")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let state = try await fixture.submit(customer: "acme-bank")
        let task = try #require(try await fixture.store.openTasks().first)
        let (agent, _) = try await fixture.store.addReviewer(name: "Ana", credentials: ["support-agent"], at: 0)
        _ = try await ReviewDesk(engine: fixture.engine).decide(task: task.id, by: agent, decision: .approve)
        #expect(try await fixture.store.pendingTimers(of: state.id).isEmpty)
        let fired = try await TimerService(engine: fixture.engine).fireDue(now: Self.milliseconds("2026-11-30T00:00:00Z"))
        #expect(fired.isEmpty)
    }

    @Test func aBrokenCalendarIsALocatedError() throws {
        let text = """
            customer: broken
            calendar:
              timezone: Mars/Olympus_Mons
              hours: {mon: ["09:00-17:00"]}
            """
        let overlay = try TemplateParser.parseOverlay(text, file: "broken.yaml")
        let (_, problems) = ServiceLevelConfiguration.load([overlay])
        #expect(problems.count == 1)
        #expect(problems.first?.location.line == 3)
        #expect(problems.first?.message.contains("Mars/Olympus_Mons") == true)

        let overlapping = try TemplateParser.parseOverlay(
            "customer: x\ncalendar:\n  timezone: UTC\n  hours: {mon: [\"09:00-17:00\", \"16:00-18:00\"]}\n", file: "x.yaml")
        #expect(ServiceLevelConfiguration.load([overlapping]).1.first?.message.contains("overlap") == true)
    }
}
