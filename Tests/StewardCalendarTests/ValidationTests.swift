import Foundation
import Testing
import StewardCalendar

/// A calendar spec that must be refused, with the error it must produce.
struct InvalidCase: Sendable, CustomTestStringConvertible {
    let name: String
    let spec: CalendarSpec
    let field: String
    let reason: CalendarError.Reason
    /// Text the message must contain (the offending value).
    let mentions: String

    var testDescription: String { name }
}

private let office = hours(weekdays, ["09:00-17:00"])

private func bad(_ name: String, hours: [String: [String]] = office, timezone: String = "America/New_York",
                 holidays: [String] = [], closures: [CalendarSpec.Closure] = [], changes: [CalendarSpec.Change] = [],
                 field: String, _ reason: CalendarError.Reason, mentions: String) -> InvalidCase {
    InvalidCase(name: name, spec: CalendarSpec(timezone: timezone, hours: hours, holidays: holidays, closures: closures, changes: changes),
                field: field, reason: reason, mentions: mentions)
}

@Suite("Validation")
struct ValidationTests {
    static let invalid: [InvalidCase] = [
        bad("unknown zone", timezone: "Mars/Olympus", field: "timezone", .unknownTimeZone("Mars/Olympus"), mentions: "'Mars/Olympus'"),
        bad("empty zone", timezone: "", field: "timezone", .unknownTimeZone(""), mentions: "unknown time zone ''"),
        bad("single-digit hour", hours: ["mon": ["9:00-17:00"]], field: "hours.mon[0]",
            .malformedInterval("9:00-17:00", detail: "'9:00' is not HH:MM"), mentions: "'9:00-17:00'"),
        bad("trailing text", hours: ["tue": ["09:00-17:00x"]], field: "hours.tue[0]",
            .malformedInterval("09:00-17:00x", detail: "'17:00x' is not HH:MM"), mentions: "'09:00-17:00x'"),
        bad("en dash", hours: ["wed": ["09:00–17:00"]], field: "hours.wed[0]",
            .malformedInterval("09:00–17:00", detail: "expected exactly one '-'"), mentions: "'09:00–17:00'"),
        bad("end before start", hours: ["mon": ["17:00-09:00"]], field: "hours.mon[0]", .endNotAfterStart("17:00-09:00"), mentions: "'17:00-09:00'"),
        bad("empty interval", hours: ["mon": ["09:00-09:00"]], field: "hours.mon[0]", .endNotAfterStart("09:00-09:00"), mentions: "'09:00-09:00'"),
        bad("hour 25", hours: ["mon": ["23:00-25:00"]], field: "hours.mon[0]",
            .malformedInterval("23:00-25:00", detail: "'25:00' is not a time of day between 00:00 and 24:00"), mentions: "'23:00-25:00'"),
        bad("past 24:00", hours: ["mon": ["00:00-24:01"]], field: "hours.mon[0]",
            .malformedInterval("00:00-24:01", detail: "'24:01' is not a time of day between 00:00 and 24:00"), mentions: "'00:00-24:01'"),
        bad("minute 60", hours: ["mon": ["09:60-10:00"]], field: "hours.mon[0]",
            .malformedInterval("09:60-10:00", detail: "'09:60' is not a time of day between 00:00 and 24:00"), mentions: "'09:60-10:00'"),
        bad("starts at 24:00", hours: ["sun": ["24:00-24:00"]], field: "hours.sun[0]",
            .malformedInterval("24:00-24:00", detail: "24:00 can only end an interval"), mentions: "'24:00-24:00'"),
        bad("overlap", hours: ["fri": ["13:00-17:00", "09:00-13:30"]], field: "hours.fri",
            .overlappingIntervals("09:00-13:30", "13:00-17:00"), mentions: "'09:00-13:30' and '13:00-17:00' overlap"),
        bad("duplicate interval", hours: ["fri": ["09:00-17:00", "09:00-17:00"]], field: "hours.fri",
            .overlappingIntervals("09:00-17:00", "09:00-17:00"), mentions: "overlap"),
        bad("long weekday name", hours: ["monday": ["09:00-17:00"]], field: "hours.monday", .unknownWeekday("monday"), mentions: "'monday'"),
        bad("capitalised weekday", hours: ["Mon": ["09:00-17:00"]], field: "hours.Mon", .unknownWeekday("Mon"), mentions: "'Mon'"),
        bad("no open hours", hours: [:], field: "hours", .noOpenHours, mentions: "no open hours"),
        bad("only empty days", hours: ["mon": [], "sat": []], field: "hours", .noOpenHours, mentions: "no open hours"),
        bad("nonexistent holiday", holidays: ["2026-12-25", "2026-02-30"], field: "holidays[1]", .malformedDate("2026-02-30"), mentions: "'2026-02-30'"),
        bad("holiday in another format", holidays: ["25/12/2026"], field: "holidays[0]", .malformedDate("25/12/2026"), mentions: "'25/12/2026'"),
        bad("bad closure date", closures: [.init(date: "2026-12-32", closed: ["12:00-24:00"])], field: "closures[0].date",
            .malformedDate("2026-12-32"), mentions: "'2026-12-32'"),
        bad("bad closure interval", closures: [.init(date: "2026-12-24", closed: ["noon-24:00"])], field: "closures[0].closed[0]",
            .malformedInterval("noon-24:00", detail: "'noon' is not HH:MM"), mentions: "'noon-24:00'"),
        bad("bad change date", changes: [.init(from: "2026-13-01", hours: office)], field: "changes[0].from",
            .malformedDate("2026-13-01"), mentions: "'2026-13-01'"),
        bad("bad interval in a change", changes: [.init(from: "2026-03-01", hours: ["tue": ["08:00-20:00", "18:00-17:00"]])],
            field: "changes[0].hours.tue[1]", .endNotAfterStart("18:00-17:00"), mentions: "'18:00-17:00'"),
        bad("unknown weekday in a change", changes: [.init(from: "2026-03-01", hours: ["weekdays": ["08:00-20:00"]])],
            field: "changes[0].hours.weekdays", .unknownWeekday("weekdays"), mentions: "'weekdays'"),
        bad("two changes on one date", changes: [.init(from: "2026-03-01", hours: office), .init(from: "2026-03-01", hours: [:])],
            field: "changes[1].from", .duplicateChangeDate("2026-03-01"), mentions: "2026-03-01"),
        bad("never open in any schedule", hours: [:], changes: [.init(from: "2026-03-01", hours: ["mon": []])],
            field: "hours", .noOpenHours, mentions: "no open hours"),
    ]

    @Test("invalid calendars are refused with the offending value named", arguments: invalid)
    func refused(_ row: InvalidCase) {
        do {
            let calendar = try BusinessCalendar(spec: row.spec)
            Issue.record("accepted an invalid calendar: \(calendar.spec)")
        } catch {
            #expect(error.field == row.field)
            #expect(error.reason == row.reason)
            #expect(error.description.contains(row.mentions), "\(error.description)")
            #expect(error.description.contains(row.field))
        }
    }

    @Test("valid edge cases are accepted")
    func accepted() throws {
        let spec = CalendarSpec(timezone: "Asia/Kolkata", hours: [
            "mon": ["00:00-24:00"],
            "tue": ["12:00-17:00", "09:00-12:00"], // touching, unsorted: fine
            "wed": [" 09:00 - 17:00 "], // spaces around the times: fine
            "sat": [],
        ])
        let calendar = try BusinessCalendar(spec: spec)
        #expect(calendar.hours[.tue].map(\.description) == ["09:00-12:00", "12:00-17:00"])
        #expect(calendar.hours[.wed].map(\.description) == ["09:00-17:00"])
        #expect(calendar.openIntervals(on: LocalDate("2026-06-09")!).map(\.description) == ["09:00-17:00"])
        #expect(calendar.isOpen(at: instant("2026-06-09T12:00:00+05:30")))
    }

    @Test("a spec decodes from JSON, validates, and encodes back")
    func codable() throws {
        let json = """
        {
          "timezone": "America/New_York",
          "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                    "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
          "holidays": ["2026-12-25", "2026-11-26"],
          "closures": [{"date": "2026-12-24", "closed": ["12:00-24:00"]}],
          "changes": [{"from": "2027-01-04", "hours": {"mon": ["08:00-16:00"]}}]
        }
        """
        let calendar = try JSONDecoder().decode(BusinessCalendar.self, from: Data(json.utf8))
        #expect(try calendar.deadline(from: instant("2026-12-24T10:00:00-05:00"), adding: .seconds(4 * 3600))
                == instant("2026-12-28T11:00:00-05:00"))
        // From Mon 2027-01-04 only Mondays 08:00-16:00 are open.
        #expect(try calendar.nextOpening(after: instant("2027-01-04T16:00:00-05:00")) == instant("2027-01-11T08:00:00-05:00"))
        let encoded = try JSONEncoder().encode(calendar)
        let again = try JSONDecoder().decode(BusinessCalendar.self, from: encoded)
        #expect(again.spec == calendar.spec)
        #expect(calendar.spec.holidays == ["2026-11-26", "2026-12-25"])

        let minimal = try JSONDecoder().decode(CalendarSpec.self, from: Data(#"{"timezone": "UTC", "hours": {"sun": ["00:00-24:00"]}}"#.utf8))
        #expect(minimal.holidays.isEmpty && minimal.changes.isEmpty && minimal.closures.isEmpty)
    }

    @Test("a JSON calendar with a bad value fails decoding with the calendar's message")
    func codableError() {
        let json = #"{"timezone": "Europe/Paris", "hours": {"mon": ["09:00-17:00", "16:00-18:00"]}}"#
        do {
            _ = try JSONDecoder().decode(BusinessCalendar.self, from: Data(json.utf8))
            Issue.record("decoded an overlapping calendar")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription == "calendar hours.mon: intervals '09:00-17:00' and '16:00-18:00' overlap")
            #expect((context.underlyingError as? CalendarError)?.reason == .overlappingIntervals("09:00-17:00", "16:00-18:00"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
