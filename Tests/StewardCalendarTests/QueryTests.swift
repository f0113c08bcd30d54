import Foundation
import Testing
import StewardCalendar

/// `businessTime(from:to:)` between two instants, hand-computed.
struct SpanCase: Sendable, CustomTestStringConvertible {
    let fixture: Fixture
    let from: String
    let to: String
    let business: Double
    let why: String

    init(_ fixture: Fixture, _ from: String, _ to: String, _ business: Double, _ why: String) {
        self.fixture = fixture
        self.from = from
        self.to = to
        self.business = business
        self.why = why
    }

    var testDescription: String { "\(fixture) \(from) .. \(to) = \(business / 3600)h (\(why))" }
}

/// `isOpen(at:)` and `nextOpening(after:)` at one instant, hand-computed.
struct OpenCase: Sendable, CustomTestStringConvertible {
    let fixture: Fixture
    let at: String
    let open: Bool
    let nextOpening: String
    let why: String

    init(_ fixture: Fixture, _ at: String, _ open: Bool, _ nextOpening: String, _ why: String) {
        self.fixture = fixture
        self.at = at
        self.open = open
        self.nextOpening = nextOpening
        self.why = why
    }

    var testDescription: String { "\(fixture) \(at) open=\(open) next=\(nextOpening) (\(why))" }
}

@Suite("Queries")
struct QueryTests {
    static let spans: [SpanCase] = [
        .init(.nyPlain, "2026-01-09T16:00:00-05:00", "2026-01-12T10:00:00-05:00", 2 * hour, "Fri 1h + Mon 1h"),
        .init(.nyPlain, "2026-01-12T10:00:00-05:00", "2026-01-09T16:00:00-05:00", -2 * hour, "reversed is negative"),
        .init(.nyPlain, "2026-01-10T00:00:00-05:00", "2026-01-12T00:00:00-05:00", 0, "a weekend is no business time"),
        .init(.nyPlain, "2026-03-06T09:00:00-05:00", "2026-03-09T17:00:00-04:00", 16 * hour, "Fri EST + Mon EDT"),
        .init(.nyPlain, "2026-10-30T09:00:00-04:00", "2026-11-02T17:00:00-05:00", 16 * hour, "Fri EDT + Mon EST"),
        .init(.ny24x7, "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 23 * hour, "spring-forward day"),
        .init(.ny24x7, "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 25 * hour, "fall-back day"),
        .init(.nyNight, "2026-03-07T00:00:00-05:00", "2026-03-08T00:00:00-05:00", 3 * hour, "an ordinary day of 01:00-04:00"),
        .init(.nyNight, "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 2 * hour, "01:00-04:00 minus the skipped 02:00-03:00"),
        .init(.nyNight, "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 4 * hour, "01:00-04:00 plus the repeated 01:00-02:00"),
        .init(.nyRepeat, "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 90 * minute, "01:30-02:00 EDT, 01:30-02:30 EST"),
        .init(.nyEarly, "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 1 * hour, "02:30-04:00 becomes 03:00-04:00 EDT"),
        .init(.nyEarly, "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 90 * minute, "02:30 only exists once on fall-back day"),
        .init(.nyOffice, "2026-12-21T00:00:00-05:00", "2026-12-28T00:00:00-05:00", 27 * hour, "Mon-Wed 8h, Thu 09-12, Christmas off"),
        .init(.nyChanging, "2026-03-03T09:00:00-05:00", "2026-03-05T09:00:00-05:00", 21 * hour, "Tue 8h old, Wed 12h new, Thu 08-09"),
        .init(.nyChanging, "2026-03-02T00:00:00-05:00", "2026-03-16T00:00:00-04:00", 82 * hour, "Mon-Tue 2 x 8h (old), Wed-Fri 3 x 12h (first change), next Mon-Fri 5 x 6h (second change)"),
        .init(.sydOffice, "2026-03-30T00:00:00+11:00", "2026-04-13T00:00:00+10:00", 64 * hour, "two weeks minus Good Friday and Easter Monday"),
        .init(.syd24x7, "2026-04-05T00:00:00+11:00", "2026-04-06T00:00:00+10:00", 25 * hour, "fall-back day"),
        .init(.syd24x7, "2026-10-04T00:00:00+10:00", "2026-10-05T00:00:00+11:00", 23 * hour, "spring-forward day"),
        .init(.sydNight, "2026-04-05T00:00:00+11:00", "2026-04-06T00:00:00+10:00", 3 * hour, "02:00-04:00 plus the repeated 02:00-03:00"),
        .init(.sydNight, "2026-10-04T00:00:00+10:00", "2026-10-05T00:00:00+11:00", 1 * hour, "02:00-04:00 minus the skipped 02:00-03:00"),
        .init(.kolkata, "2026-06-08T00:00:00Z", "2026-06-09T00:00:00Z", 9 * hour, "a UTC day holds one whole IST working day"),
        .init(.losAngeles, "2026-06-08T00:00:00Z", "2026-06-09T00:00:00Z", 9 * hour, "the UTC day runs Sun 17:00 to Mon 17:00 PDT, so it holds all of Monday"),
    ]

    @Test("business time between two instants", arguments: spans)
    func span(_ row: SpanCase) {
        let calendar = row.fixture.calendar
        #expect(calendar.businessTime(from: instant(row.from), to: instant(row.to)) == row.business, "\(row.why)")
    }

    static let openings: [OpenCase] = [
        .init(.nyPlain, "2026-01-12T09:00:00-05:00", true, "2026-01-12T09:00:00-05:00", "opening instant is open"),
        .init(.nyPlain, "2026-01-12T16:59:59-05:00", true, "2026-01-12T16:59:59-05:00", "open until the close"),
        .init(.nyPlain, "2026-01-12T17:00:00-05:00", false, "2026-01-13T09:00:00-05:00", "closing instant is closed"),
        .init(.nyPlain, "2026-01-09T18:00:00-05:00", false, "2026-01-12T09:00:00-05:00", "Friday evening"),
        .init(.nyPlain, "2026-03-07T12:00:00-05:00", false, "2026-03-09T09:00:00-04:00", "next opening is after the DST change"),
        .init(.nyOffice, "2026-12-24T12:00:00-05:00", false, "2026-12-28T09:00:00-05:00", "closure, holiday, weekend"),
        .init(.nyOffice, "2026-12-24T11:59:00-05:00", true, "2026-12-24T11:59:00-05:00", "before the noon closure"),
        .init(.nyRepeat, "2026-11-01T01:45:00-04:00", true, "2026-11-01T01:45:00-04:00", "first 01:45"),
        .init(.nyRepeat, "2026-11-01T01:15:00-05:00", false, "2026-11-01T01:30:00-05:00", "the second 01:15 is closed; opens again at the second 01:30"),
        .init(.nyRepeat, "2026-11-01T01:45:00-05:00", true, "2026-11-01T01:45:00-05:00", "second 01:45"),
        .init(.nyRepeat, "2026-11-01T02:30:00-05:00", false, "2026-11-02T01:30:00-05:00", "closed after 02:30 EST"),
        .init(.nyEarly, "2026-03-08T01:59:59-05:00", false, "2026-03-08T03:00:00-04:00", "02:30 does not exist; opens at the jump"),
        .init(.syd24x7, "2026-10-04T01:59:59+10:00", true, "2026-10-04T01:59:59+10:00", "24x7 is always open"),
        .init(.sydOffice, "2026-04-02T17:00:00+11:00", false, "2026-04-07T09:00:00+10:00", "Easter weekend with DST end"),
        .init(.kolkata, "2026-06-08T03:30:00Z", true, "2026-06-08T03:30:00Z", "09:00 IST"),
        .init(.kolkata, "2026-06-08T03:29:59Z", false, "2026-06-08T09:00:00+05:30", "08:59:59 IST"),
        .init(.losAngeles, "2026-06-08T14:59:59Z", false, "2026-06-08T08:00:00-07:00", "07:59:59 PDT"),
    ]

    @Test("isOpen and nextOpening", arguments: openings)
    func opening(_ row: OpenCase) throws {
        let calendar = row.fixture.calendar
        #expect(calendar.isOpen(at: instant(row.at)) == row.open, "\(row.why)")
        let next = try calendar.nextOpening(after: instant(row.at))
        #expect(local(next, row.fixture.zone) == local(instant(row.nextOpening), row.fixture.zone), "\(row.why)")
    }

    @Test("open periods merge contiguous pieces and follow the wall clock")
    func periods() {
        let night = Fixture.nyNight.calendar.openPeriods(from: instant("2026-10-31T00:00:00-04:00"), to: instant("2026-11-02T00:00:00-05:00"))
        #expect(night == [
            DateInterval(start: instant("2026-10-31T01:00:00-04:00"), end: instant("2026-10-31T04:00:00-04:00")),
            DateInterval(start: instant("2026-11-01T01:00:00-04:00"), end: instant("2026-11-01T04:00:00-05:00")),
        ])
        let repeated = Fixture.nyRepeat.calendar.openPeriods(from: instant("2026-11-01T00:00:00-04:00"), to: instant("2026-11-02T00:00:00-05:00"))
        #expect(repeated == [
            DateInterval(start: instant("2026-11-01T01:30:00-04:00"), end: instant("2026-11-01T01:00:00-05:00")),
            DateInterval(start: instant("2026-11-01T01:30:00-05:00"), end: instant("2026-11-01T02:30:00-05:00")),
        ])
        let always = Fixture.syd24x7.calendar.openPeriods(from: instant("2026-04-01T00:00:00Z"), to: instant("2026-04-10T00:00:00Z"))
        #expect(always == [DateInterval(start: instant("2026-04-01T00:00:00Z"), end: instant("2026-04-10T00:00:00Z"))])
    }
}
