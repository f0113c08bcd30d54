import Foundation

/// How a local date and wall-clock time maps to real instants in a time zone.
public enum LocalTimeResolution: Sendable, Equatable {
    /// The wall clock shows this time exactly once.
    case unique(Date)
    /// The wall clock jumps over this time (spring forward); `transition` is the instant of the
    /// jump, i.e. the first real instant after the skipped wall-clock time.
    case skipped(transition: Date)
    /// The wall clock shows this time twice (fall back): first before the transition, then after.
    case repeated(first: Date, second: Date)
}

/// A stretch of real time during which the zone's UTC offset is constant: `[start, end)`.
struct OffsetSegment {
    var start: Double
    var end: Double
    var offset: Double
}

/// Seconds in a day of wall-clock ("naive local") time.
let secondsPerDay = 86_400.0

extension BusinessCalendar {
    /// The local date and seconds after local midnight of an instant, in the calendar's zone.
    public func localDateTime(of date: Date) -> (date: LocalDate, secondsIntoDay: Double) {
        let naive = date.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: date))
        let day = (naive / secondsPerDay).rounded(.down)
        return (LocalDate(dayNumber: Int(day)), naive - day * secondsPerDay)
    }

    /// Maps a local date and wall-clock time to the real instant(s) showing it, saying explicitly
    /// when the time does not exist (spring forward) or exists twice (fall back).
    ///
    /// `Calendar.date(from:)` makes a silent choice in both cases (it moves a skipped time forward
    /// by the gap and picks the first of two repeated instants); business-time arithmetic never
    /// relies on that choice, it works on the zone's offset segments directly.
    public func resolve(_ date: LocalDate, hour: Int, minute: Int, second: Int = 0) -> LocalTimeResolution {
        let naive = Double(date.dayNumber) * secondsPerDay + Double(hour * 3600 + minute * 60 + second)
        // UTC offsets lie within -12 h ... +14 h; a 2-day window around the naive time covers them.
        var candidates: [Double] = []
        var jump: Double?
        for segment in offsetSegments(from: naive - 2 * secondsPerDay, to: naive + 2 * secondsPerDay) {
            let instant = naive - segment.offset
            if instant >= segment.start && instant < segment.end {
                candidates.append(instant)
            } else if jump == nil, segment.start + segment.offset > naive, candidates.isEmpty {
                // The first segment whose wall clock starts past `naive` begins at the jump over it.
                jump = segment.start
            }
        }
        switch candidates.count {
        case 0: return .skipped(transition: Date(timeIntervalSince1970: jump ?? naive))
        case 1: return .unique(Date(timeIntervalSince1970: candidates[0]))
        default:
            return .repeated(first: Date(timeIntervalSince1970: candidates[0]),
                             second: Date(timeIntervalSince1970: candidates[candidates.count - 1]))
        }
    }

    /// The offset segments covering `[from, to)` in real time, in order; the first starts at
    /// `from` and the last ends at `to`.
    func offsetSegments(from: Double, to: Double) -> [OffsetSegment] {
        var result: [OffsetSegment] = []
        var start = from
        while start < to {
            let segment = offsetSegment(startingAt: start, limit: to)
            result.append(segment)
            start = segment.end
        }
        return result
    }

    /// The segment of constant offset that starts at `start` and ends at the zone's next offset
    /// transition (or `limit`, whichever comes first).
    func offsetSegment(startingAt start: Double, limit: Double) -> OffsetSegment {
        let date = Date(timeIntervalSince1970: start)
        let offset = Double(timeZone.secondsFromGMT(for: date))
        // Foundation reports every offset change here, not only DST (checked for Caracas 2016 and
        // Volgograd 2020, whose standard offsets changed), and nil for zones with none to come.
        let next = timeZone.nextDaylightSavingTimeTransition(after: date)?.timeIntervalSince1970 ?? .infinity
        return OffsetSegment(start: start, end: min(next, limit), offset: offset)
    }
}
