import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardTemplates
import StewardTesting
import Testing

/// `wait` states end to end on the engine `steward` runs: a business-time wait is due when the
/// customer's calendar says, its timer fires once (also from a fresh engine after a restart),
/// `until` reads an instant from the data, a value that is no instant fails the instance with
/// the reason, and a template that misstates a wait is refused with the location.
@Suite struct WaitStateTests {
    static let template = """
        template: follow-up
        version: 1.0.0
        vertical: customer-support
        description: Waits before following up.
        aop:
          domain: Support follow-ups.
          inputs: [A ticket.]
          outputs: [A follow-up.]
          human_touchpoints: [none]
          failure_modes: [Following up too early.]
          escalation_target: support-lead
          may: [Wait.]
          may_not: [Follow up at night.]
        plugins: []
        start: route
        states:
          route:
            kind: choice
            choices:
              - {when: 'input.kind == "renewal"', next: until_renewal}
            otherwise: two_business_hours
          two_business_hours:
            kind: wait
            for: 2h
            business: true
            next: done
          until_renewal:
            kind: wait
            until: input.renewal_date
            next: done
          done:
            kind: end
            status: completed
        """

    struct Fixture {
        let assembly: EngineAssembly
        let clock: ManualEngineClock

        static func open(database: String, at iso: String, templateFile: String) async throws -> Fixture {
            let (plugins, libraries) = try SLAEngineTests.plugins.get()
            let clock = ManualEngineClock(milliseconds: SLAEngineTests.milliseconds(iso))
            let options = EngineOptions(
                workspace: Workspace(root: SLAEngineTests.root), workflows: SLAEngineTests.root.appendingPathComponent("workflows").path,
                database: database, pluginDirectories: [plugins.path], libraryDirectories: [libraries.path], buildPlugins: false,
                extraTemplate: templateFile, clock: clock, sleeper: RecordingSleeper())
            let assembly = try await EngineAssembly.assemble(options)
            #expect(assembly.problems.isEmpty, "\(assembly.problems)")
            return Fixture(assembly: assembly, clock: clock)
        }
    }

    @Test func aBusinessTimeWaitFiresOnceWhenTheCalendarSaysAlsoAfterARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-wait-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("follow-up.yaml")
        try Self.template.write(to: file, atomically: true, encoding: .utf8)
        let database = directory.appendingPathComponent("steward.db").path
        // Friday 16:00 in New York: one business hour left today, the second on Monday 09:00-10:00.
        let fixture = try await Fixture.open(database: database, at: "2026-12-04T21:00:00Z", templateFile: file.path)
        let engine = fixture.assembly.engine
        let waiting = try await engine.submit(template: "follow-up", customer: "acme-bank", input: ["kind": "follow_up"], id: "w-1")
        #expect(waiting.status == .waiting && waiting.current == "two_business_hours")
        let timers = try await fixture.assembly.store.pendingTimers(of: "w-1")
        #expect(timers.map(\.kind) == [TimerFired.wait] && SLAEngineTests.iso(timers.first?.dueAt) == "2026-12-07T15:00:00Z", "\(timers)")
        // Without a customer, wall time: due in two hours.
        _ = try await engine.submit(template: "follow-up", input: ["kind": "follow_up"], id: "w-2")
        #expect(SLAEngineTests.iso(try await fixture.assembly.store.pendingTimers(of: "w-2").first?.dueAt) == "2026-12-04T23:00:00Z")

        let due = try #require(timers.first?.dueAt)
        let early = try await TimerService(engine: engine).fireDue(now: due - 1)
        #expect(early.map(\.instanceID) == ["w-2"], "the wall-time wait is over by then, the business-time one not yet: \(early)")
        #expect(try await engine.currentState(id: "w-2")?.status == .completed)
        #expect(try await engine.currentState(id: "w-1")?.status == .waiting)

        // The engine was down at the due time; a fresh one on the same database fires it once.
        let later = try await Fixture.open(database: database, at: "2026-12-08T12:00:00Z", templateFile: file.path)
        let fired = try await TimerService(engine: later.assembly.engine).fireDue(now: later.clock.nowMilliseconds())
        #expect(fired.map(\.instanceID) == ["w-1"], "\(fired)")
        #expect(try await later.assembly.engine.currentState(id: "w-1")?.status == .completed)
        #expect(try await TimerService(engine: later.assembly.engine).fireDue(now: later.clock.nowMilliseconds() + 1).isEmpty, "a timer fires once")
        let history = try await later.assembly.store.history(of: "w-1").map(\.kind)
        #expect(history.contains("timer_fired"), "\(history)")
        #expect(try await later.assembly.auditor.verify().problems.isEmpty)
    }

    @Test func untilReadsAnInstantFromTheDataAndRefusesOneThatIsNot() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-wait-until-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("follow-up.yaml")
        try Self.template.write(to: file, atomically: true, encoding: .utf8)
        let fixture = try await Fixture.open(
            database: directory.appendingPathComponent("steward.db").path, at: "2026-12-04T21:00:00Z", templateFile: file.path)
        let engine = fixture.assembly.engine
        _ = try await engine.submit(
            template: "follow-up", customer: "acme-bank", input: ["kind": "renewal", "renewal_date": "2026-12-10T09:30:00-05:00"], id: "u-1")
        #expect(SLAEngineTests.iso(try await fixture.assembly.store.pendingTimers(of: "u-1").first?.dueAt) == "2026-12-10T14:30:00Z")
        _ = try await engine.submit(template: "follow-up", customer: "acme-bank", input: ["kind": "renewal", "renewal_date": "2027-01-31"], id: "u-2")
        #expect(SLAEngineTests.iso(try await fixture.assembly.store.pendingTimers(of: "u-2").first?.dueAt) == "2027-01-31T00:00:00Z")
        let refused = try await engine.submit(template: "follow-up", customer: "acme-bank", input: ["kind": "renewal", "renewal_date": "next tuesday"], id: "u-3")
        #expect(refused.status == .failed && refused.failure?.kind == .invalidInput, "\(refused)")
        #expect(refused.failure?.message.contains("'input.renewal_date' holds \"next tuesday\", not an instant") == true, "\(String(describing: refused.failure))")
        #expect(try await fixture.assembly.store.pendingTimers(of: "u-3").isEmpty)
    }

    @Test func instantsAreReadWithoutFoundation() {
        #expect(Instant.milliseconds("1970-01-02") == 86_400_000)
        #expect(Instant.milliseconds("1970-01-01T00:00:01.5Z") == 1_500)
        #expect(Instant.milliseconds("1970-01-01T01:00+01:00") == 0)
        #expect(Instant.milliseconds(.integer(42)) == 42)
        for bad in ["1970-13-01", "1970-01-01T25:00Z", "1970-01-01T00:00", "tomorrow", "1970-01-01T00:00:00+0100"] {
            #expect(Instant.milliseconds(.string(bad)) == nil, "\(bad)")
        }
    }

    static func problems(_ states: String) -> [String] {
        let text = Self.template.replacingOccurrences(
            of: "  two_business_hours:\n    kind: wait\n    for: 2h\n    business: true\n    next: done\n", with: states)
        let result = Result { () throws(TemplateErrors) -> Template in try TemplateParser.parse(text, file: "w.yaml") }
        guard case .failure(let errors) = result else { return [] }
        return errors.diagnostics.map(\.description)
    }

    @Test func aMisstatedWaitIsRefusedWithItsLocation() {
        let both = Self.problems("  two_business_hours:\n    kind: wait\n    for: 2h\n    until: input.x\n    next: done\n")
        #expect(both.contains { $0.hasPrefix("w.yaml:25:") && $0.contains("has both 'for' and 'until'") }, "\(both)")
        let neither = Self.problems("  two_business_hours:\n    kind: wait\n    next: done\n")
        #expect(neither.contains { $0.contains("waits for nothing") }, "\(neither)")
        let badDuration = Self.problems("  two_business_hours:\n    kind: wait\n    for: two hours\n    next: done\n")
        #expect(badDuration.contains { $0.hasPrefix("w.yaml:24:") && $0.contains("expected a duration like 30m, 2h or 3d") }, "\(badDuration)")
        let businessUntil = Self.problems("  two_business_hours:\n    kind: wait\n    until: input.x\n    business: true\n    next: done\n")
        #expect(businessUntil.contains { $0.contains("'business' applies to 'for' only") }, "\(businessUntil)")
    }
}
