import Foundation
import Testing
import StewardCalendar

/// One row of a deadline table: in `fixture`, `business` seconds after `start` is `due`.
/// Every `due` was computed by hand from the calendar's rules; `why` shows the working.
struct DeadlineCase: Sendable, CustomTestStringConvertible {
    let fixture: Fixture
    let start: String
    let business: Double
    let due: String
    let why: String

    init(_ fixture: Fixture, _ start: String, _ business: Double, _ due: String, _ why: String) {
        self.fixture = fixture
        self.start = start
        self.business = business
        self.due = due
        self.why = why
    }

    var testDescription: String { "\(fixture) \(start) + \(business / 3600)h -> \(due) (\(why))" }
}

let minute = 60.0
let hour = 3600.0

func checkDeadline(_ row: DeadlineCase) throws {
    let calendar = row.fixture.calendar
    let start = instant(row.start)
    let due = try calendar.deadline(from: start, addingSeconds: row.business)
    #expect(local(due, row.fixture.zone) == local(instant(row.due), row.fixture.zone), "\(row.why)")
    #expect(due == instant(row.due))
    // The deadline is where exactly `business` seconds of business time have elapsed.
    #expect(calendar.businessTime(from: start, to: due) == row.business)
}

@Suite("Deadlines")
struct DeadlineTests {
    static let weekends: [DeadlineCase] = [
        .init(.nyPlain, "2026-01-09T16:30:00-05:00", 1 * hour, "2026-01-12T09:30:00-05:00", "Fri 30m, Mon 09:00 + 30m"),
        .init(.nyPlain, "2026-01-10T10:00:00-05:00", 1 * hour, "2026-01-12T10:00:00-05:00", "Sat start waits for Mon 09:00"),
        .init(.nyPlain, "2026-01-11T23:59:00-05:00", 8 * hour, "2026-01-12T17:00:00-05:00", "Sun start, whole Monday, due exactly at close"),
        .init(.nyPlain, "2026-01-12T09:00:00-05:00", 40 * hour, "2026-01-16T17:00:00-05:00", "a whole week ends at Friday close, not Monday"),
        .init(.nyPlain, "2026-01-12T09:00:00-05:00", 40 * hour + 1, "2026-01-19T09:00:01-05:00", "one second more spills to Monday"),
        .init(.nyPlain, "2026-01-12T17:00:00-05:00", 1 * hour, "2026-01-13T10:00:00-05:00", "closed at 17:00 itself (intervals are half-open)"),
        .init(.nyPlain, "2026-01-12T08:59:59-05:00", 1 * hour, "2026-01-12T10:00:00-05:00", "clock starts at 09:00"),
        .init(.nyPlain, "2026-01-10T10:00:00-05:00", 0, "2026-01-10T10:00:00-05:00", "zero duration is the start itself"),
        .init(.nyLunch, "2026-01-12T11:00:00-05:00", 2 * hour, "2026-01-12T14:00:00-05:00", "11-12, lunch, 13-14"),
        .init(.nyLunch, "2026-01-12T12:30:00-05:00", 1 * hour, "2026-01-12T14:00:00-05:00", "start in lunch waits for 13:00"),
        .init(.nyLunch, "2026-01-12T11:00:00-05:00", 1 * hour, "2026-01-12T12:00:00-05:00", "due at the lunch close, not after lunch"),
    ]

    @Test("weekends, closing times and several intervals a day", arguments: weekends)
    func weekend(_ row: DeadlineCase) throws { try checkDeadline(row) }

    static let holidays: [DeadlineCase] = [
        .init(.nyOffice, "2026-12-24T10:00:00-05:00", 4 * hour, "2026-12-28T11:00:00-05:00", "Thu 10-12 (closes at noon), Fri 25th off, weekend, Mon 09-11"),
        .init(.nyOffice, "2026-12-24T13:00:00-05:00", 1 * hour, "2026-12-28T10:00:00-05:00", "afternoon closure, then holiday and weekend"),
        .init(.nyOffice, "2026-11-25T15:00:00-05:00", 4 * hour, "2026-11-27T11:00:00-05:00", "Wed 2h, Thanksgiving off, Fri 09-11"),
        .init(.nyOffice, "2026-11-26T09:00:00-05:00", 8 * hour, "2026-11-27T17:00:00-05:00", "created on the holiday: all of Friday"),
        .init(.sydOffice, "2026-04-02T16:00:00+11:00", 4 * hour, "2026-04-07T12:00:00+10:00", "Thu 1h, Good Friday, weekend with DST end, Easter Monday, Tue 09-12 AEST"),
        .init(.sydOffice, "2026-04-03T10:00:00+11:00", 1 * hour, "2026-04-07T10:00:00+10:00", "created on Good Friday"),
        .init(.sydOffice, "2026-10-02T15:00:00+10:00", 3 * hour, "2026-10-06T10:00:00+11:00", "Fri 2h, DST starts Sun, Labour Day Mon off, Tue 09-10 AEDT"),
    ]

    @Test("holidays and partial closures", arguments: holidays)
    func holiday(_ row: DeadlineCase) throws { try checkDeadline(row) }

    /// The New York table across both 2026 DST changes (Sun 2026-03-08 02:00 EST -> 03:00 EDT,
    /// Sun 2026-11-01 02:00 EDT -> 01:00 EST).
    static let newYorkDST: [DeadlineCase] = [
        .init(.nyPlain, "2026-03-06T16:00:00-05:00", 2 * hour, "2026-03-09T10:00:00-04:00", "Fri 1h EST, Mon 09-10 EDT"),
        .init(.nyPlain, "2026-03-06T17:00:00-05:00", 8 * hour, "2026-03-09T17:00:00-04:00", "whole Monday, due at close EDT"),
        .init(.nyPlain, "2026-03-07T12:00:00-05:00", 1 * hour, "2026-03-09T10:00:00-04:00", "Sat start"),
        .init(.nyPlain, "2026-03-05T10:00:00-05:00", 24 * hour, "2026-03-10T10:00:00-04:00", "Thu 7 + Fri 8 + Mon 8 + Tue 1"),
        .init(.nyPlain, "2026-10-30T16:00:00-04:00", 2 * hour, "2026-11-02T10:00:00-05:00", "Fri 1h EDT, Mon 09-10 EST"),
        .init(.nyPlain, "2026-10-30T09:00:00-04:00", 16 * hour, "2026-11-02T17:00:00-05:00", "Fri 8 + Mon 8"),
        .init(.nyPlain, "2026-10-31T23:30:00-04:00", 30 * minute, "2026-11-02T09:30:00-05:00", "Sat night start"),
        .init(.ny24x7, "2026-03-07T12:00:00-05:00", 24 * hour, "2026-03-08T13:00:00-04:00", "24x7: 24 real hours, wall clock shows 25"),
        .init(.ny24x7, "2026-03-08T00:00:00-05:00", 23 * hour, "2026-03-09T00:00:00-04:00", "24x7: 8 March is 23 hours long"),
        .init(.ny24x7, "2026-10-31T12:00:00-04:00", 24 * hour, "2026-11-01T11:00:00-05:00", "24x7: 24 real hours, wall clock shows 23"),
        .init(.ny24x7, "2026-11-01T00:00:00-04:00", 25 * hour, "2026-11-02T00:00:00-05:00", "24x7: 1 November is 25 hours long"),
        .init(.nyNight, "2026-03-08T01:00:00-05:00", 2 * hour, "2026-03-08T04:00:00-04:00", "01:00-04:00 on spring-forward day holds 2 real hours"),
        .init(.nyNight, "2026-03-08T01:30:00-05:00", 1 * hour, "2026-03-08T03:30:00-04:00", "01:30 EST + 1h real = 03:30 EDT"),
        .init(.nyNight, "2026-03-07T03:00:00-05:00", 3 * hour, "2026-03-08T04:00:00-04:00", "Sat 1h, Sun 2h (skipped hour not counted)"),
        .init(.nyNight, "2026-11-01T01:00:00-04:00", 3 * hour, "2026-11-01T03:00:00-05:00", "01:00 EDT + 3h real = 03:00 EST"),
        .init(.nyNight, "2026-11-01T01:00:00-04:00", 4 * hour, "2026-11-01T04:00:00-05:00", "01:00-04:00 on fall-back day holds 4 real hours"),
        .init(.nyNight, "2026-11-01T01:30:00-05:00", 2 * hour, "2026-11-01T03:30:00-05:00", "start in the second 01:30"),
        .init(.nyRepeat, "2026-11-01T01:00:00-04:00", 1 * hour, "2026-11-01T02:00:00-05:00", "01:30-02:00 EDT, closed 01:00-01:30 EST, 01:30-02:00 EST"),
        .init(.nyRepeat, "2026-11-01T01:45:00-05:00", 1 * hour, "2026-11-02T01:45:00-05:00", "second pass 01:45-02:30 EST (45m), then next day 01:30-01:45"),
        .init(.nyEarly, "2026-03-08T00:00:00-05:00", 1 * hour, "2026-03-08T04:00:00-04:00", "02:30-04:00 on spring-forward day is 03:00-04:00 EDT"),
    ]

    @Test("America/New_York across DST", arguments: newYorkDST)
    func newYork(_ row: DeadlineCase) throws { try checkDeadline(row) }

    /// The Sydney table across both 2026 DST changes (Sun 2026-04-05 03:00 AEDT -> 02:00 AEST,
    /// Sun 2026-10-04 02:00 AEST -> 03:00 AEDT).
    static let sydneyDST: [DeadlineCase] = [
        .init(.sydPlain, "2026-04-03T16:00:00+11:00", 2 * hour, "2026-04-06T10:00:00+10:00", "Fri 1h AEDT, Mon 09-10 AEST"),
        .init(.sydPlain, "2026-04-02T09:00:00+11:00", 8 * hour, "2026-04-02T17:00:00+11:00", "a whole day, due at close"),
        .init(.sydPlain, "2026-10-02T15:00:00+10:00", 3 * hour, "2026-10-05T10:00:00+11:00", "Fri 2h AEST, Mon 09-10 AEDT"),
        .init(.sydPlain, "2026-10-03T11:00:00+10:00", 8 * hour, "2026-10-05T17:00:00+11:00", "Sat start, whole Monday"),
        .init(.syd24x7, "2026-04-04T12:00:00+11:00", 24 * hour, "2026-04-05T11:00:00+10:00", "24x7: 24 real hours, wall clock shows 23"),
        .init(.syd24x7, "2026-04-05T00:00:00+11:00", 25 * hour, "2026-04-06T00:00:00+10:00", "24x7: 5 April is 25 hours long"),
        .init(.syd24x7, "2026-10-03T12:00:00+10:00", 24 * hour, "2026-10-04T13:00:00+11:00", "24x7: 24 real hours, wall clock shows 25"),
        .init(.syd24x7, "2026-10-04T00:00:00+10:00", 23 * hour, "2026-10-05T00:00:00+11:00", "24x7: 4 October is 23 hours long"),
        .init(.sydNight, "2026-04-05T02:30:00+11:00", 2 * hour, "2026-04-05T03:30:00+10:00", "02:30 AEDT + 2h real, through the repeated hour"),
        .init(.sydNight, "2026-04-05T02:00:00+11:00", 3 * hour, "2026-04-05T04:00:00+10:00", "02:00-04:00 on fall-back day holds 3 real hours"),
        .init(.sydNight, "2026-10-04T00:00:00+10:00", 1 * hour, "2026-10-04T04:00:00+11:00", "02:00-04:00 on spring-forward day is 03:00-04:00 AEDT"),
        .init(.sydNight, "2026-10-04T00:00:00+10:00", 90 * minute, "2026-10-05T02:30:00+11:00", "1h on the 4th, 30m on the 5th"),
    ]

    @Test("Australia/Sydney across DST", arguments: sydneyDST)
    func sydney(_ row: DeadlineCase) throws { try checkDeadline(row) }

    static let scheduleChanges: [DeadlineCase] = [
        .init(.nyChanging, "2026-03-03T16:00:00-05:00", 10 * hour, "2026-03-04T17:00:00-05:00", "Tue 16-17 old hours, Wed 08-17 new hours"),
        .init(.nyChanging, "2026-03-06T19:00:00-05:00", 3 * hour, "2026-03-09T12:00:00-04:00", "Fri 19-20, Mon under the second change 10-12 EDT"),
        .init(.nyChanging, "2026-03-06T10:00:00-05:00", 14 * hour, "2026-03-09T14:00:00-04:00", "Fri 10-20 (10h), Mon 10-14 EDT"),
        .init(.nyChanging, "2026-03-03T08:30:00-05:00", 1 * hour, "2026-03-03T10:00:00-05:00", "before the change the old 09:00 opening applies"),
    ]

    @Test("a schedule change mid-ticket", arguments: scheduleChanges)
    func scheduleChange(_ row: DeadlineCase) throws { try checkDeadline(row) }

    static let zones: [DeadlineCase] = [
        .init(.kolkata, "2026-06-05T17:00:00+05:30", 2 * hour, "2026-06-08T10:00:00+05:30", "Fri 1h, Mon 09-10 IST"),
        .init(.kolkata, "2026-06-05T20:00:00Z", 1 * hour, "2026-06-08T10:00:00+05:30", "Friday in UTC but Saturday 01:30 in Kolkata"),
        .init(.kolkata, "2026-06-07T20:00:00Z", 30 * minute, "2026-06-08T09:30:00+05:30", "Sunday in UTC but Monday 01:30 in Kolkata"),
        .init(.kolkata, "2026-06-08T03:29:00Z", 2 * minute, "2026-06-08T09:02:00+05:30", "09:00 IST is 03:30 UTC"),
        .init(.losAngeles, "2026-06-05T20:00:00Z", 8 * hour, "2026-06-08T12:00:00-07:00", "Fri 13-17 PDT, Mon 08-12"),
        .init(.losAngeles, "2026-06-08T06:00:00Z", 1 * hour, "2026-06-08T09:00:00-07:00", "Monday in UTC but Sunday 23:00 in Los Angeles"),
        .init(.losAngeles, "2026-06-06T00:30:00Z", 1 * hour, "2026-06-08T09:00:00-07:00", "Saturday in UTC but Friday 17:30 (closed) in Los Angeles"),
        .init(.losAngeles, "2026-06-05T23:30:00Z", 1 * hour, "2026-06-08T08:30:00-07:00", "Fri 16:30 PDT: 30m Friday, 30m Monday"),
    ]

    @Test("zones east and west of UTC", arguments: zones)
    func zone(_ row: DeadlineCase) throws { try checkDeadline(row) }

    @Test("a year of business hours crosses both DST changes and ends at a Friday close")
    func longDeadline() throws {
        // 52 weeks x 5 days x 8 h from Mon 2026-01-05 09:00 EST: the last hour is Fri 2027-01-01.
        let due = try Fixture.nyPlain.calendar.deadline(from: instant("2026-01-05T09:00:00-05:00"), adding: .seconds(52 * 40 * 3600))
        #expect(due == instant("2027-01-01T17:00:00-05:00"))
    }

    @Test("a calendar that stops opening makes an unbounded question fail, not hang")
    func neverOpens() throws {
        let calendar = Fixture.nyClosing.calendar
        let start = instant("2026-06-30T16:00:00-04:00")
        #expect(try calendar.deadline(from: start, adding: .seconds(3600)) == instant("2026-06-30T17:00:00-04:00"))
        #expect(throws: CalendarError(reason: .neverOpensAfter(start))) {
            try calendar.deadline(from: start, adding: .seconds(2 * 3600))
        }
        #expect(throws: CalendarError.self) { try calendar.nextOpening(after: instant("2026-07-01T00:00:00-04:00")) }
        // Bounded questions still answer: only 30 June's last hour is open from here on.
        #expect(calendar.businessTime(from: start, to: instant("2030-01-01T00:00:00Z")) == 3600)
    }

    @Test("negative durations are refused")
    func negative() {
        #expect(throws: CalendarError(reason: .negativeDuration(seconds: -1))) {
            try Fixture.nyPlain.calendar.deadline(from: instant("2026-01-12T10:00:00-05:00"), addingSeconds: -1)
        }
    }
}
