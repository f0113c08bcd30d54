import Foundation
import Testing
import StewardCalendar

/// Checks the interval arithmetic against an independent oracle: Foundation's
/// `Calendar(identifier: .gregorian)` converting each sampled instant to wall-clock components,
/// and the written spec read directly. Every boundary in these calendars is on a whole minute and
/// every transition on a whole hour, so sampling each minute is exact.
@Suite("Oracle")
struct OracleTests {
    /// Is `date` open according to the spec text, with Foundation doing the zone conversion?
    static func oracleIsOpen(_ spec: CalendarSpec, _ date: Date) -> Bool {
        var gregorian = Calendar(identifier: .gregorian)
        gregorian.timeZone = TimeZone(identifier: spec.timezone)!
        let parts = gregorian.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: date)
        let day = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
        if spec.holidays.contains(day) { return false }
        // Foundation numbers weekdays from Sunday = 1.
        let key = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][parts.weekday! - 1]
        let applicable = spec.changes.filter { $0.from <= day }.max { $0.from < $1.from }?.hours ?? spec.hours
        let minuteOfDay = parts.hour! * 60 + parts.minute!
        func contains(_ text: String) -> Bool {
            let bounds = text.split(separator: "-").map { side -> Int in
                let hm = side.split(separator: ":").map { Int($0)! }
                return hm[0] * 60 + hm[1]
            }
            return minuteOfDay >= bounds[0] && minuteOfDay < bounds[1]
        }
        if let closure = spec.closures.first(where: { $0.date == day }), closure.closed.contains(where: contains) {
            return false
        }
        return (applicable[key] ?? []).contains(where: contains)
    }

    struct Window: Sendable, CustomTestStringConvertible {
        let fixture: Fixture
        let from: String
        let to: String
        var testDescription: String { "\(fixture) \(from) .. \(to)" }
    }

    static let windows: [Window] = [
        Window(fixture: .nyOffice, from: "2026-03-05T00:00:00Z", to: "2026-03-11T00:00:00Z"),
        Window(fixture: .nyOffice, from: "2026-10-29T00:00:00Z", to: "2026-11-04T00:00:00Z"),
        Window(fixture: .nyOffice, from: "2026-12-22T00:00:00Z", to: "2026-12-29T00:00:00Z"),
        Window(fixture: .nyNight, from: "2026-03-06T00:00:00Z", to: "2026-03-10T00:00:00Z"),
        Window(fixture: .nyNight, from: "2026-10-30T00:00:00Z", to: "2026-11-03T00:00:00Z"),
        Window(fixture: .nyRepeat, from: "2026-10-30T00:00:00Z", to: "2026-11-03T00:00:00Z"),
        Window(fixture: .nyEarly, from: "2026-03-06T00:00:00Z", to: "2026-03-10T00:00:00Z"),
        Window(fixture: .nyChanging, from: "2026-03-02T00:00:00Z", to: "2026-03-12T00:00:00Z"),
        Window(fixture: .sydOffice, from: "2026-04-01T00:00:00Z", to: "2026-04-08T00:00:00Z"),
        Window(fixture: .sydNight, from: "2026-04-03T00:00:00Z", to: "2026-04-07T00:00:00Z"),
        Window(fixture: .sydNight, from: "2026-10-02T00:00:00Z", to: "2026-10-06T00:00:00Z"),
        Window(fixture: .kolkata, from: "2026-06-04T00:00:00Z", to: "2026-06-10T00:00:00Z"),
        Window(fixture: .losAngeles, from: "2026-03-06T00:00:00Z", to: "2026-03-11T00:00:00Z"),
    ]

    @Test("isOpen and businessTime agree with Foundation's wall clock, minute by minute", arguments: windows)
    func minuteByMinute(_ window: Window) {
        let calendar = window.fixture.calendar
        let start = instant(window.from), end = instant(window.to)
        var openMinutes = 0.0
        var mismatches: [String] = []
        var t = start
        while t < end {
            let expected = Self.oracleIsOpen(window.fixture.spec, t)
            if calendar.isOpen(at: t) != expected, mismatches.count < 5 { mismatches.append(local(t, window.fixture.zone)) }
            if expected { openMinutes += 1 }
            t = t.addingTimeInterval(60)
        }
        #expect(mismatches.isEmpty, "isOpen disagrees at \(mismatches)")
        #expect(calendar.businessTime(from: start, to: end) == openMinutes * 60)
        #expect(openMinutes > 0)
    }

    @Test("deadline inverts businessTime and is the earliest such instant", arguments: [Fixture.nyOffice, .nyNight, .nyRepeat, .nyChanging, .sydOffice, .sydNight, .kolkata])
    func inverse(_ fixture: Fixture) throws {
        let calendar = fixture.calendar
        var seed: UInt64 = 0x5EED
        func next(_ bound: UInt64) -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (seed >> 33) % bound
        }
        let base = instant("2026-01-01T00:00:00Z")
        for _ in 0..<200 {
            let start = base.addingTimeInterval(Double(next(365 * 24 * 60)) * 60)
            let business = Double(next(60 * 60 * 60) + 1) // up to 60 hours, in seconds
            let due = try calendar.deadline(from: start, addingSeconds: business)
            #expect(calendar.businessTime(from: start, to: due) == business)
            // One second earlier, less than `business` has elapsed.
            #expect(calendar.businessTime(from: start, to: due.addingTimeInterval(-1)) < business)
            // The last second before the deadline is business time.
            let openJustBefore = calendar.isOpen(at: due.addingTimeInterval(-1))
            #expect(openJustBefore, "closed just before the deadline \(local(due, fixture.zone))")
        }
    }

    struct ResolveCase: Sendable, CustomTestStringConvertible {
        let zone: String
        let date: String
        let hour: Int
        let minute: Int
        let expected: LocalTimeResolution
        var testDescription: String { "\(zone) \(date) \(hour):\(minute)" }
    }

    static let resolutions: [ResolveCase] = [
        ResolveCase(zone: "America/New_York", date: "2026-03-08", hour: 2, minute: 0, expected: .skipped(transition: instant("2026-03-08T03:00:00-04:00"))),
        ResolveCase(zone: "America/New_York", date: "2026-03-08", hour: 2, minute: 30, expected: .skipped(transition: instant("2026-03-08T07:00:00Z"))),
        ResolveCase(zone: "America/New_York", date: "2026-03-08", hour: 3, minute: 0, expected: .unique(instant("2026-03-08T03:00:00-04:00"))),
        ResolveCase(zone: "America/New_York", date: "2026-03-08", hour: 1, minute: 59, expected: .unique(instant("2026-03-08T01:59:00-05:00"))),
        ResolveCase(zone: "America/New_York", date: "2026-11-01", hour: 1, minute: 30, expected: .repeated(first: instant("2026-11-01T01:30:00-04:00"), second: instant("2026-11-01T01:30:00-05:00"))),
        ResolveCase(zone: "America/New_York", date: "2026-11-01", hour: 1, minute: 0, expected: .repeated(first: instant("2026-11-01T05:00:00Z"), second: instant("2026-11-01T06:00:00Z"))),
        ResolveCase(zone: "America/New_York", date: "2026-11-01", hour: 2, minute: 0, expected: .unique(instant("2026-11-01T02:00:00-05:00"))),
        ResolveCase(zone: "Australia/Sydney", date: "2026-04-05", hour: 2, minute: 30, expected: .repeated(first: instant("2026-04-04T15:30:00Z"), second: instant("2026-04-04T16:30:00Z"))),
        ResolveCase(zone: "Australia/Sydney", date: "2026-04-05", hour: 3, minute: 0, expected: .unique(instant("2026-04-05T03:00:00+10:00"))),
        ResolveCase(zone: "Australia/Sydney", date: "2026-10-04", hour: 2, minute: 30, expected: .skipped(transition: instant("2026-10-03T16:00:00Z"))),
        ResolveCase(zone: "Asia/Kolkata", date: "2026-06-05", hour: 9, minute: 0, expected: .unique(instant("2026-06-05T03:30:00Z"))),
        ResolveCase(zone: "America/Los_Angeles", date: "2026-03-08", hour: 2, minute: 15, expected: .skipped(transition: instant("2026-03-08T10:00:00Z"))),
    ]

    @Test("local times resolve explicitly: unique, skipped or repeated", arguments: resolutions)
    func resolve(_ row: ResolveCase) throws {
        let calendar = try BusinessCalendar(timeZone: row.zone, hours: .twentyFourSeven)
        let date = try #require(LocalDate(row.date))
        let resolution = calendar.resolve(date, hour: row.hour, minute: row.minute)
        #expect(resolution == row.expected)
        // Where the time is unique, Foundation's Calendar agrees.
        if case .unique(let expected) = row.expected {
            var gregorian = Calendar(identifier: .gregorian)
            gregorian.timeZone = TimeZone(identifier: row.zone)!
            let components = DateComponents(year: date.year, month: date.month, day: date.day, hour: row.hour, minute: row.minute)
            #expect(gregorian.date(from: components) == expected)
        }
    }

    @Test("local dates agree with Foundation for weekday and day arithmetic")
    func localDates() throws {
        // From 1586 on: Foundation's Gregorian calendar switches to Julian dates before 1582,
        // LocalDate stays proleptic Gregorian.
        var gregorian = Calendar(identifier: .gregorian)
        gregorian.timeZone = TimeZone(identifier: "UTC")!
        for dayNumber in stride(from: -140_000, through: 800_000, by: 997) {
            let date = LocalDate(dayNumber: dayNumber)
            #expect(date.dayNumber == dayNumber)
            let parts = gregorian.dateComponents([.year, .month, .day, .weekday], from: Date(timeIntervalSince1970: Double(dayNumber) * 86_400))
            #expect([parts.year, parts.month, parts.day] == [date.year, date.month, date.day])
            #expect(["sun", "mon", "tue", "wed", "thu", "fri", "sat"][parts.weekday! - 1] == date.weekday.rawValue)
        }
        #expect(LocalDate("2026-03-08")?.weekday == .sun)
        #expect(LocalDate("2024-02-29") != nil)
        #expect(LocalDate("2026-02-29") == nil)
        #expect(LocalDate("2026-3-8") == nil)
        #expect(LocalDate("2026-03-08")?.description == "2026-03-08")
    }
}
