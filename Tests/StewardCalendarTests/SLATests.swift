import Foundation
import Testing
import StewardCalendar

/// The due times of one ticket, hand-computed.
struct ClockCase: Sendable, CustomTestStringConvertible {
    let fixture: Fixture
    let priority: Priority
    let created: String
    let clockStarts: String
    let firstResponseWarning: String
    let firstResponseDue: String
    let resolutionWarning: String
    let resolutionDue: String
    let why: String

    var testDescription: String { "\(priority.rawValue) in \(fixture) created \(created) (\(why))" }
}

@Suite("SLA")
struct SLATests {
    /// The default policy: P1 15m / 4h, P2 1h / 24h, warning when a quarter of the target is left;
    /// P3 configured as 4h / 40h with a 8h lead.
    static let policy = SLAPolicy(p3: try! SLATarget(firstResponse: .seconds(4 * 3600), resolution: .seconds(40 * 3600), warning: .leadTime(.seconds(8 * 3600))))

    static let clocks: [ClockCase] = [
        ClockCase(fixture: .nyPlain, priority: .p1, created: "2026-01-12T10:00:00-05:00", clockStarts: "2026-01-12T10:00:00-05:00",
                  firstResponseWarning: "2026-01-12T10:11:15-05:00", firstResponseDue: "2026-01-12T10:15:00-05:00",
                  resolutionWarning: "2026-01-12T13:00:00-05:00", resolutionDue: "2026-01-12T14:00:00-05:00",
                  why: "within one day: 75% of 15m is 11m15s, of 4h is 3h"),
        ClockCase(fixture: .nyPlain, priority: .p1, created: "2026-03-06T16:00:00-05:00", clockStarts: "2026-03-06T16:00:00-05:00",
                  firstResponseWarning: "2026-03-06T16:11:15-05:00", firstResponseDue: "2026-03-06T16:15:00-05:00",
                  resolutionWarning: "2026-03-09T11:00:00-04:00", resolutionDue: "2026-03-09T12:00:00-04:00",
                  why: "Friday afternoon: 1h Friday EST, 3h Monday EDT"),
        ClockCase(fixture: .nyPlain, priority: .p2, created: "2026-10-31T10:00:00-04:00", clockStarts: "2026-11-02T09:00:00-05:00",
                  firstResponseWarning: "2026-11-02T09:45:00-05:00", firstResponseDue: "2026-11-02T10:00:00-05:00",
                  resolutionWarning: "2026-11-04T11:00:00-05:00", resolutionDue: "2026-11-04T17:00:00-05:00",
                  why: "created Saturday before fall-back: 24h is Mon, Tue, Wed; warning at 18h"),
        ClockCase(fixture: .sydOffice, priority: .p2, created: "2026-04-02T16:30:00+11:00", clockStarts: "2026-04-02T16:30:00+11:00",
                  firstResponseWarning: "2026-04-07T09:15:00+10:00", firstResponseDue: "2026-04-07T09:30:00+10:00",
                  resolutionWarning: "2026-04-09T10:30:00+10:00", resolutionDue: "2026-04-09T16:30:00+10:00",
                  why: "Thu 30m before Easter; Tue-Thu AEST; 24h = 0.5 + 8 + 8 + 7.5, warning at 18h = 0.5 + 8 + 8 + 1.5"),
        ClockCase(fixture: .nyPlain, priority: .p3, created: "2026-01-12T13:00:00-05:00", clockStarts: "2026-01-12T13:00:00-05:00",
                  firstResponseWarning: "2026-01-12T13:00:00-05:00", firstResponseDue: "2026-01-12T17:00:00-05:00",
                  resolutionWarning: "2026-01-16T13:00:00-05:00", resolutionDue: "2026-01-19T13:00:00-05:00",
                  why: "configured P3: 8h lead exceeds 4h target so warn at once; 40h ends next Monday 13:00, warning at 32h"),
    ]

    @Test("SLA clocks for tickets", arguments: clocks)
    func clock(_ row: ClockCase) throws {
        let clock = try Self.policy.clock(for: row.priority, createdAt: instant(row.created), calendar: row.fixture.calendar)
        let zone = row.fixture.zone
        #expect(local(clock.clockStartsAt, zone) == local(instant(row.clockStarts), zone))
        #expect(local(clock.firstResponseWarningAt, zone) == local(instant(row.firstResponseWarning), zone))
        #expect(local(clock.firstResponseDue, zone) == local(instant(row.firstResponseDue), zone))
        #expect(local(clock.warningAt, zone) == local(instant(row.resolutionWarning), zone))
        #expect(local(clock.resolutionDue, zone) == local(instant(row.resolutionDue), zone))
    }

    @Test("P3 and P4 have no product default")
    func unconfigured() {
        #expect(throws: SLAError(field: "P4", reason: .noTarget(.p4))) {
            try SLAPolicy().clock(for: .p4, createdAt: instant("2026-01-12T10:00:00-05:00"), calendar: Fixture.nyPlain.calendar)
        }
        #expect(SLAPolicy().targets[.p1] == .p1Default)
        #expect(SLATarget.p1Default.firstResponse == .seconds(900) && SLATarget.p1Default.resolution == .seconds(14_400))
        #expect(SLATarget.p2Default.firstResponse == .seconds(3600) && SLATarget.p2Default.resolution == .seconds(86_400))
    }

    @Test("a calendar that never opens again surfaces as an SLA error")
    func calendarFailure() {
        let created = instant("2026-06-30T16:30:00-04:00")
        #expect(throws: SLAError(field: "P1", reason: .calendar(CalendarError(reason: .neverOpensAfter(created))))) {
            try SLAPolicy().clock(for: .p1, createdAt: created, calendar: Fixture.nyClosing.calendar)
        }
    }

    @Test("status moves from on track to warning to breached on a manual clock")
    func status() throws {
        let created = instant("2026-01-12T10:00:00-05:00")
        let sla = try SLAPolicy().clock(for: .p1, createdAt: created, calendar: Fixture.nyPlain.calendar)
        let clock = ManualClock(created)
        clock.advance(by: .seconds(5 * 60))
        #expect(sla.status(of: .firstResponse, clock: clock) == .onTrack)
        clock.set(to: instant("2026-01-12T10:11:15-05:00"))
        #expect(sla.status(of: .firstResponse, clock: clock) == .warning)
        clock.advance(by: .seconds(225))
        #expect(clock.now() == instant("2026-01-12T10:15:00-05:00"))
        #expect(sla.status(of: .firstResponse, clock: clock) == .warning, "answering at the due instant is on time")
        clock.advance(by: .seconds(1))
        #expect(sla.status(of: .firstResponse, clock: clock) == .breached)
        #expect(sla.status(of: .resolution, clock: clock) == .onTrack)
        clock.set(to: instant("2026-01-12T14:00:01-05:00"))
        #expect(sla.status(of: .resolution, clock: clock) == .breached)
    }

    @Test("durations parse and format", arguments: [
        ("15m", 900), ("4h", 14_400), ("24h", 86_400), ("1h30m", 5_400), ("90s", 90), ("1h0m5s", 3_605), ("0s", 0),
    ])
    func durations(_ text: String, _ seconds: Int) {
        #expect(SLADuration.parse(text) == .seconds(seconds))
    }

    @Test("malformed durations are refused", arguments: ["", "h", "15", "1d", "30m1h", "1.5h", "-1h", "1 h", "4H", "1h1h"])
    func badDurations(_ text: String) {
        #expect(SLADuration.parse(text) == nil)
    }

    @Test("a policy spec round-trips through JSON and validates")
    func policySpec() throws {
        let json = #"""
        {"P1": {"first_response": "10m", "resolution": "2h", "warning": "30m"},
         "P3": {"first_response": "4h", "resolution": "40h"},
         "P4": {"first_response": "8h", "resolution": "80h", "warning": "12.5%"}}
        """#
        let spec = try JSONDecoder().decode([String: SLATargetSpec].self, from: Data(json.utf8))
        let policy = try SLAPolicy(spec: spec)
        #expect(policy.targets[.p1] == (try SLATarget(firstResponse: .seconds(600), resolution: .seconds(7200), warning: .leadTime(.seconds(1800)))))
        #expect(policy.targets[.p2] == .p2Default)
        #expect(policy.targets[.p3]?.warning == .fractionRemaining(0.25))
        #expect(policy.targets[.p4]?.warning == .fractionRemaining(0.125))
        #expect(policy.spec["P1"] == SLATargetSpec(firstResponse: "10m", resolution: "2h", warning: "30m"))
        #expect(policy.spec["P4"]?.warning == "12.5%")
        let again = try SLAPolicy(spec: JSONDecoder().decode([String: SLATargetSpec].self, from: JSONEncoder().encode(policy.spec)))
        #expect(again == policy)
    }

    @Test("invalid policy specs name the field and value", arguments: [
        (["P3": SLATargetSpec(firstResponse: "4h", resolution: "3d")], "SLA P3.resolution: malformed duration '3d'"),
        (["P5": SLATargetSpec(firstResponse: "4h", resolution: "8h")], "SLA P5: unknown priority 'P5'"),
        (["P2": SLATargetSpec(firstResponse: "0s", resolution: "8h")], "SLA P2.first_response: target 0s must be longer than zero"),
        (["P1": SLATargetSpec(firstResponse: "15m", resolution: "4h", warning: "150%")], "SLA P1.warning: bad warning: '150%' is not a percentage"),
        (["P1": SLATargetSpec(firstResponse: "15m", resolution: "4h", warning: "soon")], "SLA P1.warning: malformed duration 'soon'"),
    ])
    func badPolicy(_ spec: [String: SLATargetSpec], _ message: String) {
        do {
            _ = try SLAPolicy(spec: spec)
            Issue.record("accepted \(spec)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }
}

@Suite("Clocks")
struct ClockTests {
    @Test("the manual clock is safe to advance from many tasks at once")
    func concurrentAdvance() async {
        let start = instant("2026-01-12T10:00:00-05:00")
        let clock = ManualClock(start)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 { group.addTask { clock.advance(by: .milliseconds(500)) } }
        }
        #expect(clock.now() == start.addingTimeInterval(100))
    }

    @Test("the system clock reads the real time")
    func system() {
        let before = Date()
        let now = SystemClock().now()
        #expect(now >= before && now <= Date())
    }
}
